"""An objective and a reading defined here, outside the toolkit, measured by the linear study and
judged by the public judges exactly like a built-in one.

The objective is the spectral contrastive loss of HaoChen et al. (2021) in the linear setting of
Section 3.3: its stationary row space is the top-``c`` eigenspace of ``S @ S``. For a second
moment ``S`` (symmetric, positive semi-definite) that is the top-``c`` eigenspace of ``S``
itself, so the new objective must reproduce CL-similar's representabilities (Lemma A.11) and
therefore its records, number for number: an identity, not a tolerance tuned to pass. A
deliberately different objective (the Eq. 4 alignment matrix under the CL claim family) shows
the comparison can fail.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

import bounds
import sim
import theory
from bounds import judges
from bounds.running import registry
from sim.studies import linear

SPECTRAL_READING = theory.Reading(
    "cl", "spectral",
    "HaoChen et al. (2021)'s spectral contrastive loss: row(W) is the top-c eigenspace of S S (a test-defined reading)")


def spectral_matrix(S, *, p=None, H=None):
    """The linear spectral contrastive loss's matrix: ``-2 tr(W S W^T) + ||W S W^T||_F^2`` is
    minimised on the top-``c`` eigenspace of ``S``, the same as that of ``S @ S``."""
    del p, H
    return S @ S


SPECTRAL = sim.Objective("cl-spectral", family="cl", reading=(SPECTRAL_READING.axis, SPECTRAL_READING.value),
                         variant="similar", kind="alignment", matrix=spectral_matrix)


@pytest.fixture(scope="module")
def measured():
    study = linear.theorem_study(32, n_seeds=16)  # d = 32: N = 2, c = 4; the stated local probability is positive
    return linear.measure(study, key=jax.random.key(7), objectives=(*sim.BUILTIN_OBJECTIVES, SPECTRAL))


def _shape(record: bounds.Record, *, rename: tuple[str, str] = ("", ""), without: tuple[str, ...] = ()) -> tuple:
    """What a record looks like, without its numbers: fields, reading axes, params keys and the
    hypotheses' names (``rename`` = (old, new) applied to them, then ``without`` left out)."""
    row = record.to_json()
    hypotheses = {h.replace(*rename) if rename[0] else h for h in record.hypotheses} - set(without)
    return (tuple(sorted(row)), tuple(sorted(record.reading)), tuple(sorted(hypotheses)),
            tuple(sorted(record.params)), record.level, record.claim, type(record.trials))


def test_a_new_objective_is_measured_like_a_builtin(measured):
    m = measured
    assert SPECTRAL in m.objectives
    for scope in ("local", "fl"):
        r_new = m.representabilities(SPECTRAL, scope)
        r_old = m.representabilities("cl-similar", scope)
        assert r_new.shape == r_old.shape
        np.testing.assert_allclose(r_new, r_old, atol=1e-8)  # the same eigenspace (module docstring)
    assert m.augmentations(SPECTRAL) == ("expectation",)  # no sampled reading was given


def test_public_judge_on_a_new_objective_gives_the_builtin_record_shape(measured):
    m = measured
    data = m.study.data
    claim = bounds.bound_claim(SPECTRAL, "local")
    assert claim.id == "thm4.3-local-similar"  # its family and variant pick the claim
    params = {"d": data.d, "N": data.N, "A_bar": data.N, "p": 0.75, "tr_H": 1.0}
    bound = bounds.evaluate(claim, **params, C=1.0)
    p0 = bounds.stated_probability(claim, d=data.d, m=1)
    records = {}
    for objective, reading in ((SPECTRAL, SPECTRAL_READING), ("cl-similar", theory.Reading("cl", "similar"))):
        worst = sim.class_minimum(m.representabilities(objective, "local"), data.N, exclude_own=True)
        records[reading.value] = judges.lower_bound(
            claim, worst, bound, p0=p0, samples="n=d",
            hypotheses={"A.5": m.positive_local[getattr(objective, "name", objective)] >= m.study.c},
            members=np.broadcast_to(np.eye(data.N, dtype=bool), (*worst.shape, data.N)),
            reading=[reading, theory.Reading("samples", "n=d"), theory.Reading("constants", "unit")],
            statistic="min_k r_k over the other clients' class coordinates vs the bound", n_seeds=m.study.n_seeds,
            params=params)
    new, old = records["spectral"], records["similar"]
    assert _shape(new) == _shape(old)
    assert new.reading["cl"] == "spectral" and new.verdict in theory.VERDICTS
    assert (new.verdict, new.trials, new.successes, new.p_value) == (old.verdict, old.trials, old.successes, old.p_value)
    assert new.empirical == pytest.approx(old.empirical, abs=1e-8)


def test_the_producer_judges_a_new_objective_as_it_judges_a_builtin(measured):
    # The producer's own adapter (`bounds.linear.point_records`) serves any objective the study
    # measured: the new one's records mirror CL-similar's (expectation augmentation) one to one.
    records = bounds.linear.point_records(measured)

    def key(r, cl):
        return (r.claim, r.source, tuple(sorted({**r.reading, "cl": cl}.items())))

    mine = {key(r, "spectral"): r for r in records if r.reading.get("cl") == "spectral"}
    theirs = {key(r, "spectral"): r for r in records if r.reading.get("cl") == "similar"
              and r.reading.get("augmentation", "expectation") == "expectation"}
    # Its lower bounds (local, FL) and its Theorem 4.4 comparisons with every MIM reading and sensitivity.
    assert len(mine) == 20 and set(mine) == set(theirs)
    # The one difference: Assumption A.5 at population is derived by sympy (`theory.population_limit`)
    # for the objectives theory knows; a new objective has no such limit (nor has CL-dissimilar),
    # so its records check A.5 on the sampled matrices only. Comparison records name each
    # side's hypotheses by its reading value.
    at_population = ("A.5 (population)", "A.5 (population) (spectral)")
    for k, a in mine.items():
        b = theirs[k]
        assert not set(at_population) & set(a.hypotheses)
        assert _shape(a) == _shape(b, rename=("(similar)", "(spectral)"), without=at_population)
        assert (a.verdict, a.trials, a.successes) == (b.verdict, b.trials, b.successes), k
        assert a.empirical == pytest.approx(b.empirical, abs=1e-8)


def test_a_different_objective_is_told_apart(measured):
    # Eq. 4's zero-diagonal matrix under the CL family: its local r_k are not CL-similar's, so the
    # identity above is a real check (it can fail).
    impostor = sim.Objective("cl-impostor", family="cl", reading=("cl", "impostor"), variant="similar",
                             kind="alignment", matrix=sim.get_objective("mim-alignment").matrix, uses_mask_ratio=True)
    m = linear.measure(measured.study, key=jax.random.key(7), objectives=(sim.get_objective("cl-similar"), impostor))
    gap = np.max(np.abs(m.representabilities(impostor, "local") - m.representabilities("cl-similar", "local")))
    assert gap > 0.1


def test_an_added_lower_bound_claim_is_judged_without_touching_a_producer(measured, monkeypatch):
    # A second local MIM lower bound (same family, scope and variant as Theorem 4.2's), installed
    # through the entry-point group dssl_bounds.claims: the linear producer judges every
    # objective's model against it too. Its statement is the paper's, so its records repeat
    # Theorem 4.2's numbers under the new id and source.
    from importlib import metadata

    from theory import registry

    paper = theory.get_claim("thm4.2-local")
    added = dataclasses.replace(paper, id="thm4.2-local-again", source="Theorem 4.2 restated by an extension")
    real = metadata.entry_points
    monkeypatch.setattr(registry.importlib.metadata, "entry_points", lambda *, group: (
        [_Entry(added)] if group == theory.CLAIM_GROUP else real(group=group)))
    assert [c.id for c in bounds.bound_claims("mim-alignment", "local")] == ["thm4.2-local", added.id]
    records = bounds.linear.point_records(measured)
    theirs = [r for r in records if r.claim == paper.id]
    mine = [r for r in records if r.claim == added.id]
    assert len(mine) == len(theirs) > 0
    for a, b in zip(mine, theirs):
        assert a.source == b.source.replace(paper.source, added.source)
        assert (a.reading, a.verdict, a.trials, a.successes, a.bound, a.empirical) == \
            (b.reading, b.verdict, b.trials, b.successes, b.bound, b.empirical)


@dataclasses.dataclass(frozen=True)
class _Entry:
    """An installed entry point's face (``name`` and ``load``) for an object of this module."""

    value: object
    name: str = "extension"

    def load(self):
        return self.value


def test_every_registered_producer_goes_to_a_worker_process_by_name():
    # The parallel runner pickles each producer into a spawned worker; a producer module (which
    # may carry its own ``name``) cannot be pickled, so it travels by its registered name.
    import pickle

    for name in registry.producer_names():
        producer = pickle.loads(pickle.dumps(registry.load_producer(name)))
        assert producer.name == name
