"""The heterogeneity map (``sim.studies.heterogeneity``) and its regime rule.

Statistical rule: 99% two-sided Student-t intervals of per-seed paired drops over 12 fixed
seeds (false-alarm rate 1% per interval under the null of no drop).
- Planted cost: one class per client, a one-feature bottleneck (c = 1 < k = 4) and 50 local
  steps at lr 0.1 per round. At these sizes MIM's drop measured +5.7 points, interval
  [+2.0, +9.5] over 16 seeds, so 12 seeds keep the interval above 0 (the seeds are fixed).
- Null: a Dirichlet split at alpha = 1e5 is IID up to rounding, so its drop's interval must
  contain 0.
"""

import jax
import numpy as np
import pytest

from bounds.judging import rules
from bounds.producers import heterogeneity as producer
from bounds.running.suite import get_suite
from sim.studies import heterogeneity as het
from sim.studies.heterogeneity import HeterogeneityStudy, Regime

PLANTED = Regime(c=1, local_steps=50, learning_rate=0.1, rounds=4)


@pytest.fixture(scope="module")
def planted():
    st = HeterogeneityStudy(d=16, N=4, n_clients=8, samples_per_client=64, batch_size=32, n_seeds=12,
                            probe_samples=256, regimes=(PLANTED,), alphas=(1e5,), pathological=1, fast_compile=True)
    return het.measure(st, key=jax.random.key(0, impl="rbg"))


def test_one_class_per_client_with_drift_and_a_bottleneck_costs_mim_accuracy(planted):
    _, (lo, _) = rules.mean_ci(planted.drop(PLANTED, "MIM", "1 class/client"))
    assert lo > 0


def test_a_near_iid_split_costs_nothing(planted):
    for method in het.MAP_METHODS:
        _, (lo, hi) = rules.mean_ci(planted.drop(PLANTED, method, "alpha=100000"))
        assert lo <= 0 <= hi, method


def test_the_map_reports_every_method_with_finite_numbers(planted):
    rows = het.map_table(planted, rules.mean_ci)
    assert {r["split"] for r in rows} == {"alpha=100000", "1 class/client"}
    for row in rows:
        for method in het.MAP_METHODS:
            assert np.isfinite(row[method]["iid"][0]) and np.isfinite(row[method]["drop"][0])
            assert 1.0 - 1e-6 <= row[method]["rank"] <= PLANTED.c + 1e-6


def test_the_rule_reads_the_dirichlet_split_and_is_blind_to_the_winner(planted):
    # At alpha = 1e5 nothing is lost, so no regime is selected, whichever method loses least.
    assert het.selection_split(planted) == "alpha=100000"
    assert producer.select_regime(planted) is None


def test_the_producer_emits_no_records_and_refuses_another_suites_map():
    suite = get_suite("smoke")
    exp = het.measure(suite.heterogeneity, key=jax.random.key(1, impl="rbg"))
    assert producer.judge(exp, suite) == []
    with pytest.raises(ValueError, match="heterogeneity sizes"):
        producer.judge(exp, get_suite("default"))


@pytest.mark.parametrize("field, value, match", [
    ("c", 0, "Regime.c"), ("local_steps", 0, "Regime.local_steps"), ("learning_rate", -1.0, "Regime.learning_rate"),
    ("rounds", 0, "Regime.rounds")])
def test_a_bad_regime_is_refused_naming_the_field(field, value, match):
    fields = {"c": 1, "local_steps": 1, "learning_rate": 0.1, "rounds": 1, field: value}
    with pytest.raises(ValueError, match=match):
        Regime(**fields)


@pytest.mark.parametrize("change, match", [
    ({"n_seeds": 1}, "n_seeds"), ({"alphas": (0.0,)}, "alphas"), ({"pathological": 9}, "pathological"),
    ({"regimes": ()}, "regimes"), ({"alphas": (), "pathological": None}, "no non-IID split"),
    ({"mask_ratio": 1.0}, "mask_ratio"), ({"model": "deep"}, "model")])
def test_a_bad_study_is_refused_naming_the_field(change, match):
    sizes = dict(d=8, N=2, n_clients=4, samples_per_client=32, batch_size=16, n_seeds=3, probe_samples=16,
                 regimes=(Regime(1, 1, 0.1, 1),), alphas=(0.1,), latent_k=2) | change
    with pytest.raises(ValueError, match=match):
        HeterogeneityStudy(**sizes)
