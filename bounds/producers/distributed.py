"""Simulation-level records of the connectivity claims (DecL and trained FL): the judging side.

The measurements are :mod:`sim.studies.connectivity`'s (closed-form DecL readings on
``suite.connectivity``, gossip- and FedAvg-trained models on ``suite.gossip``, the Table 6
analogue on ``suite.consensus``); this module turns them into records with the rules of
:mod:`bounds.judging.rules`. Claims judged, under every DecL reading (``objective-eq1``,
``per-neighbourhood``, ``gossip``) and both topology kinds:

- the DecL bounds of Theorems 4.2 and 4.3 (statement and proof signs of Theorem 4.3), and
  their FL bounds for FedAvg-trained models. A one-sided exact binomial test of the success
  rate of ``min_k r_k >= bound`` (k over the class coordinates, without the own one for a
  client's model) against the claim's stated probability ``1 - (m/2) e^{-d^{1/10}}`` for a
  model built from ``m`` client matrices (``m = N`` for a global model, ``|A_i|`` for a
  neighbourhood model), with its power against a rate 0.1 lower; at ``population`` (the matrix
  fixed given the trial's graph and ``H``) the bound must hold on every trial
  (`bounds.judging.rules.every_trial`, the same test at ``p0 = 1``). Only independent trials are
  tested: seeds are independent, and within a seed models on pairwise disjoint client sets
  (each client's data is independent of the others' and of the graphs), so a seed gives one
  trial of a global model and several disjoint neighbourhood models (smallest ``|A_i|`` first).
  Hypotheses are checked per trial: stated probability > 0, Assumption A.1 (``2 <= |A_i| <=
  N``, connected graph), A.5 (``c`` positive eigenvalues of the matrix the model is fitted to),
  A.9 (``tr(P H_sym P) > 0``, dissimilar CL); only trials where all hold are tested, and a
  record with none is ``vacuous``, naming the failed hypothesis (the probability is positive
  only for ``d > (ln(m/2))^{10}``: ~4200 at ``m = 20``, ~120 at ``m = 10``). Diverged trained
  runs are left out; a record with nothing left is ``inconclusive``.
- Corollary 4.5 (``s`` decreases in ``|Ā|``) and Theorem 4.6 (``s_Dec >= s_Fed``): Bonferroni
  sign tests over seeds of per-seed differences, one per consecutive ``|Ā|`` pair (Corollary
  4.5) or per ``|Ā| < N`` level (Theorem 4.6). Exact identities (every difference within
  rounding) are reported as such: a sensitivity identical at every ``|Ā|`` fails the claimed
  decrease (``holds-trivially`` when it is 0 throughout, the surrogate's binary ``r_k``);
  ``s_Dec = s_Fed`` exactly gives ``holds-trivially`` for Theorem 4.6.
- Theorem 4.4 (DecL, ``s^C > s^M``): sign test over seeds of the per-seed mean over the DecL
  graphs (one transform ``H`` drawn per seed).
- The paired-difference claims use the seeds on which every model satisfies A.5 (and A.9) and
  no run diverged; none -> ``vacuous`` (A.5) or ``inconclusive`` (divergence).
- A closed-form model is a top-c eigenspace; where an eigenvalue is tied at c (the population
  moments' class symmetry gives such ties) its stationary points form a family, and an r_k
  that varies over it by more than 1e-6 is the eigen-solver's pick, not the model's
  (``Sweep.determined``, per statistic: the class coordinates for Theorems 4.2 / 4.3 and the
  ``proof`` / ``class`` sensitivities, ``k < c`` for ``paper-c``). Such trials and seeds are
  left out like diverged runs; a record with none left is ``inconclusive``.
- Closed-form readings are judged under every samples reading of ``suite.connectivity.samples``
  (``n = d``, ``population``, ...; ``reading["samples"]``), trained ones at ``n = d``.
- The Eq. 1 minimiser on a regular graph is FL's: identity to 1e-8 on every regular graph.

The Table 6 analogue is measured (for its table) but not judged: the paper reports
fine-tuning accuracies, a quantity the linear study does not produce.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import zlib
from typing import Mapping

import jax
import numpy as np

import theory
from bounds.judging import rules
from bounds.judging.readings import CL_VARIANTS, MIM_READINGS, bound_claim, paper_c_note, reading_of
from bounds.judging.records import Record
from bounds.running.suite import Suite
from sim import class_minimum, is_binary
from sim.studies import connectivity as study
from sim.studies.connectivity import SENSITIVITIES, TOPOLOGY_KINDS, Consensus, Sweep

#: The closed-form DecL readings; ``gossip`` is the trained one.
CLOSED_READINGS: tuple[str, ...] = ("objective-eq1", "per-neighbourhood")
#: Eq. 1's minimiser equals FL's up to eigen-solver rounding on a regular graph.
IDENTITY_TOLERANCE = 1e-8
#: Why a closed-form statistic that its moment does not determine (``Sweep.determined``) is not judged.
NOT_DETERMINED = ("the top-c eigenspace is not unique (an eigenvalue tied at c, e.g. by the class symmetry of a "
                  "population moment), the stationary points form a family, and an r_k the statistic reads varies over "
                  "it by more than 1e-6, so its value is the basis the eigen-solver happens to return")


@dataclasses.dataclass(frozen=True)
class Measurement:
    """What the producer measured: the closed-form sweep at ``n = d`` (``suite.connectivity``),
    the trained sweep (``suite.gossip``) and the Table 6 rows (``suite.consensus``) — what the
    figures plot — and the closed-form sweep of every samples reading of
    ``suite.connectivity.samples`` (``samples``, the ``n = d`` one included)."""

    connectivity: Sweep
    gossip: Sweep
    consensus: Consensus
    samples: Mapping[str, Sweep] = dataclasses.field(default_factory=dict)


def measure(suite: Suite, *, key: jax.Array) -> Measurement:
    """Run the three studies of ``suite``, each with its own key derived from ``key`` by name
    (the samples readings share the closed-form key: same graphs and transforms, paired)."""
    def sub(name):
        return jax.random.fold_in(key, zlib.crc32(name.encode()))

    closed = {samples: study.measure(suite.connectivity, key=sub("connectivity"), train=False, samples=samples)
              for samples in dict.fromkeys(("n=d", *suite.connectivity.samples))}
    return Measurement(closed["n=d"], study.measure(suite.gossip, key=sub("gossip"), train=True),
                       study.consensus(suite.consensus, key=sub("consensus")),
                       {s: closed[s] for s in suite.connectivity.samples})


def judge(measurement: Measurement, suite: Suite) -> list[Record]:
    """Every record of the connectivity claims (see the module docstring)."""
    out = []
    closed = measurement.samples or {"n=d": measurement.connectivity}
    for sw, readings in [*((cf, CLOSED_READINGS) for cf in closed.values()), (measurement.gossip, ("gossip",))]:
        if readings == CLOSED_READINGS:
            out.append(eq1_identity_record(sw))
        out += decl_bound_records(sw, readings)
        out += cor45_records(sw, readings)
        out += thm46_records(sw, readings)
        out += thm44_records(sw, readings)
    out += fedavg_bound_records(measurement.gossip)
    # Corollary 4.5, Theorem 4.6 and Theorem 4.4 under the paper-c sensitivity: a failure there is
    # structural when c > N (the DecL studies have c = 2N), and the note says so.
    return [dataclasses.replace(r, note=r.note + paper_c_note(r.params["c"], r.params["N"]))
            if r.reading.get("sensitivity") == "paper-c" and r.verdict == "fails" else r for r in out]


def records(suite: Suite, *, key: jax.Array) -> list[Record]:
    """``judge(measure(suite, key=key), suite)``."""
    return judge(measure(suite, key=key), suite)


# ----------------------------------------------------------------------------- helpers


def _claim(kind: str) -> theory.Claim:
    """The DecL connectivity claim of ``kind``: Corollary 4.5 (``monotone``) or the Eq. 1
    minimiser's identity on a regular graph (``identity``), which share family and scope."""
    (claim,) = [c for c in theory.CLAIMS.values() if (c.family, c.scope, c.kind) == ("connectivity", "decl", kind)]
    return claim


@functools.lru_cache(maxsize=None)
def _lambdified(claim_id: str, expr: str | None):
    claim = theory.get_claim(claim_id)
    return claim.lambdify(claim.probability if expr is None else expr, backend="numpy")


def bound_value(claim: theory.Claim, variant: str = "statement", **params) -> np.ndarray:
    """The claim's lower bound on ``r_k`` (unit constants unless ``C`` is given), vectorised over
    array parameters; parameters the expression does not use are ignored."""
    fn = _lambdified(claim.id, variant)
    value = np.asarray(fn(**{k: np.asarray(v, dtype=np.float64) for k, v in params.items() if k in fn.symbols}),
                       dtype=np.float64)
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{claim.source} ({variant}) is not finite at {params}: outside the bound's domain")
    return value


def stated_probability(claim: theory.Claim, *, d: int, m) -> np.ndarray:
    """The claim's stated success probability for a model built from ``m`` client matrices."""
    return np.asarray(_lambdified(claim.id, None)(d=np.float64(d), m=np.asarray(m, dtype=np.float64)), dtype=np.float64)


def _base_params(sw: Sweep, kind: str | None) -> dict:
    st = sw.study
    out = {"N": st.N, "d": st.d, "c": st.c, "p": st.p, "levels": list(st.levels), "n_seeds": st.n_seeds}
    if kind is not None:
        idx = sw.graphs.index(kind)
        out["topology"] = kind
        out["generator"] = TOPOLOGY_KINDS.get(kind, kind)
        out["realised_avg_connectivity"] = [float(np.mean(sw.graphs.avg[:, g])) for g in idx]
    return out


def _reading(objective: str, decl: str, variant: str | None = None) -> dict:
    out = {**reading_of(objective), "decl": decl}
    if variant is not None:
        out["sensitivity"] = variant
    return out


def _source(claim: theory.Claim, kind: str | None, detail: str | None = None) -> str:
    """The claim's source, the bound variant where it has several, and the topology kind (part
    of what a row states: named where a reader of the table looks)."""
    return claim.source + (f", {detail}" if detail else "") + (f", {kind} topology" if kind else "")


# ----------------------------------------------------------------------------- lower bounds


@dataclasses.dataclass(frozen=True)
class _Trials:
    """The trials of one lower-bound record, each (seeds, ...): ``worst`` = min_k r_k, the
    ``a_bar`` the bound is evaluated at, the number of client matrices in the model, the
    study's random trial order, the A.5 positive-eigenvalue count of the matrix the model is
    fitted to, whether the run diverged, whether ``worst`` is the model's (``Sweep.determined``:
    False where a tie at c leaves a class coordinate's r_k to the eigen-solver), and for
    neighbourhood models their client sets ``members`` (..., N) (None for models of all N
    clients)."""

    worst: np.ndarray
    a_bar: np.ndarray
    n_matrices: np.ndarray
    priority: np.ndarray
    positive: np.ndarray
    diverged: np.ndarray
    determined: np.ndarray
    members: np.ndarray | None = None


def _trial_hypotheses(sw: Sweep, objective: str, trials: _Trials, p0: np.ndarray) -> dict[str, np.ndarray]:
    """Per trial, whether each hypothesis of Theorems 4.2 / 4.3 holds: the stated probability is
    positive, A.1 (``2 <= |A_i| <= N``; every graph is connected by construction), A.5 (``c``
    positive eigenvalues of the fitted matrix, ``rank W = c``), A.9 (``tr(P H_sym P) > 0``) for
    dissimilar CL."""
    st = sw.study
    out = {"probability > 0": p0 > 0, "A.1": (trials.n_matrices >= 2) & (trials.n_matrices <= st.N),
           "A.5": trials.positive >= st.c}
    if objective == CL_VARIANTS["dissimilar"]:
        out["A.9"] = np.broadcast_to(sw.tr_H.reshape((-1,) + (1,) * (p0.ndim - 1)) > 0, p0.shape)
    return out


def _pick(trials: _Trials, eligible: np.ndarray, p0: np.ndarray) -> list[tuple[int, int]]:
    """Independent trials to test, as (seed, flat index) pairs, chosen from the graphs and the
    random trial order only (never from the data). Different seeds are independent. Within a
    seed, models built from disjoint client sets are independent (each client's data is drawn
    independently of the graphs): neighbourhood models are taken greedily, smallest ``|A_i|``
    first (largest stated probability), ties in the random order, while their client sets are
    pairwise disjoint; a model of all N clients gives one trial per seed (largest stated
    probability, then the random order)."""
    picks = []
    for s in range(eligible.shape[0]):
        cand = np.flatnonzero(eligible[s].ravel())
        order = cand[np.lexsort((trials.priority[s].ravel()[cand], -p0[s].ravel()[cand]))]
        if trials.members is None:
            picks += [(s, int(i)) for i in order[:1]]
            continue
        used = np.zeros(trials.members.shape[-1], dtype=bool)
        members = trials.members[s].reshape(-1, trials.members.shape[-1])
        for i in order:
            if not (members[i] & used).any():
                used |= members[i]
                picks.append((s, int(i)))
    return picks


def _lower_bound_record(sw: Sweep, claim: theory.Claim, variant: str, objective: str, trials: _Trials, *,
                        reading: dict, source: str, params: dict, trivial: bool, local: bool, note: str = "") -> Record:
    """One lower-bound record (see the module docstring for the rule)."""
    st, n_seeds = sw.study, sw.study.n_seeds
    worst = trials.worst
    tr_H = sw.tr_H.reshape((-1,) + (1,) * (worst.ndim - 1))
    bound = np.broadcast_to(bound_value(claim, variant, d=st.d, p=st.p, N=st.N, tr_H=tr_H, A_bar=trials.a_bar),
                            worst.shape)
    p0 = stated_probability(claim, d=st.d, m=trials.n_matrices)
    hyp = _trial_hypotheses(sw, objective, trials, p0)
    holds_all = np.logical_and.reduce(list(hyp.values()))
    eligible = holds_all & ~trials.diverged & trials.determined
    # A model whose min_k r_k is the eigen-solver's choice among its stationary points is left
    # out of the test and of empirical / margin, like a diverged run.
    finite = np.isfinite(worst) & trials.determined
    success = finite & (worst >= np.where(finite, bound, np.inf))
    margins = np.where(finite, worst - bound, np.inf)
    k = int(np.argmin(margins))
    scope = "|A_i|" if local else "realised |Ā|"
    fields = dict(
        claim=claim.id, source=source, level="simulation",
        reading={**reading, "constants": "unit", "samples": sw.samples},
        statistic="min_k r_k over the class coordinates" + (", without the own one" if local else "")
        + " vs the claim's lower bound (unit constants)",
        bound=float(np.ravel(bound)[k]), empirical=float(np.mean(worst[finite])) if finite.any() else None,
        margin=float(margins.ravel()[k]) if finite.any() else None,
        n_seeds=n_seeds, params={**params, "tr_H": [float(t) for t in sw.tr_H], "C": 1.0},
    )
    counts = ", ".join(f"{name} on {int(v.sum())}" for name, v in hyp.items())
    base_note = (f"All {worst.size} trials (seeds x graphs{' x clients' if local else ''}; samples {sw.samples}): "
                 f"{int(success.sum())} satisfy min_k r_k >= bound (bound at each trial's {scope}). Hypotheses hold "
                 f"per trial: {counts} (A.5: >= c = {st.c} positive eigenvalues of the fitted matrix, rank W = c).")
    if trials.diverged.any():
        base_note += f" {int(trials.diverged.sum())} trained runs diverged (non-finite loss or encoder) and are left out."
    if not trials.determined.all():
        base_note += (f" {int((~trials.determined).sum())} of {worst.size} models are left out (counted above among "
                      f"those that do not satisfy the bound): {NOT_DETERMINED}.")
    tail = (f"{note}empirical = mean over all finite trials of min_k r_k (k over the class coordinates"
            f"{', without the own one' if local else ''}); bound and margin at the worst trial.")
    if not holds_all.any():
        failed = [name for name, v in hyp.items() if not v.any()]
        why = {"probability > 0": (f"the stated probability {claim.probability} is <= 0 for every trial (m = "
                                   f"{int(trials.n_matrices.min())}..{int(trials.n_matrices.max())} client matrices, "
                                   f"d = {st.d}; positive only for d > (ln(m/2))^10)"),
               "A.5": f"Assumption A.5 fails on every trial (fewer than c = {st.c} positive eigenvalues: rank W < c)",
               "A.1": "Assumption A.1 (2 <= |A_i| <= N) fails on every trial",
               "A.9": "Assumption A.9 (tr(P H_sym P) > 0) fails on every trial"}
        reason = "; ".join(why[name] for name in failed) or "no trial satisfies every hypothesis at once"
        return Record(verdict="vacuous", hypotheses={name: bool(v.any()) for name, v in hyp.items()}, **fields,
                      note=f"{base_note} Vacuous: {reason}. The claim asserts nothing here, nothing to test. {tail}")
    picks = _pick(trials, eligible, p0)
    if not picks:
        why = " or ".join(w for w, bad in (("diverged", (holds_all & trials.diverged).any()),
                                           ("has a min_k r_k that its moment does not determine",
                                            (holds_all & ~trials.determined).any()))
                          if bad)
        return Record(verdict="inconclusive", hypotheses={name: True for name in hyp}, **fields,
                      note=f"{base_note} Every trial whose hypotheses hold {why}: nothing to test. {tail}")
    q = float(min(p0[s].ravel()[i] for s, i in picks))
    if sw.samples == "population":
        # E[S] is fixed given the seed's graphs and H, so the bound must hold on every model; the
        # models of one seed share that draw, so the independent instances are the seeds.
        seeds = [s for s in range(eligible.shape[0]) if eligible[s].any()]
        seed_ok = [bool(success[s][eligible[s]].all()) for s in seeds]
        j = rules.every_trial(sum(seed_ok), len(seed_ok), what="min_k r_k >= bound at the population matrix")
        rule = (j.rule + f" — one instance per seed (its graphs and H), met when every model of the seed whose "
                f"hypotheses hold meets the bound ({int(sum(eligible[s].sum() for s in seeds))} models); the stated "
                f"probability {claim.probability} (at least {q:.4g} here) bounds sampling error, which population "
                "does not have.")
    else:
        chosen_ok = np.array([success[s].ravel()[i] for s, i in picks])
        j = rules.binomial(int(chosen_ok.sum()), int(chosen_ok.size), q)
        rule = (j.rule + " — independent trials only: "
                + ("per seed, neighbourhood models on pairwise disjoint client sets (smallest |A_i| first, ties in a "
                   "random order drawn with the study)" if trials.members is not None else
                   "one per seed (largest stated probability, ties in a random order drawn with the study)")
                + f", among the trials where every hypothesis holds; p0 = the smallest stated probability "
                f"{claim.probability} of the chosen trials.")
    verdict = j.verdict
    # Structural: every trial met the bound for the reason below, so power is not the question.
    if verdict != "fails" and trivial and j.successes == j.trials:
        verdict = "holds-trivially"
        rule += (" X^M is diagonal, so row(W) is spanned by coordinate axes and every r_k is 0 or 1: the bound holds "
                 "because the other-class coordinates are among the top c diagonal entries, not through the eigen-argument.")
    if verdict == "fails":
        rule += f" Worst trial: min_k r_k = {worst.ravel()[k]:.6g} < bound {np.ravel(bound)[k]:.6g}."
    fields["params"]["p0"] = q
    return Record.judged(j, verdict=verdict, hypotheses={name: True for name in hyp}, **fields,
                         note=f"{base_note} {rule} {tail}")


def _no_divergence(sw: Sweep, objective: str, idx: list[int]) -> np.ndarray:
    """(seeds, len(idx)): which runs diverged (all False for closed forms)."""
    bad = sw.diverged.get(objective)
    return np.zeros((sw.study.n_seeds, len(idx)), bool) if bad is None else bad[:, idx]


def decl_bound_records(sw: Sweep, readings: tuple[str, ...]) -> list[Record]:
    """Theorems 4.2 / 4.3 (DecL) for every objective of ``readings`` and both topology kinds."""
    st = sw.study
    out = []
    for reading in readings:
        local = reading == "per-neighbourhood"
        for objective in sw.r[reading]:
            claim = bound_claim(objective, "decl")
            for kind in TOPOLOGY_KINDS:
                idx = sw.graphs.index(kind)
                r = sw.r[reading][objective][:, idx]
                positive = sw.positive[reading][objective][:, idx]
                determined = sw.determined(reading, objective, "proof")[:, idx]  # Theorems 4.2 / 4.3's coordinates
                diverged = _no_divergence(sw, objective, idx)
                if local:
                    sizes = sw.graphs.sizes[:, idx]
                    trials = _Trials(class_minimum(r, st.N, exclude_own=True), sizes.astype(float), sizes,
                                     sw.trial_priority[:, idx], positive, np.broadcast_to(diverged[..., None], sizes.shape),
                                     determined, sw.graphs.weights[:, idx] > 0)
                else:
                    worst = class_minimum(r, st.N, exclude_own=False)
                    trials = _Trials(worst, sw.graphs.avg[:, idx], np.full(worst.shape, st.N),
                                     sw.trial_priority[:, idx, 0], positive, diverged, determined)
                for variant in claim.bounds:
                    several = len(claim.bounds) > 1
                    out.append(_lower_bound_record(
                        sw, claim, variant, objective, trials,
                        reading={**_reading(objective, reading), **({"variant": variant} if several else {})},
                        source=_source(claim, kind, variant if variant != "statement" else None),
                        params=_base_params(sw, kind), local=local,
                        trivial=objective == MIM_READINGS["paper-surrogate"] and bool(np.isfinite(r).any())
                        and is_binary(r[np.isfinite(r)])))
    return out


def fedavg_bound_records(sw: Sweep) -> list[Record]:
    """Theorems 4.2 / 4.3 (FL) for FedAvg-trained models (partial participation)."""
    st = sw.study
    out = []
    for objective, r in sw.r_fedavg.items():
        claim = bound_claim(objective, "fl")
        worst = class_minimum(r, st.N, exclude_own=False)[:, None]
        dist, rdiff = (np.asarray(v)[np.isfinite(v)] for v in sw.fedavg_distance[objective])
        fit = (f"against the closed-form FL model: max over class coordinates of |r_k - r_k(FL)| median "
               f"{np.median(rdiff):.3g} (max {np.max(rdiff):.3g}); subspace distance of the whole c-dim row space median "
               f"{np.median(dist):.3g} (of at most sqrt(2c) = {math.sqrt(2 * st.c):.3g}; the trailing directions sit in "
               f"a near-degenerate noise bulk that {st.rounds * st.local_steps} steps do not resolve). "
               if dist.size else "every run diverged. ")
        note = (f"FedAvg trained on the exact expected losses: {st.rounds} rounds x {st.local_steps} local GD steps, "
                f"{st.fl_clients_per_round or st.N} of {st.N} clients per round, uniform weights; " + fit)
        trials = _Trials(worst, np.full(worst.shape, float(st.N)), np.full(worst.shape, st.N), sw.trial_priority[:, -1, :1],
                         sw.positive_fl[objective][:, None], sw.fedavg_diverged[objective][:, None],
                         np.ones(worst.shape, bool))  # a trained model is one point
        out.append(_lower_bound_record(
            sw, claim, "statement", objective, trials, reading={**reading_of(objective), "variant": "fedavg-trained"},
            source=f"{claim.source} — FedAvg trained", params=_base_params(sw, None), trivial=False, local=False,
            note=note))
    return out


# ----------------------------------------------------------------------------- connectivity


def _positive_differences(diffs: list[np.ndarray], labels: list[str], *, what: str) -> tuple[rules.Judgement, bool]:
    """Judge "every difference in ``diffs`` is positive": the Bonferroni sign tests, or — when
    every difference is a tie (within rounding) — the exact identity that they are all 0,
    flagged by the second return value."""
    if all(np.all(np.abs(dd) <= rules.TIE) for dd in diffs):
        return rules.identity(-np.abs(np.concatenate(diffs)), tolerance=rules.TIE, what=what), True
    return rules.all_positive(diffs, labels), False


def _differences_record(j: rules.Judgement, sw: Sweep, claim: theory.Claim, kind: str, diffs: list[np.ndarray], *,
                        params: dict, reading: dict, **fields) -> Record:
    """A record of "every paired difference in ``diffs`` is positive": bound 0, empirical the
    smallest mean difference, margin the smallest difference on any seed."""
    return Record.judged(j, claim=claim.id, source=_source(claim, kind), level="simulation", bound=0.0,
                         empirical=float(min(np.mean(dd) for dd in diffs)), margin=float(min(np.min(dd) for dd in diffs)),
                         n_seeds=sw.study.n_seeds, params={**_base_params(sw, kind), **params},
                         reading={**reading, "samples": sw.samples}, **fields)


@dataclasses.dataclass(frozen=True)
class _Screen:
    """Which seeds a paired-difference record may use: ``ok`` (seeds,) where every model of the
    record satisfies Assumption A.5 (``c`` positive eigenvalues of its fitted matrix) and A.9
    (dissimilar CL), every closed-form model's sensitivity ``variant`` is determined by its moment
    (``Sweep.determined``) and no run diverged; the record's ``hypotheses`` and a note."""

    ok: np.ndarray
    hypotheses: dict
    note: str
    verdict: str | None  # "vacuous" / "inconclusive" when no seed is usable, else None


def _screen(sw: Sweep, reading: str, objectives: tuple[str, ...], idx: list[int], variant: str, *,
            with_fl: bool = False) -> _Screen:
    """Screen the seeds of a paired-difference record over ``objectives`` on the graphs ``idx``
    (and the closed-form FL model when ``with_fl``)."""
    st = sw.study
    a5 = np.ones(st.n_seeds, bool)
    converged = np.ones(st.n_seeds, bool)
    determined = np.ones(st.n_seeds, bool)
    for obj in objectives:
        a5 &= (sw.positive[reading][obj][:, idx] >= st.c).reshape(st.n_seeds, -1).all(axis=1)
        determined &= sw.determined(reading, obj, variant)[:, idx].reshape(st.n_seeds, -1).all(axis=1)
        if with_fl and reading != "gossip":
            a5 &= sw.positive_fl[obj] >= st.c
            determined &= sw.determined_fl(obj, variant)
        converged &= ~_no_divergence(sw, obj, idx).any(axis=1)
    hyp = {"A.1": True, "A.5": bool(a5.any())}
    ok = a5 & converged & determined
    if CL_VARIANTS["dissimilar"] in objectives:
        hyp["A.9"] = bool((sw.tr_H > 0).any())
        ok &= sw.tr_H > 0
    note = (f"Hypotheses per seed: A.5 (>= c = {st.c} positive eigenvalues of every model's fitted matrix) on "
            f"{int(a5.sum())}/{st.n_seeds} seeds" + (f"; {int((~converged).sum())} seeds with a diverged run"
                                                       if not converged.all() else "")
            + (f"; {int((~determined).sum())} seeds with a model whose sensitivity ({variant}) its moment does not "
               "determine" if not determined.all() else "")
            + f"; tested on the {int(ok.sum())} seeds where all hold (samples {sw.samples}).")
    if not determined.all():
        note += f" Not determined: {NOT_DETERMINED}."
    verdict = None
    if not a5.any():
        verdict = "vacuous"
        note += (" Vacuous: Assumption A.5 fails on every seed (rank W < c: the stationary point keeps fewer than c "
                 "directions), so the claim asserts nothing here.")
    elif not ok.any():
        verdict = "inconclusive"
        why = " or ".join(w for w, bad in (("a diverged run", not converged.all()),
                                           ("a model whose sensitivity its moment does not determine",
                                            not determined.all())) if bad)
        note += f" Every seed where the hypotheses hold has {why}: nothing to test."
    return _Screen(ok, hyp, note, verdict)


def _screened_out(screen: _Screen, sw: Sweep, claim: theory.Claim, kind: str, *, reading: dict, statistic: str) -> Record:
    """The record of a paired-difference claim with no usable seed (see `_screen`)."""
    return Record(verdict=screen.verdict, claim=claim.id, source=_source(claim, kind), level="simulation", bound=0.0,
                  statistic=statistic, hypotheses=screen.hypotheses, n_seeds=sw.study.n_seeds,
                  params=_base_params(sw, kind), reading={**reading, "samples": sw.samples}, note=screen.note)


def _eq1_is_fl(reading: str, kind: str) -> bool:
    # pi_j = 1/N on a regular graph, so Eq. 1's objective is FL's at every |Ā|.
    return reading == "objective-eq1" and kind == "uniform"


def cor45_records(sw: Sweep, readings: tuple[str, ...]) -> list[Record]:
    """Corollary 4.5: the DecL sensitivity decreases in ``|Ā|`` (consecutive target levels)."""
    st, claim = sw.study, _claim("monotone")
    statistic = ("s(|Ā|) − s(next |Ā|) per seed (positive = decrease); empirical its smallest mean over the level "
                 "pairs, margin its smallest value on any seed")
    out = []
    for reading in readings:
        for objective in sw.r[reading]:
            for variant in SENSITIVITIES:
                s = sw.sensitivity(reading, objective, variant)
                for kind in TOPOLOGY_KINDS:
                    idx = sw.graphs.index(kind)
                    screen = _screen(sw, reading, (objective,), idx, variant)
                    rd = _reading(objective, reading, variant)
                    if screen.verdict:
                        out.append(_screened_out(screen, sw, claim, kind, reading=rd, statistic=statistic))
                        continue
                    sk = s[screen.ok][:, idx]  # (usable seeds, levels) in increasing |Ā|
                    diffs = [sk[:, i] - sk[:, i + 1] for i in range(sk.shape[1] - 1)]
                    labels = [f"|Ā| {st.levels[i]}->{st.levels[i + 1]}" for i in range(sk.shape[1] - 1)]
                    j, tied = _positive_differences(diffs, labels, what="s(|Ā|) = s(next |Ā|)")
                    if tied and np.all(np.abs(sk) <= rules.TIE):
                        verdict = "holds-trivially"
                        rule = "s = 0 at every |Ā| on every seed (r_k in {0, 1}): non-increasing, nothing decreases."
                    elif tied:
                        verdict = "fails"
                        rule = ("s is identical at every |Ā| on every seed (differences <= 1e-9): it does not decrease"
                                + (" — pi_j = 1/N on regular graphs, so objective-eq1 is FL at every |Ā|."
                                   if _eq1_is_fl(reading, kind) else "."))
                    else:
                        verdict, rule = j.verdict, j.rule
                    out.append(_differences_record(
                        j, sw, claim, kind, diffs, verdict=verdict, reading=rd, statistic=statistic,
                        hypotheses=screen.hypotheses, params={"mean_s": [float(v) for v in sk.mean(axis=0)]},
                        note=f"{rule} {screen.note} empirical = smallest mean decrease s(|Ā|) - s(next |Ā|); margin = "
                             "smallest decrease on any seed."))
    return out


def thm46_records(sw: Sweep, readings: tuple[str, ...]) -> list[Record]:
    """Theorem 4.6: ``s_Dec >= s_Fed`` at every ``|Ā| < N``; the equality case ``|A_i| = N``
    is reported alongside."""
    st, claim = sw.study, theory.find_claim(family="connectivity", scope=None)
    statistic = ("s_Dec − s_Fed per seed at each |Ā| < N; empirical its smallest mean over the levels, margin its "
                 "smallest value on any seed")
    out = []
    for reading in readings:
        for objective in sw.r[reading]:
            for variant in SENSITIVITIES:
                for kind in TOPOLOGY_KINDS:
                    idx = sw.graphs.index(kind)
                    screen = _screen(sw, reading, (objective,), idx, variant, with_fl=True)
                    rd = _reading(objective, reading, variant)
                    if screen.verdict:
                        out.append(_screened_out(screen, sw, claim, kind, reading=rd, statistic=statistic))
                        continue
                    s = sw.sensitivity(reading, objective, variant)[screen.ok]
                    s_fl = sw.fl_sensitivity(reading, objective, variant)[screen.ok]
                    diffs = [s[:, g] - s_fl for g in idx[:-1]]
                    labels = [f"|Ā|={st.levels[i]}" for i in range(len(idx) - 1)]
                    equal_at_N = float(np.max(np.abs(s[:, idx[-1]] - s_fl)))
                    j, tied = _positive_differences(diffs, labels, what="s_Dec = s_Fed")
                    if tied:
                        verdict = "holds-trivially"
                        rule = ("s_Dec = s_Fed exactly at every |Ā| (differences <= 1e-9)"
                                + (": pi_j = 1/N on regular graphs, objective-eq1 is FL." if reading == "objective-eq1" else "."))
                    else:
                        verdict, rule = j.verdict, j.rule
                    out.append(_differences_record(
                        j, sw, claim, kind, diffs, verdict=verdict, reading=rd, statistic=statistic,
                        hypotheses=screen.hypotheses,
                        params={"mean_s_dec": [float(np.mean(dd) + np.mean(s_fl)) for dd in diffs],
                                "mean_s_fed": float(np.mean(s_fl)), "equality_gap_at_N": equal_at_N},
                        note=(f"{rule} {screen.note} Equality case |A_i| = N: max |s_Dec - s_Fed| = {equal_at_N:.3g}. "
                              "empirical = smallest mean of s_Dec - s_Fed over the |Ā| < N levels; margin = its smallest "
                              "value on any seed.")))
    return out


def _d_star(cl_name: str, *, p: float, tr_H: float) -> float:
    """Theorem 4.4's unit-constant threshold ``d*`` for CL with augmentation ``cl_name``."""
    claim = theory.find_claim(family="comparison", scope="decl")
    expr = theory.threshold(claim.id, cl_name)
    values = {"p": p, "tr_H": tr_H}
    return float(expr.subs({sym: values.get(sym.name, 1.0) for sym in expr.free_symbols}))


def thm44_records(sw: Sweep, readings: tuple[str, ...]) -> list[Record]:
    """Theorem 4.4 (DecL): ``s^C > s^M`` per seed (mean over the DecL graphs of the topology
    kind), every MIM x CL reading pair."""
    st, claim = sw.study, theory.find_claim(family="comparison", scope="decl")
    statistic = ("s^C − s^M per seed, averaged over the DecL graphs (|Ā| < N); empirical its mean, margin its minimum")
    out = []
    for reading in readings:
        objs = sw.r[reading]
        for mim_name, mim_obj in MIM_READINGS.items():
            for cl_name, cl_obj in CL_VARIANTS.items():
                if mim_obj not in objs or cl_obj not in objs:
                    continue
                d_star = [_d_star(cl_name, p=st.p, tr_H=float(t)) for t in sw.tr_H]
                for variant in SENSITIVITIES:
                    for kind in TOPOLOGY_KINDS:
                        idx = sw.graphs.index(kind)[:-1]  # DecL levels only (|Ā| < N)
                        rd = {"mim": mim_name, "cl": cl_name, "decl": reading, "sensitivity": variant}
                        screen = _screen(sw, reading, (mim_obj, cl_obj), idx, variant)
                        if screen.verdict:
                            out.append(_screened_out(screen, sw, claim, kind, reading=rd, statistic=statistic))
                            continue
                        s_m = sw.sensitivity(reading, mim_obj, variant)[screen.ok][:, idx]
                        s_c = sw.sensitivity(reading, cl_obj, variant)[screen.ok][:, idx]
                        diff = (s_c - s_m).mean(axis=1)
                        j = rules.sign_test(rules.untie(diff))
                        verdict, note = j.verdict, j.rule + "."
                        if verdict == "holds" and mim_obj == MIM_READINGS["paper-surrogate"] and np.all(np.abs(s_m) <= rules.TIE):
                            verdict = "holds-trivially"
                            note += " s^M = 0 on every trial: the surrogate's r_k are 0 or 1 (diagonal X^M)."
                        out.append(Record.judged(
                            j, verdict=verdict, claim=claim.id, source=_source(claim, kind), level="simulation",
                            reading={**rd, "samples": sw.samples}, statistic=statistic, hypotheses=screen.hypotheses,
                            bound=0.0, empirical=float(np.mean(diff)), margin=float(np.min(diff)), n_seeds=st.n_seeds,
                            params={**_base_params(sw, kind), "tr_H": [float(t) for t in sw.tr_H],
                                    "mean_s_M": float(np.mean(s_m)), "mean_s_C": float(np.mean(s_c))},
                            note=(f"{note} {screen.note} One difference per seed: s^C - s^M averaged over the {len(idx)} "
                                  f"DecL graphs (|Ā| < N). d = {st.d}: the theorem is asymptotic (unit-constant threshold "
                                  f"d* = {min(d_star):.4g}..{max(d_star):.4g} for CL {cl_name} over the seeds' H, one H "
                                  "drawn per seed). empirical = mean, margin = min."),
                        ))
    return out


def eq1_identity_record(sw: Sweep) -> Record:
    """Eq. 1's minimiser equals FL's on a regular graph (``π_j = 1/N``), to rounding; the
    non-regular graphs show that the identity is not vacuous."""
    st, claim = sw.study, _claim("identity")
    reg = [g for g, k in enumerate(sw.graphs.kinds) if k in ("uniform", "complete")]
    gen = [g for g, k in enumerate(sw.graphs.kinds) if k == "general"]
    objs = list(sw.eq1_fl_difference)
    reg_pi = float(np.max(sw.pi_deviation[:, reg]))
    gaps = np.stack([sw.eq1_fl_difference[o][:, reg] for o in objs])
    reg_r = float(np.max(gaps))
    gen_pi = float(np.max(sw.pi_deviation[:, gen]))
    gen_r = {o: float(np.max(sw.eq1_fl_difference[o][:, gen])) for o in objs}
    tol = IDENTITY_TOLERANCE
    j = rules.identity(-gaps, tolerance=tol, what="max_k |r_k(Eq. 1) - r_k(FL)| = 0")
    return Record.judged(
        j, verdict=j.verdict if reg_pi <= 1e-12 else "fails", claim=claim.id, source=claim.source, level="simulation",
        reading={"decl": "objective-eq1", "samples": sw.samples}, statistic="max_k |r_k(Eq. 1) − r_k(FL)| over the regular graphs of every seed "
        "and objective vs the rounding tolerance", bound=tol, empirical=reg_r, margin=tol - reg_r, n_seeds=st.n_seeds,
        params={"N": st.N, "d": st.d, "c": st.c, "levels": list(st.levels), "max_pi_deviation_regular": reg_pi,
                "max_pi_deviation_general": gen_pi, "max_r_difference_general": gen_r},
        note=(f"Regular graphs ({len(reg)} per seed, every objective): max |pi_j - 1/N| = {reg_pi:.3g}, max_k |r_k(Eq. 1) - "
              f"r_k(FL)| = {reg_r:.3g} (rule: <= {tol:g}, an identity up to rounding). On the non-regular 'general' graphs "
              f"pi differs (max |pi_j - 1/N| = {gen_pi:.3g}) and so does the model: max_k |r_k(Eq. 1) - r_k(FL)| = "
              + ", ".join(f"{o} {v:.3g}" for o, v in gen_r.items()) + "."),
    )


__all__ = [
    "CLOSED_READINGS",
    "Measurement",
    "bound_value",
    "cor45_records",
    "decl_bound_records",
    "eq1_identity_record",
    "fedavg_bound_records",
    "judge",
    "measure",
    "records",
    "stated_probability",
    "thm44_records",
    "thm46_records",
]
