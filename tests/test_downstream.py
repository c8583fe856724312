"""Linear probe, the downstream records (Table 1 / Table 5 analogues) and their figures."""

import dataclasses
import importlib
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import theory
from bounds.producers import downstream

from bounds.running import ledger, suite

from bounds.judging import rules
from bounds.judging.records import VERDICTS
from sim.models.probe import linear_probe
from sim.studies import downstream as study

KEY = jax.random.key(0)
SMOKE = suite.get_suite("smoke")


def _clusters(key, n, n_classes, d, spread):
    """Gaussian classes with unit noise around means ``spread`` apart on orthogonal axes."""
    ky, kx = jax.random.split(key)
    y = jax.random.randint(ky, (n,), 0, n_classes)
    x = spread * jax.nn.one_hot(y, d) + jax.random.normal(kx, (n, d))
    return x, y


@pytest.mark.parametrize("method", ["logistic", "ridge"])
def test_probe_separates_separable_data(method):
    """Means 12 noise-sigmas apart: the Bayes error is below 1e-8, so a linear probe must score 1."""
    x, y = _clusters(KEY, 400, 4, 6, 12.0)
    xt, yt = _clusters(jax.random.key(1), 400, 4, 6, 12.0)
    assert float(linear_probe(x, y, xt, yt, n_classes=4, method=method)) == 1.0


def test_probe_is_at_chance_on_unrelated_labels():
    """Labels independent of the features: test accuracy ~ Binomial(n, 1/C)/n; within 5 standard errors."""
    C, n = 4, 2000
    x = jax.random.normal(KEY, (n, 5))
    y = jax.random.randint(jax.random.key(1), (n,), 0, C)
    yt = jax.random.randint(jax.random.key(2), (n,), 0, C)
    acc = float(linear_probe(x, y, jax.random.normal(jax.random.key(3), (n, 5)), yt, n_classes=C))
    assert abs(acc - 1 / C) < 5 * math.sqrt((1 / C) * (1 - 1 / C) / n)


def test_probe_batches_over_leading_axes():
    xs, ys = zip(*(_clusters(jax.random.key(s), 60, 3, 4, 1.5) for s in range(3)))
    x, y = jnp.stack(xs), jnp.stack(ys)
    batched = linear_probe(x, y, x, y, n_classes=3)
    single = [float(linear_probe(x[i], y[i], x[i], y[i], n_classes=3)) for i in range(3)]
    np.testing.assert_allclose(batched, single, atol=1e-12)


def test_probe_rejects_bad_input():
    x, y = _clusters(KEY, 20, 2, 3, 3.0)
    with pytest.raises(ValueError, match="non-finite"):
        linear_probe(x.at[0, 0].set(jnp.nan), y, x, y, n_classes=2)
    with pytest.raises(ValueError, match="non-finite"):
        linear_probe(x, y, x.at[1, 1].set(jnp.inf), y, n_classes=2)
    with pytest.raises(ValueError, match="method"):
        linear_probe(x, y, x, y, n_classes=2, method="knn")
    with pytest.raises(ValueError, match="labels"):
        linear_probe(x, y + 5, x, y, n_classes=2)
    with pytest.raises(ValueError, match="shapes"):
        linear_probe(x, y[:-1], x, y, n_classes=2)


def test_difference_rule():
    assert rules.mean_difference([0.10, 0.12, 0.09, 0.11]).verdict == "holds"
    assert rules.mean_difference([-0.10, -0.12, -0.09, -0.11]).verdict == "fails"
    assert rules.mean_difference([0.10, -0.12, 0.09, -0.11]).verdict == "inconclusive"
    mean, (lo, hi) = rules.mean_ci([1.0, 3.0])
    half = 63.65674116287399 * math.sqrt(2.0) / math.sqrt(2)  # t_{0.995, 1} * sd / sqrt(n)
    assert mean == 2.0 and lo == pytest.approx(2.0 - half) and hi == pytest.approx(2.0 + half)


def test_reported_table1_records_by_hand():
    rows = {(r["dataset"], r["backbone"], r["skew"]): r for r in downstream.reported_drops()}
    assert len(rows) == 12
    cell = rows[("CIFAR-10", "CNN", "label")]
    assert cell["simsiam_drop"] == pytest.approx(86.03 - 84.33) and cell["mae_drop"] == pytest.approx(87.28 - 86.97)
    cell = rows[("CIFAR-100", "ViT", "feature")]
    assert cell["simsiam_drop"] == pytest.approx(48.60 - 43.07) and cell["mae_drop"] == pytest.approx(50.04 - 49.60)


@pytest.fixture(scope="module")
def smoke_experiment():
    return downstream.measure(SMOKE, key=ledger.producer_key(0, "downstream"))


@pytest.fixture(scope="module")
def smoke_records(smoke_experiment):
    return downstream.judge(smoke_experiment, SMOKE)


def test_records_cover_both_levels(smoke_records):
    st = SMOKE.downstream
    by = {}
    for r in smoke_records:
        assert r.verdict in VERDICTS and r.statistic
        # a theory claim (Section 5's experiments), whose source the record's source extends
        claim = theory.get_claim(r.claim)
        assert claim.family == "experiment" and r.source.startswith(claim.source)
        by.setdefault((r.claim, r.level), []).append(r)
    n_dm = len(st.data_models)
    assert n_dm == 2
    assert len(by[(downstream.TABLE1, "simulation")]) == 2 * len(st.models) * n_dm
    assert len(by[(downstream.TABLE1, "reported")]) == 12
    assert len(by[(downstream.TABLE5, "simulation")]) == 4 * len(st.models) * n_dm
    assert len(by[(downstream.TABLE5, "reported")]) == 3
    assert len(by[(downstream.SENSITIVITY, "simulation")]) == 3
    # The paper's own numbers: MAE's drop is below SimSiam's in all 12 cells of Table 1, and its
    # Table 5 distances are below SimSiam's in all 3 columns.
    assert all(r.verdict == "holds" for r in by[(downstream.TABLE1, "reported")])
    assert all(r.verdict == "holds" for r in by[(downstream.TABLE5, "reported")])
    for r in by[(downstream.TABLE1, "simulation")]:
        assert r.n_seeds == st.n_seeds and r.params["suite"] == "smoke"
        assert r.to_json()["reading"] == {"mim": "mae", "cl": "simsiam"}
        # the untrained encoders' accuracy is beside every trained one
        assert set(r.params["untrained_accuracy"]) == {"MIM", "CL"} and "untrained" in r.note
    assert {r.params["data_model"] for r in by[(downstream.TABLE1, "simulation")]} == {"paper", "latent"}


def test_both_data_models_share_one_compiled_program_and_the_splits(smoke_experiment):
    paper, latent = smoke_experiment["paper"], smoke_experiment["latent"]
    assert study._experiment_program(study._program_key(SMOKE.downstream))._cache_size() == 1
    np.testing.assert_array_equal(paper.counts, latent.counts)  # same key: paired splits
    assert not np.allclose(paper.probe_x, latent.probe_x)


def test_experiment_is_consistent_and_does_not_recompile(smoke_experiment):
    exp = smoke_experiment["paper"]
    st = exp.study
    for cell, acc in exp.accuracy.items():
        assert acc.shape == (st.n_seeds,) and np.all((acc >= 0) & (acc <= 1))
        assert exp.distances[cell].shape == (st.n_seeds, 3) and np.all(exp.distances[cell] >= 0)
    assert exp.heterogeneity["iid"]["tv_distance"] == 0.0 and exp.heterogeneity["label"]["tv_distance"] > 0.3
    other = study.measure(st, key=ledger.producer_key(1, "downstream"))
    assert not np.array_equal(other.accuracy[("MIM", "linear", "iid")], exp.accuracy[("MIM", "linear", "iid")])
    assert study._experiment_program(study._program_key(st))._cache_size() == 1


def test_same_key_same_experiment(smoke_experiment):
    exp = smoke_experiment["latent"]
    again = study.measure(SMOKE.downstream, key=exp.key, data_model="latent")
    leaves, tree = jax.tree_util.tree_flatten(exp)
    leaves_again, tree_again = jax.tree_util.tree_flatten(again)
    assert tree == tree_again
    for a, b in zip(leaves, leaves_again):
        a, b = (jax.random.key_data(v) if jax.dtypes.issubdtype(getattr(v, "dtype", None), jax.dtypes.prng_key)
                else v for v in (a, b))
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_bad_key_and_mismatched_suite(smoke_experiment):
    with pytest.raises(ValueError, match="key"):
        study.measure(SMOKE.downstream, key=0)
    with pytest.raises(ValueError, match="data_model"):
        study.measure(SMOKE.downstream, key=jax.random.key(0), data_model="cifar")
    with pytest.raises(ValueError, match="data_models"):
        dataclasses.replace(SMOKE.downstream, data_models=("paper", "imagenet"))
    with pytest.raises(ValueError, match="suite"):
        downstream.judge(smoke_experiment, suite.get_suite("default"))


@pytest.mark.parametrize("name", ["fig1_data", "fig3_features", "table1", "table5"])
def test_figures_write_their_files(name, tmp_path, smoke_experiment):
    module = importlib.import_module(f"figures.{name}")
    assert module.PRODUCER == "downstream"
    paths = module.make(smoke_experiment, downstream.judge(smoke_experiment, SMOKE), tmp_path)
    assert paths and all(p.exists() and p.stat().st_size > 0 for p in paths)
    for p in paths:
        if p.suffix == ".md":
            text = p.read_text()
            assert "| reported |" in text and "| simulation |" in text and "nan" not in text.lower()


def _diverged(exp):
    """``exp`` with its first seed's MIM runs marked diverged (NaN accuracy, distances and
    parameters), as the study reports a run whose loss went non-finite."""
    cells = [c for c in exp.accuracy if c[0] == "MIM"]
    nan_first = lambda a: np.where(np.arange(a.shape[0]).reshape((-1,) + (1,) * (a.ndim - 1)) == 0, np.nan, a)  # noqa: E731
    models = {pair: jax.tree_util.tree_map(lambda a: np.full(np.shape(a), np.nan), m) if pair[0] == "MIM" else m
              for pair, m in exp.models.items()}
    return dataclasses.replace(
        exp, accuracy={c: nan_first(a) if c in cells else a for c, a in exp.accuracy.items()},
        distances={c: nan_first(a) if c in cells else a for c, a in exp.distances.items()},
        diverged={c: 1 if c in cells else 0 for c in exp.diverged}, models=models)


def test_diverged_runs_become_inconclusive_and_figures_mark_them(tmp_path, smoke_experiment):
    broken = {name: _diverged(exp) for name, exp in smoke_experiment.items()}
    records = downstream.judge(broken, SMOKE)
    sim = [r for r in records if r.level == "simulation" and r.claim in (downstream.TABLE1, downstream.TABLE5)]
    assert sim and all(r.verdict == "inconclusive" and "diverged" in r.note for r in sim)
    assert not any("nan" in r.note.lower() for r in records)
    for name in ("fig3_features", "table1", "table5"):
        paths = importlib.import_module(f"figures.{name}").make(broken, records, tmp_path)
        for p in paths:
            assert p.stat().st_size > 0
            if p.suffix == ".md":
                assert "nan" not in p.read_text().lower() and "**inconclusive**" in p.read_text()



@pytest.mark.parametrize("gain, verdict, phrase", [
    (-0.10, "holds-trivially", "below its untrained"),  # shown to have learned nothing: nothing to lose
    (0.00, "holds", "not shown to differ"),  # a non-rejection is no structural reason
    (0.10, "holds", None),
])
def test_table1_trivially_needs_the_mim_gain_shown_negative(smoke_experiment, gain, verdict, phrase):
    exp = smoke_experiment["paper"]
    S = exp.study.n_seeds
    jitter = np.linspace(-0.01, 0.01, S)  # spread, so every interval has a width
    acc, untrained = dict(exp.accuracy), dict(exp.untrained)
    for model in exp.study.models:
        untrained[("MIM", model)] = np.full(S, 0.5)
        acc[("MIM", model, "iid")] = 0.5 + gain + jitter
        for skew in study.SKEWS[1:]:
            acc[("MIM", model, skew)] = acc[("MIM", model, "iid")] - 0.01  # MIM drops 0.01, CL 0.2
            acc[("CL", model, "iid")] = np.full(S, 0.8)
            acc[("CL", model, skew)] = 0.6 + jitter
    recs = downstream.table1_records(dataclasses.replace(exp, accuracy=acc, untrained=untrained), reported=False)
    assert recs and all(r.verdict == verdict for r in recs)
    assert all((phrase in r.note) if phrase else ("untrained encoder's (difference" not in r.note) for r in recs)
