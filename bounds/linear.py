"""Simulation-level records of the single-client and objective-level FL theorems.

Measured by :mod:`sim.studies.linear` (closed-form stationary points, vmapped over clients and
seeds); judged here:

- Theorems 4.2 / 4.3 (high-probability lower bounds on ``r_k``): one-sided binomial test of the
  success rate against the claim's stated probability (a union bound over the client matrices
  the model is built from: 1 for a client's model, ``N`` for FL's);
- Theorem 4.4 (``s^C > s^M``): paired sign test over seeds and clients, per sensitivity
  variant; its orders ``s = Theta(d^a)`` by a fitted log-log slope over a sweep of ``d``;
- the corrected finite-``d`` bound on every sample;
- Eq. 4's exact mask average has a zero diagonal (Monte Carlo over sampled masks).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import numpy as np

import theory
from bounds import rules
from bounds.evaluation import evaluate
from bounds.readings import CL_VARIANTS, MIM_READINGS, OBJECTIVES, SENSITIVITIES, bound_claim, family_of, reading_of
from bounds.records import Record
from bounds.suite import Suite
from sim import class_minimum, is_binary
from sim.studies import linear as study

#: Exponent tolerance of the order claims: the fitted slope's CI must lie within +-0.1.
SLOPE_TOLERANCE = 0.1
SCOPES = ("local", "fl")


@dataclasses.dataclass(frozen=True)
class Measurements:
    """The linear producer's measurements: the main study at the theorem scalings, the same
    study with ``N`` set by hand, the order sweep (the main study is one of its points) and
    the Eq. 4 mask average."""

    main: study.LinearMeasurement
    by_hand: study.LinearMeasurement
    sweep: tuple[study.LinearMeasurement, ...]
    masks: study.MaskAverage


def measure(suite: Suite, *, key) -> Measurements:
    sizes = suite.linear
    main_key, sweep_key, mask_key, free_key = jax.random.split(key, 4)
    main = study.measure(study.theorem_study(sizes.d, n_seeds=sizes.n_seeds), key=main_key)
    # The scaling N = Theta(d^{1/20}) is 2 at every simulable d, where the other client's class
    # coordinate is a single one; the same records with N set by hand show which findings are
    # artefacts of N = 2.
    by_hand = study.measure(study.theorem_study(sizes.d, n_seeds=sizes.n_seeds, N=sizes.free_N), key=free_key)
    others = [d for d in sizes.sweep_d if d != sizes.d]
    swept = study.sweep(others, n_seeds=sizes.sweep_seeds, key=sweep_key)
    masks = study.mask_average(study.theorem_study(min(sizes.d, 64), n_seeds=1), key=mask_key, n_masks=sizes.n_masks)
    return Measurements(main, by_hand, (main, *swept), masks)


def judge(ms: Measurements, suite: Suite) -> list[Record]:
    by_hand = f", N={ms.by_hand.study.data.N} by hand"
    return [
        *point_records(ms.main),
        *(dataclasses.replace(r, source=r.source + by_hand) for r in point_records(ms.by_hand)),
        *order_records(ms.sweep),
        zero_diagonal_record(ms.masks),
    ]


def records(suite: Suite, *, key) -> list[Record]:
    return judge(measure(suite, key=key), suite)


def point_records(m: study.LinearMeasurement) -> list[Record]:
    """The records one measurement supports: lower bounds, comparisons, corrected bound."""
    out: list[Record] = []
    for objective in OBJECTIVES:
        out += _lower_bound_records(m, objective)
    return out + _comparison_records(m) + _corrected_records(m)


@functools.lru_cache(maxsize=None)
def _probability(claim_id: str):
    claim = theory.get_claim(claim_id)
    return claim.lambdify(claim.probability, backend="numpy")


def stated_probability(claim: "theory.Claim", *, d: int, m: int) -> float:
    """The claim's stated success probability for a model built from ``m`` client matrices."""
    return float(_probability(claim.id)(d=d, m=m))


def _params(m: study.LinearMeasurement) -> dict[str, float]:
    data = m.study.data
    # tr_H in the bounds is tr(P H_sym P) (Assumption A.9); the full trace tr(H), which grows
    # with d when H is the identity off a subspace, goes in params.
    return {"d": data.d, "p": m.study.p, "N": data.N, "A_bar": data.N, "tr_H": m.trace_H, "full_trace_H": m.full_trace_H}


def _symbols(params: dict[str, float]) -> dict[str, float]:
    """The claim symbols among a record's params (``full_trace_H`` is reported, not a symbol)."""
    return {k: v for k, v in params.items() if k != "full_trace_H"}


def _fit_constant(claim_id: str, params: dict[str, float], s_needed: np.ndarray) -> np.ndarray:
    """Smallest constant ``C`` with ``1 - bound(C) >= s_needed`` (vectorised bisection in log C:
    every encoded bound's sensitivity increases with its constant)."""
    lo, hi = np.full(s_needed.shape, -30.0), np.full(s_needed.shape, 30.0)
    for _ in range(80):
        mid = (lo + hi) / 2
        ok = 1.0 - evaluate(claim_id, **_symbols(params), C=np.exp(mid)) >= s_needed
        hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
    return np.exp(hi)


def _scope_source(claim: "theory.Claim") -> str:
    return claim.source if claim.scope == "local" else f"{claim.source}, objective level"


def _lower_bound_records(m: study.LinearMeasurement, objective: str) -> list[Record]:
    """Theorem 4.2 / 4.3, local and FL, under unit and fitted constants."""
    data = m.study.data
    params = _params(m)
    out = []
    for scope, r, exclude_own, n_matrices in (("local", m.local[objective], True, 1),
                                              ("fl", m.global_[objective], False, data.N)):
        claim = bound_claim(objective, scope)
        worst = class_minimum(r, data.N, exclude_own=exclude_own).ravel()  # one trial per client or seed
        p0 = stated_probability(claim, d=data.d, m=n_matrices)
        half = worst.size // 2
        for constants in ("unit", "fitted"):
            if constants == "unit":
                C, trials, fit_note = 1.0, worst, ""
            else:
                # Fit on the first half of the trials, judge on the held-out second half.
                C = float(np.max(_fit_constant(claim.id, params, 1.0 - worst[:half])))
                trials = worst[half:]
                fit_note = (f" Constant fitted: C = {C:.4g} (smallest C consistent with the first {half} trials; "
                            f"judged on the other {trials.size}).")
            bound = float(evaluate(claim.id, **_symbols(params), C=C))
            success = int(np.sum(trials >= bound))
            judged = rules.binomial(success, trials.size, p0) if p0 > 0 else None
            verdict = judged.verdict if judged else "inconclusive"
            note = (judged.rule if judged else f"stated probability {p0:.3g} <= 0 at d={data.d}: nothing to test") + "."
            if objective == "mim-surrogate" and is_binary(r) and verdict == "holds":
                verdict = "holds-trivially"
                note += (" X^M is diagonal, so row(W) is spanned by coordinate axes and every r_k is 0 or 1: the bound"
                         " holds because the N-1 other-class coordinates (E x_k^2 = tau^2/2 + mu^2) are among the top c"
                         " diagonal entries, not through the eigen-argument.")
            if judged and judged.verdict == "fails":
                k = int(np.argmin(trials))
                note += f" Counterexample: trial {k} has min_k r_k = {trials[k]:.6g} < bound {bound:.6g}."
            fields = dict(
                claim=claim.id, source=_scope_source(claim), level="simulation", verdict=verdict,
                reading={**reading_of(objective), "constants": constants},
                bound=bound, empirical=float(np.mean(trials)), margin=float(np.min(trials) - bound),
                statistic="mean over trials of min_k r_k (class coordinates) vs the bound; margin = worst trial - bound",
                n_seeds=m.study.n_seeds,
                params={**params, "c": m.study.c, "n": data.n, "n_rare": data.n_rare, "tau": data.tau, "mu": data.mu,
                        "C": C, "p0": p0, "H": m.study.transform, "scalings": data.scalings()},
                note=note + fit_note,
            )
            out.append(Record.judged(judged, **fields) if judged else Record(**fields))
    return out


@functools.lru_cache(maxsize=None)
def _threshold(claim_id: str, augmentation: str):
    return theory.get_claim(claim_id).lambdify(theory.threshold(claim_id, augmentation), backend="numpy")


def threshold_d_star(claim: "theory.Claim", augmentation: str, *, p: float, tr_H: float = 1.0) -> float:
    """Theorem 4.4's unit-constant ``d*`` (solved by sympy) at the study's ``p`` and ``tr_H``."""
    return float(_threshold(claim.id, augmentation)(p=p, tr_H=tr_H))


def _comparison_records(m: study.LinearMeasurement) -> list[Record]:
    """Theorem 4.4 at simulation level: ``s^C > s^M`` per seed (and client), each reading pair."""
    out = []
    for scope in SCOPES:
        claim = theory.find_claim(family="comparison", scope=scope)
        for mim_reading, mim_obj in MIM_READINGS.items():
            for cl_variant, cl_obj in CL_VARIANTS.items():
                d_star = threshold_d_star(claim, cl_variant, p=m.study.p, tr_H=m.trace_H)
                for variant in SENSITIVITIES:
                    s_m = m.sensitivities(mim_obj, variant, scope)
                    s_c = m.sensitivities(cl_obj, variant, scope)
                    judged = rules.sign_test(s_c - s_m)
                    verdict, note = judged.verdict, judged.rule + "."
                    if (verdict == "holds" and mim_obj == "mim-surrogate" and np.all(s_m == s_m.flat[0])
                            and is_binary(m.local[mim_obj])):
                        verdict = "holds-trivially"
                        note += f" s^M = {float(s_m.flat[0]):g} on every trial: the surrogate's r_k are 0 or 1 (diagonal X^M)."
                    note += (f" d = {m.study.data.d} vs unit-constant threshold d* = {d_star:.4g}"
                             " (the theorem is asymptotic; below d* the bounds themselves do not order).")
                    out.append(Record.judged(
                        judged, claim=claim.id, source=_scope_source(claim), level="simulation", verdict=verdict,
                        reading={"mim": mim_reading, "cl": cl_variant, "sensitivity": variant},
                        bound=d_star, empirical=float(np.mean(s_c - s_m)), margin=float(np.min(s_c - s_m)),
                        statistic="bound = d*; empirical = mean of s^C - s^M; margin = its minimum; CI of P(s^C > s^M)",
                        n_seeds=m.study.n_seeds,
                        params={**_params(m), "c": m.study.c, "H": m.study.transform,
                                "mean_s_M": float(np.mean(s_m)), "mean_s_C": float(np.mean(s_c))},
                        note=note,
                    ))
    return out


def _corrected_records(m: study.LinearMeasurement) -> list[Record]:
    claim = theory.get_claim("corrected-rv")
    out = []
    for objective, margin in m.corrected_margin.items():
        judged = rules.identity(margin, tolerance=1e-9,
                                what="r_k >= (X_kk - lam_(c+1)) / (lam_1 - lam_(c+1)) for every k of a client matrix")
        out.append(Record.judged(
            judged, claim=claim.id, source=claim.source, level="simulation", reading={"variant": objective},
            bound=0.0, empirical=judged.statistic, margin=judged.statistic,
            statistic="min over k, clients and seeds of r_k - corrected lower bound", n_seeds=m.study.n_seeds,
            params={**_params(m), "c": m.study.c}, note=judged.rule + ".",
        ))
    return out


def zero_diagonal_record(avg: study.MaskAverage) -> Record:
    """Eq. 4 averaged over sampled masks against ``p(1-p)(S - diag S)``: diagonal exactly 0,
    off-diagonal within a Bonferroni-style envelope of Gaussian z-scores."""
    claim = theory.get_claim("mim-alignment-zero-diagonal")
    d = avg.mc.shape[0]
    diag_max = float(np.max(np.abs(np.diag(avg.mc))))
    off = ~np.eye(d, dtype=bool)
    z_max = float(np.max(np.abs(avg.mc - avg.exact)[off] / np.maximum(avg.se[off], 1e-300)))
    envelope = 5.0 + math.sqrt(2 * math.log(off.sum()))
    holds = diag_max == 0.0 and z_max < envelope
    return Record(
        claim=claim.id, source=claim.source, level="simulation", verdict="holds" if holds else "fails",
        reading={"mim": "alignment-exact"}, bound=0.0, empirical=diag_max, margin=-diag_max,
        statistic="max |diagonal| of the mask-averaged Eq. 4 cross-moment", n_seeds=1,
        params={"d": d, "p": avg.p, "n_masks": avg.n_masks},
        note=(f"Monte-Carlo over {avg.n_masks} sampled masks: max |diagonal| = {diag_max:g} (exactly 0 because "
              f"m_k(1-m_k) = 0 on every mask, whereas the paper's surrogate X^M (Eq. 17) has diagonal 2p(1-p) x_k^2); "
              f"off-diagonal vs p(1-p) S_kl: max z = {z_max:.2f} (rule: < {envelope:.2f} = 5 + sqrt(2 log #entries), a "
              "Bonferroni-style envelope for the max of Gaussian z-scores)."),
    )


def order_records(sweep: tuple[study.LinearMeasurement, ...]) -> list[Record]:
    """Theorem 4.4's orders ``s^M = Theta(d^{-4/5})``, ``s^C = Theta(d^{-3/5})`` by the slope of
    the proof sensitivity; the exponent is the one sympy derives from the claim's order."""
    out = []
    for scope in SCOPES:
        comparison = theory.find_claim(family="comparison", scope=scope)
        for objective in OBJECTIVES:
            family, _ = family_of(objective)
            expected = float(bound_claim(objective, scope).order_exponent())
            d_all = np.concatenate([np.full(m.sensitivities(objective, "proof", scope).size, m.study.data.d, float)
                                    for m in sweep])
            s_all = np.concatenate([m.sensitivities(objective, "proof", scope).ravel() for m in sweep])
            judged = rules.slope(d_all, s_all, expected, tolerance=SLOPE_TOLERANCE)
            verdict, note = judged.verdict, judged.rule + "."
            zero = float(np.mean(s_all <= 0))
            if zero > 0:
                note += f" {100 * zero:.0f}% of trials have s = 0 exactly (no log); they are left out of the fit."
            if zero == 1.0:
                verdict = "inconclusive"
                note += " s = 0 on every trial: an upper bound O(d^a) holds trivially, the Theta order has nothing to fit."
            side = "M" if family == "mim" else "C"
            out.append(Record.judged(
                judged, claim=comparison.id, source=f"Theorem 4.4 (order of s^{side}, {scope})", level="simulation",
                verdict=verdict, reading={**reading_of(objective), "sensitivity": "proof", "variant": "order"},
                bound=expected, empirical=judged.statistic,
                margin=None if math.isnan(judged.statistic) else judged.statistic - expected,
                statistic="bound = the stated exponent; empirical = fitted slope of log s on log d",
                n_seeds=min(m.study.n_seeds for m in sweep),
                params={"d": sorted({m.study.data.d for m in sweep}), "seeds_per_d": [m.study.n_seeds for m in sweep],
                        "p": sweep[0].study.p, "N": sweep[0].study.data.N, "tolerance": SLOPE_TOLERANCE},
                note=note,
            ))
    return out
