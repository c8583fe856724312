"""Verdicts of the connectivity producer (bounds.producers.distributed) that mean what they say.

Checks: a non-positive stated probability ``1 - (m/2) e^{-d^{1/10}}`` or a failed Assumption A.5
gives ``vacuous`` (never ``inconclusive``), naming the reason; every binomial record carries
trials, successes, p-value, CI and power; neighbourhood trials tested together are built from
pairwise disjoint client sets (independent); each seed draws its own transform ``H``; a diverged
training run becomes an ``inconclusive`` record and a marked table cell, never a traceback or a
NaN in a note; a statistic that a tie at ``c`` leaves to the eigen-solver is ``inconclusive``;
``ConnectivityStudy`` rejects bad fields at construction.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest

import bounds
from bounds import judges
from bounds.producers import distributed
from figures import fig2a_connectivity, table6
from sim.studies import connectivity
from sim.studies.connectivity import ConnectivityStudy

matplotlib.use("Agg")

# N = 8, d = 16: the stated probability of a global model (m = 8) is 1 - 4 e^{-16^{1/10}} < 0,
# that of a neighbourhood of 3 clients 1 - 1.5 e^{-16^{1/10}} = 0.60 > 0.
STUDY = ConnectivityStudy(N=8, d=16, levels=(3, 8), n_seeds=4, rounds=3, local_steps=2,
                          train_objectives=("cl-similar",), samples=("n=d", "population"))
BINOMIAL_CLAIMS = ("thm4.2-decl", "thm4.3-decl-similar", "thm4.3-decl-dissimilar", "thm4.2-fl", "thm4.3-fl-similar")


@pytest.fixture(scope="module")
def closed():
    return {s: connectivity.measure(STUDY, key=jax.random.key(3), train=False, samples=s) for s in STUDY.samples}


@pytest.fixture(scope="module")
def diverged():
    bad = dataclasses.replace(STUDY, learning_rate=1e12)
    return (connectivity.measure(bad, key=jax.random.key(4), train=True),
            connectivity.consensus(dataclasses.replace(bad, n_seeds=2), key=jax.random.key(5)))


def test_non_positive_probability_is_vacuous(closed):
    recs = distributed.decl_bound_records(closed["n=d"], ("objective-eq1",))
    assert recs
    for r in recs:
        assert r.verdict == "vacuous", r
        assert r.hypotheses["probability > 0"] is False and "<= 0 for every trial" in r.note
        assert r.trials is None and r.power is None


def test_population_alignment_matrix_fails_a5(closed):
    # Eq. 4's exact population matrix has fewer than c positive eigenvalues (its class block
    # is ∝ J - I off the diagonal, the noise block vanishes): the minimiser has rank W < c.
    sw = closed["population"]
    assert np.all(sw.positive["per-neighbourhood"]["mim-alignment"] < STUDY.c)
    assert np.all(sw.positive["per-neighbourhood"]["cl-similar"] >= STUDY.c)
    recs = [r for r in distributed.decl_bound_records(sw, ("per-neighbourhood",)) if r.reading.get("mim") == "alignment-exact"]
    assert recs and all(r.verdict == "vacuous" and r.hypotheses["A.5"] is False and "A.5" in r.note for r in recs)
    assert all(r.reading["samples"] == "population" for r in recs)
    for r in distributed.cor45_records(sw, ("per-neighbourhood",)):
        if r.reading.get("mim") == "alignment-exact":
            assert r.verdict == "vacuous" and "A.5" in r.note


def test_binomial_records_carry_counts_and_power(closed):
    recs = [r for r in distributed.decl_bound_records(closed["n=d"], ("per-neighbourhood",)) if r.verdict != "vacuous"]
    assert recs
    for r in recs:
        assert r.trials >= 1 and 0 <= r.successes <= r.trials and r.p_value is not None
        assert 0 <= r.ci[0] <= r.ci[1] <= 1 and 0 <= r.power <= 1
        assert all(r.hypotheses.values()) and "power" in r.note


def test_neighbourhood_trials_are_disjoint(closed):
    sw = closed["n=d"]
    idx = sw.graphs.index("general")
    sizes = sw.graphs.sizes[:, idx]
    members = sw.graphs.weights[:, idx] > 0
    shape = sizes.shape
    p0 = bounds.stated_probability(bounds.bound_claim("cl-similar", "decl"), d=STUDY.d, m=sizes)
    picks = judges.independent_trials(p0 > 0, p0, priority=sw.trial_priority[:, idx], members=members)
    assert len(picks) > STUDY.n_seeds  # more than one trial per seed
    for seed in range(STUDY.n_seeds):
        chosen = [members[seed].reshape(-1, STUDY.N)[i] for s, i in picks if s == seed]
        assert chosen and np.all(np.sum(chosen, axis=0) <= 1)  # each client in at most one chosen model


def test_one_transform_per_seed(closed):
    tr_H = closed["n=d"].tr_H
    assert tr_H.shape == (STUDY.n_seeds,) and np.all(tr_H > 0) and np.unique(tr_H).size == STUDY.n_seeds
    np.testing.assert_array_equal(tr_H, closed["population"].tr_H)  # samples readings are paired


def test_divergence_becomes_inconclusive(diverged, closed, tmp_path):
    tr, cons = diverged
    assert all(np.all(v) for v in tr.diverged.values()) and all(np.all(v) for v in tr.fedavg_diverged.values())
    recs = (distributed.decl_bound_records(tr, ("gossip",)) + distributed.cor45_records(tr, ("gossip",))
            + distributed.thm46_records(tr, ("gossip",)) + distributed.fedavg_bound_records(tr))
    assert recs
    for r in recs:
        assert r.verdict in ("inconclusive", "vacuous"), r
        assert "nan" not in r.note.lower() and "diverged" in r.note
    assert any(r.verdict == "inconclusive" for r in recs)
    assert all(np.all(row.diverged) and np.all(np.isnan(row.s_class)) for row in cons.rows if row.rule != "fl")
    measurement = distributed.Measurement(closed["n=d"], tr, cons)
    (md, _png) = table6.make(measurement, [], tmp_path)
    text = md.read_text()
    assert "diverged" in text and "nan" not in text.lower()
    assert fig2a_connectivity.make(measurement, [], tmp_path)[0].exists()


def test_population_ties_at_c_are_inconclusive_not_judged():
    # d = 40 > c = 16: the population moments tie noise-coordinate eigenvalues across c (class
    # symmetry), so the top-c eigenspace is a family. "paper-c" reads r_k for k < c, inside the
    # tie: its records must be inconclusive, naming why; "class" reads the class coordinates,
    # orthogonal to the tied eigenspace here, and is judged. At n = d nothing is tied.
    study = dataclasses.replace(STUDY, d=40, samples=("n=d", "population"))
    pop = connectivity.measure(study, key=jax.random.key(3), train=False, samples="population")
    sample = connectivity.measure(study, key=jax.random.key(3), train=False, samples="n=d")
    for reading in distributed.CLOSED_READINGS:
        for obj in ("mim-surrogate", "cl-similar"):
            assert not pop.determined(reading, obj, "paper-c").any()
            assert pop.determined(reading, obj, "class").all()
            assert all(sample.determined(reading, obj, v).all() for v in connectivity.SENSITIVITIES)
    recs = (distributed.cor45_records(pop, distributed.CLOSED_READINGS)
            + distributed.thm46_records(pop, distributed.CLOSED_READINGS))
    tied = [r for r in recs if r.reading.get("mim") == "paper-surrogate" or r.reading.get("cl") == "similar"]
    by_variant = {v: [r for r in tied if r.reading["sensitivity"] == v] for v in ("paper-c", "class")}
    assert len(by_variant["paper-c"]) == len(by_variant["class"]) == 16  # 2 claims x 2 readings x 2 objectives x 2 kinds
    for r in by_variant["paper-c"]:
        assert r.verdict == "inconclusive" and "not unique" in r.note and "eigen-solver" in r.note, r
    for r in by_variant["class"]:
        assert r.verdict != "inconclusive" and "not unique" not in r.note, r


@pytest.mark.parametrize("field, value", [
    ("N", 1), ("N", True), ("N", 4.5), ("d", 6), ("c", 3), ("c", 99), ("mask_ratio", 0.0), ("mask_ratio", 1.5),
    ("mask_ratio", "0.5"),
    ("n_seeds", 1), ("rounds", 0), ("local_steps", 2.7), ("learning_rate", -1.0), ("learning_rate", math.inf),
    ("levels", (2, 4)), ("levels", (3, 3, 4)), ("levels", (3,)), ("levels", "34"), ("levels", (3, 4.5)),
    ("transform", "rotation"), ("train_objectives", ("mim-reconstruction",)), ("train_objectives", ()),
    ("fl_clients_per_round", 9), ("samples", ("n=d^3",)), ("samples", "n=d"),
])
def test_study_rejects_bad_fields_at_construction(field, value):
    base = dict(N=4, d=12, levels=(3, 4), n_seeds=2)
    with pytest.raises(ValueError, match=f"ConnectivityStudy.{field} = "):
        ConnectivityStudy(**{**base, field: value})


def test_study_accepts_numpy_and_jax_integers():
    study = ConnectivityStudy(N=np.int64(4), d=jnp.int32(12), levels=(np.int32(3), 4.0), n_seeds=jnp.asarray(2))
    assert (study.N, study.d, study.levels, study.n_seeds, study.c) == (4, 12, (3, 4), 2, 8)
    assert all(type(v) is int for v in (study.N, study.d, study.n_seeds, *study.levels))
