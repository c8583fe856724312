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
  Hypotheses are checked per trial: stated probability > 0 (at finite ``n``), Assumption A.1 (``2 <= |A_i| <=
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
from bounds.judging import judges, rules
from bounds.judging.evaluation import d_star, evaluate, stated_probability
from bounds.judging.judges import NOT_DETERMINED
from bounds.judging.readings import (CL_VARIANTS, MIM_READINGS, SURROGATE_HOLDS, bound_claims, is_surrogate, reading_of,
                                     with_paper_c_notes)
from bounds.judging.records import Record
from bounds.running.suite import Suite
from sim import class_minimum, get_objective, is_binary
from sim.studies import connectivity as study
from sim.studies.connectivity import SENSITIVITIES, TOPOLOGY_KINDS, Consensus, Sweep

#: The closed-form DecL readings; ``gossip`` is the trained one.
CLOSED_READINGS: tuple[str, ...] = ("objective-eq1", "per-neighbourhood")
#: Eq. 1's minimiser equals FL's up to eigen-solver rounding on a regular graph.
IDENTITY_TOLERANCE = 1e-8
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
    return with_paper_c_notes(out)


def records(suite: Suite, *, key: jax.Array) -> list[Record]:
    """``judge(measure(suite, key=key), suite)``."""
    return judge(measure(suite, key=key), suite)


# ----------------------------------------------------------------------------- helpers


def _claim(kind: str) -> theory.Claim:
    """The DecL connectivity claim of ``kind``: Corollary 4.5 (``monotone``) or the Eq. 1
    minimiser's identity on a regular graph (``identity``), which share family and scope."""
    (claim,) = theory.claims_where(family="connectivity", scope="decl", kind=kind)
    return claim


def _base_params(sw: Sweep, kind: str | None) -> dict:
    st = sw.study
    out = {"N": st.N, "d": st.d, "c": st.c, "p": st.mask_ratio, "levels": list(st.levels), "n_seeds": st.n_seeds}
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
    """Per trial, whether each assumption of Theorems 4.2 / 4.3 holds: A.1 (``2 <= |A_i| <= N``;
    every graph is connected by construction), A.5 (``c`` positive eigenvalues of the fitted
    matrix, ``rank W = c``), A.9 (``tr(P H_sym P) > 0``) where the objective rests on it. The
    stated probability is screened by `judges.lower_bound` (at finite ``n`` only: at
    ``population`` the concentration event it bounds is certain)."""
    st = sw.study
    out = {"A.1": (trials.n_matrices >= 2) & (trials.n_matrices <= st.N),
           "A.5": trials.positive >= st.c}
    if "A.9" in get_objective(objective).hypotheses:
        out["A.9"] = np.broadcast_to(sw.tr_H.reshape((-1,) + (1,) * (p0.ndim - 1)) > 0, p0.shape)
    return out


def _lower_bound_record(sw: Sweep, claim: theory.Claim, variant: str, objective: str, trials: _Trials, *,
                        reading: dict, source: str, params: dict, trivial: bool, local: bool, note: str = "") -> Record:
    """One lower-bound record: `bounds.judging.judges.lower_bound` on the trials."""
    st = sw.study
    tr_H = sw.tr_H.reshape((-1,) + (1,) * (trials.worst.ndim - 1))
    bound = evaluate(claim, variant, d=st.d, p=st.mask_ratio, N=st.N, tr_H=tr_H, A_bar=trials.a_bar)
    p0 = np.broadcast_to(stated_probability(claim, d=st.d, m=trials.n_matrices), trials.worst.shape)
    m = f"m = {int(trials.n_matrices.min())}..{int(trials.n_matrices.max())} client matrices"
    reasons = {"probability > 0": (f"the stated probability {claim.probability} is <= 0 for every trial ({m}, d = "
                                   f"{st.d}; positive only for d > (ln(m/2))^10)"),
               "A.5": f"Assumption A.5 fails on every trial (fewer than c = {st.c} positive eigenvalues: rank W < c)",
               "A.1": "Assumption A.1 (2 <= |A_i| <= N) fails on every trial",
               "A.9": "Assumption A.9 (tr(P H_sym P) > 0) fails on every trial"}
    own = ", without the own one" if local else ""
    return judges.lower_bound(
        claim, trials.worst, bound, p0=p0, samples=sw.samples, hypotheses=_trial_hypotheses(sw, objective, trials, p0),
        reasons=reasons, determined=trials.determined, diverged=trials.diverged, members=trials.members,
        priority=trials.priority, trivial=SURROGATE_HOLDS if trivial else None,
        note=(f"{note}Trials: seeds x graphs{' x clients' if local else ''}, the bound at each trial's "
              f"{'|A_i|' if local else 'realised |Ā|'} (A.5: >= c = {st.c} positive eigenvalues of the fitted matrix, "
              f"rank W = c). empirical = mean over all finite trials of min_k r_k (k over the class coordinates{own}); "
              "bound and margin at the worst trial."),
        source=source, reading={**reading, "constants": "unit", "samples": sw.samples},
        statistic=f"min_k r_k over the class coordinates{own} vs the claim's lower bound (unit constants)",
        n_seeds=st.n_seeds, params={**params, "tr_H": [float(t) for t in sw.tr_H], "C": 1.0})


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
            for claim in bound_claims(objective, "decl"):
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
                            trivial=is_surrogate(objective) and bool(np.isfinite(r).any())
                            and is_binary(r[np.isfinite(r)])))
    return out


def fedavg_bound_records(sw: Sweep) -> list[Record]:
    """Theorems 4.2 / 4.3 (FL) for FedAvg-trained models (partial participation)."""
    st = sw.study
    out = []
    for objective, r in sw.r_fedavg.items():
        for claim in bound_claims(objective, "fl"):
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
    if any("A.9" in get_objective(o).hypotheses for o in objectives):
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
    return Record(verdict=screen.verdict, claim=claim.id, level="simulation", bound=0.0, note=screen.note,
                  **_connectivity_fields(sw, claim, kind, reading, statistic, screen, {}))


def _eq1_is_fl(reading: str, kind: str) -> bool:
    # pi_j = 1/N on a regular graph, so Eq. 1's objective is FL's at every |Ā|.
    return reading == "objective-eq1" and kind == "uniform"


def _per_topology(sw: Sweep, readings: tuple[str, ...], claim: theory.Claim, statistic: str, judge_case, *,
                  with_fl: bool = False) -> list[Record]:
    """One record per DecL reading, objective, sensitivity variant and topology kind:
    ``judge_case(reading, objective, variant, kind, idx, screen, fields)`` on the seeds `_screen`
    keeps (``idx`` the kind's graphs, ``fields`` the record fields), or the screened-out record."""
    out = []
    for reading in readings:
        for objective in sw.r[reading]:
            for variant in SENSITIVITIES:
                for kind in TOPOLOGY_KINDS:
                    idx = sw.graphs.index(kind)
                    screen = _screen(sw, reading, (objective,), idx, variant, with_fl=with_fl)
                    rd = _reading(objective, reading, variant)
                    out.append(_screened_out(screen, sw, claim, kind, reading=rd, statistic=statistic) if screen.verdict
                               else judge_case(reading, objective, variant, kind, idx, screen,
                                               _connectivity_fields(sw, claim, kind, rd, statistic, screen, {})))
    return out


def cor45_records(sw: Sweep, readings: tuple[str, ...]) -> list[Record]:
    """Corollary 4.5: the DecL sensitivity decreases in ``|Ā|`` (consecutive target levels;
    `bounds.judging.judges.monotone`)."""
    st, claim = sw.study, _claim("monotone")

    def judge_case(reading, objective, variant, kind, idx, screen, fields):
        sk = sw.sensitivity(reading, objective, variant)[screen.ok][:, idx]  # (usable seeds, levels) in increasing |Ā|
        # Every difference a tie: a strict decrease fails, unless s = 0 throughout (binary r_k).
        on_tie = (("holds-trivially", "s = 0 at every |Ā| on every seed (r_k in {0, 1}): non-increasing, "
                                      "nothing decreases.") if np.all(np.abs(sk) <= rules.TIE) else
                  ("fails", "s is identical at every |Ā| on every seed (differences <= 1e-9): it does not decrease"
                            + (" — pi_j = 1/N on regular graphs, so objective-eq1 is FL at every |Ā|."
                               if _eq1_is_fl(reading, kind) else ".")))
        fields["params"]["mean_s"] = [float(v) for v in sk.mean(axis=0)]
        return judges.monotone(claim, sk, levels=tuple(st.levels[:len(idx)]), on_tie=on_tie,
                               note=f"{screen.note} empirical = smallest mean decrease s(|Ā|) - s(next |Ā|); margin = "
                                    "smallest decrease on any seed.", **fields)

    return _per_topology(sw, readings, claim, "s(|Ā|) − s(next |Ā|) per seed (positive = decrease); empirical its "
                         "smallest mean over the level pairs, margin its smallest value on any seed", judge_case)


def _connectivity_fields(sw: Sweep, claim: theory.Claim, kind: str, reading: dict, statistic: str, screen: _Screen,
                         params: dict) -> dict:
    """The record fields of a paired-difference record on the graphs of topology ``kind``."""
    return dict(source=_source(claim, kind), reading={**reading, "samples": sw.samples}, statistic=statistic,
                hypotheses=screen.hypotheses, n_seeds=sw.study.n_seeds, params={**_base_params(sw, kind), **params})


def thm46_records(sw: Sweep, readings: tuple[str, ...]) -> list[Record]:
    """Theorem 4.6: ``s_Dec >= s_Fed`` at every ``|Ā| < N`` (`bounds.judging.judges.monotone`
    against the FL reference); the equality case ``|A_i| = N`` is reported alongside."""
    st, claim = sw.study, theory.find_claim(family="connectivity", scope=None)

    def judge_case(reading, objective, variant, kind, idx, screen, fields):
        s = sw.sensitivity(reading, objective, variant)[screen.ok]
        s_fl = sw.fl_sensitivity(reading, objective, variant)[screen.ok]
        equal_at_N = float(np.max(np.abs(s[:, idx[-1]] - s_fl)))
        on_tie = ("holds-trivially", "s_Dec = s_Fed exactly at every |Ā| (differences <= 1e-9)"
                  + (": pi_j = 1/N on regular graphs, objective-eq1 is FL." if reading == "objective-eq1" else "."))
        fields["params"].update(mean_s_dec=[float(np.mean(s[:, g] - s_fl) + np.mean(s_fl)) for g in idx[:-1]],
                                mean_s_fed=float(np.mean(s_fl)), equality_gap_at_N=equal_at_N)
        return judges.monotone(claim, s[:, idx[:-1]], levels=tuple(st.levels[:len(idx) - 1]), reference=s_fl,
                               on_tie=on_tie,
                               note=(f"{screen.note} Equality case |A_i| = N: max |s_Dec - s_Fed| = {equal_at_N:.3g}. "
                                     "empirical = smallest mean of s_Dec - s_Fed over the |Ā| < N levels; margin = its "
                                     "smallest value on any seed."), **fields)

    return _per_topology(sw, readings, claim, "s_Dec − s_Fed per seed at each |Ā| < N; empirical its smallest mean "
                         "over the levels, margin its smallest value on any seed", judge_case, with_fl=True)


def thm44_records(sw: Sweep, readings: tuple[str, ...]) -> list[Record]:
    """Theorem 4.4 (DecL): ``s^C > s^M`` per seed (mean over the DecL graphs of the topology
    kind), every MIM x CL reading pair (`bounds.judging.judges.comparison`)."""
    st, claim = sw.study, theory.find_claim(family="comparison", scope="decl")
    statistic = ("s^C − s^M per seed, averaged over the DecL graphs (|Ā| < N); empirical its mean, margin its minimum")
    out = []
    for reading in readings:
        objs = sw.r[reading]
        for mim_name, mim_obj in MIM_READINGS.items():
            for cl_name, cl_obj in CL_VARIANTS.items():
                if mim_obj not in objs or cl_obj not in objs:
                    continue
                thresholds = [d_star(claim, cl_name, p=st.mask_ratio, tr_H=float(t)) for t in sw.tr_H]
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
                        fields = _connectivity_fields(sw, claim, kind, rd, statistic, screen, {
                            "tr_H": [float(t) for t in sw.tr_H], "mean_s_M": float(np.mean(s_m)),
                            "mean_s_C": float(np.mean(s_c))})
                        out.append(judges.comparison(
                            claim, (s_c - s_m).mean(axis=1), bound=0.0,
                            trivial=("s^M = 0 on every trial: the surrogate's r_k are 0 or 1 (diagonal X^M)."
                                     if is_surrogate(mim_obj) and np.all(np.abs(s_m) <= rules.TIE) else None),
                            note=(f"{screen.note} One difference per seed: s^C - s^M averaged over the {len(idx)} "
                                  f"DecL graphs (|Ā| < N). d = {st.d}: the theorem is asymptotic (unit-constant threshold "
                                  f"d* = {min(thresholds):.4g}..{max(thresholds):.4g} for CL {cl_name} over the seeds' H, "
                                  "one H drawn per seed). empirical = mean, margin = min."), **fields))
    return out


def eq1_identity_record(sw: Sweep) -> Record:
    """Eq. 1's minimiser equals FL's on a regular graph (``π_j = 1/N``), to rounding
    (`bounds.judging.judges.identity`); the non-regular graphs show that the identity is not
    vacuous."""
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
    record = judges.identity(
        claim, -gaps, tolerance=tol, what="max_k |r_k(Eq. 1) - r_k(FL)| = 0",
        reading={"decl": "objective-eq1", "samples": sw.samples},
        statistic="max_k |r_k(Eq. 1) − r_k(FL)| over the regular graphs of every seed and objective vs the rounding "
                  "tolerance", bound=tol, empirical=reg_r, margin=tol - reg_r, n_seeds=st.n_seeds,
        params={"N": st.N, "d": st.d, "c": st.c, "levels": list(st.levels), "max_pi_deviation_regular": reg_pi,
                "max_pi_deviation_general": gen_pi, "max_r_difference_general": gen_r},
        note=(f"Regular graphs ({len(reg)} per seed, every objective): max |pi_j - 1/N| = {reg_pi:.3g}, max_k |r_k(Eq. 1) - "
              f"r_k(FL)| = {reg_r:.3g} (rule: <= {tol:g}, an identity up to rounding). On the non-regular 'general' graphs "
              f"pi differs (max |pi_j - 1/N| = {gen_pi:.3g}) and so does the model: max_k |r_k(Eq. 1) - r_k(FL)| = "
              + ", ".join(f"{o} {v:.3g}" for o, v in gen_r.items()) + "."))
    # The identity rests on pi_j = 1/N: a regular graph where it is not is a failure of its own.
    return record if reg_pi <= 1e-12 else dataclasses.replace(record, verdict="fails")


__all__ = [
    "CLOSED_READINGS",
    "Measurement",
    "cor45_records",
    "decl_bound_records",
    "eq1_identity_record",
    "fedavg_bound_records",
    "judge",
    "measure",
    "records",
    "thm44_records",
    "thm46_records",
]
