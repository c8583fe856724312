"""The mask ratio is one field of the suite (`bounds.Suite.mask_ratio`, default `sim.MASK_RATIO`):
every sub-study carries the suite's value, a bad value is refused naming the field, and a suite
with another mask ratio reaches the linear study and its records (the claims' symbol ``p``)."""

import dataclasses

import jax
import pytest

import sim
from bounds.producers import linear as linear_producer
from bounds.running.suite import SHARED_MASK_RATIO, SUITES, get_suite
from sim.studies import ConnectivityStudy
from sim.studies import linear


def test_every_suite_carries_the_paper_mask_ratio():
    assert sim.MASK_RATIO == 0.75
    for suite in SUITES.values():
        assert suite.mask_ratio == sim.MASK_RATIO
        assert all(getattr(suite, name).mask_ratio == suite.mask_ratio for name in SHARED_MASK_RATIO)


def test_another_mask_ratio_reaches_every_sub_study():
    smoke = get_suite("smoke")
    half = smoke.with_mask_ratio(0.5)
    assert all(getattr(half, name).mask_ratio == 0.5 for name in SHARED_MASK_RATIO)
    assert half.downstream == dataclasses.replace(smoke.downstream, mask_ratio=0.5)
    assert half.with_mask_ratio(sim.MASK_RATIO) == smoke  # and back


def test_a_sub_study_that_disagrees_with_the_suite_is_refused_not_rewritten():
    smoke = get_suite("smoke")
    with pytest.raises(ValueError, match=r"Suite\.downstream\.mask_ratio = 0\.5 differs from Suite\.mask_ratio = 0\.75"):
        dataclasses.replace(smoke, downstream=dataclasses.replace(smoke.downstream, mask_ratio=0.5))
    with pytest.raises(ValueError, match=r"Suite\.connectivity\.mask_ratio = 0\.75 differs from Suite\.mask_ratio = 0\.5"):
        dataclasses.replace(smoke, mask_ratio=0.5)


@pytest.mark.parametrize("value", [0.0, 1.0, 1.5, "0.5", float("nan")])
def test_a_bad_mask_ratio_is_refused_naming_the_field(value):
    with pytest.raises(ValueError, match=r"Suite\.mask_ratio = .* must be a (finite )?real number in \(0, 1\)"):
        get_suite("smoke").with_mask_ratio(value)


@pytest.mark.parametrize("make, field", [
    (lambda p: linear.theorem_study(16, n_seeds=1, mask_ratio=p), "LinearStudy.mask_ratio"),
    (lambda p: ConnectivityStudy(N=4, d=12, levels=(3, 4), n_seeds=2, mask_ratio=p), "ConnectivityStudy.mask_ratio"),
    (lambda p: dataclasses.replace(get_suite("smoke").downstream, mask_ratio=p), "DownstreamStudy.mask_ratio"),
    (lambda p: dataclasses.replace(get_suite("smoke").mar, mask_ratio=p), "MARStudy.mask_ratio"),
    (lambda p: dataclasses.replace(get_suite("smoke").heterogeneity, mask_ratio=p), "HeterogeneityStudy.mask_ratio"),
    (lambda p: sim.ShallowConfig(d=4, c=2, mask_ratio=p), "ShallowConfig.mask_ratio"),
])
def test_every_config_refuses_a_bad_mask_ratio(make, field):
    assert make(0.5).mask_ratio == 0.5
    with pytest.raises(ValueError, match=rf"{field} = 1.0 is out of range: must be a real number in \(0, 1\)"):
        make(1.0)


def test_the_suite_mask_ratio_reaches_the_linear_records():
    suite = get_suite("smoke").with_mask_ratio(0.5)
    study = linear.theorem_study(16, n_seeds=2, mask_ratio=suite.mask_ratio)
    records = linear_producer.point_records(linear.measure(study, key=jax.random.key(0), augment=False))
    assert records and {r.params["p"] for r in records if "p" in r.params} == {0.5}
    avg = linear.mask_average(linear.theorem_study(16, n_seeds=1, mask_ratio=suite.mask_ratio),
                              key=jax.random.key(1), n_masks=4)
    assert linear_producer.zero_diagonal_record(avg).params["p"] == 0.5


def test_the_linear_producer_measures_at_the_suite_mask_ratio(monkeypatch):
    # Every study the producer builds (each samples reading, N by hand, the d-sweep, the mask
    # average) is recorded instead of measured: what matters here is which p it was built with.
    built = []
    monkeypatch.setattr(linear, "measure", lambda study, **kw: built.append(study) or FakeMeasurement(study))
    monkeypatch.setattr(linear, "mask_average", lambda study, **kw: built.append(study))
    linear_producer.measure(get_suite("smoke").with_mask_ratio(0.5), key=jax.random.key(0))
    assert len(built) > 4 and {s.mask_ratio for s in built} == {0.5}


@dataclasses.dataclass(frozen=True)
class FakeMeasurement:
    study: linear.LinearStudy


def test_the_paper_suite_has_the_papers_fl_schedule_and_alphas():
    """Section 5: FL with 100 clients, 5 per round, 100 rounds of 2 local epochs; the five Dirichlet
    alphas of Fig. 2b; at least three seeds."""
    mar = get_suite("paper").mar
    assert (mar.n_clients, mar.clients_per_round, mar.rounds) == (100, 5, 100)
    assert mar.local_steps * mar.batch_size == 2 * mar.samples_per_client
    assert mar.alphas == (1e5, 1.0, 0.1, 0.01, 0.001) and mar.n_seeds >= 3
    assert get_suite("paper").name == "paper"


def test_every_suite_maps_heterogeneity_with_a_non_iid_split():
    for suite in SUITES.values():
        assert len(suite.heterogeneity.splits) >= 2 and suite.heterogeneity.regimes
