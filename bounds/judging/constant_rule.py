"""The cross-``d`` constant rule of reading 5: is the constant hidden in an ``O(d^a)`` term
really independent of ``d``?

A bound such as Theorem 4.2's ``r_k >= 1 - C d^{-2/5} / (...)`` holds for *some* constant ``C``;
the theorem's content is that one ``C`` serves every ``d``. For each trial the caller computes
``needed_C``: the smallest ``C`` with which the bound holds for that trial. Two checks:

1. *Held-out coverage.* Fit ``C`` as the largest ``needed_C`` over the smaller half of the
   ``d`` values and judge the larger half with it: a trial meets the bound iff
   ``needed_C <= C_fit``. One-sided exact binomial test of ``P(meet) >= p0`` (``p0`` the
   success probability the claim states), p-value ``P(Binomial(n, p0) <= successes)``.
   Fitting and judging at the same ``d`` could not fail (exchangeable trials), hence the split.
   Calibration: if ``needed_C`` has one distribution ``F`` at every ``d``, the fitted maximum of
   ``m`` trials has ``F(C_fit) ~ Beta(m, 1)``, so it under-covers (``F(C_fit) < p0``) with
   probability ``p0^m``; given coverage the binomial p-value is valid, so ``binomial_p + p0^m``
   is a valid p-value whatever ``C_fit`` is.
2. *Trend.* OLS slope of ``log C(d)`` on ``log d``, ``C(d)`` the per-``d`` **median** of
   ``needed_C`` (the maximum would grow with the trial count and with tail noise), with a
   two-sided ``1 - alpha`` t confidence interval (``len(d) - 2`` degrees of freedom). A CI
   entirely above 0 means no ``d``-independent constant exists (false-alarm rate
   ``alpha / 2`` for log-normal noise around a true constant).

Verdict: one p-value against the claim, Bonferroni over the two checks,
``p_value = min(1, 2 min(binomial_p + p0^m, slope_p))`` with ``slope_p`` the one-sided p-value of
a positive slope; ``fails`` iff ``p_value < alpha``, i.e. the slope CI lies above 0 or
``binomial_p < alpha / 2 - p0^m``. Under a true constant ``fails`` has probability at most
``alpha``. Otherwise ``inconclusive`` if the held-out check cannot reject at all
(``p0^m >= alpha / 2``: the fit half is too small for the stated ``p0``) or has power below 0.8
against ``p_alt`` at its level ``alpha / 2 - p0^m`` (a non-rejection it could rarely have made);
otherwise ``holds``.

Example:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> d = [64, 128, 256, 512, 1024, 2048]
    >>> needed = [2 * np.exp(0.3 * rng.standard_normal(200)) for _ in d]
    >>> cross_d_constant(d, needed, p0=0.9).verdict
    'holds'
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np
from scipy import stats

from bounds.judging.rules import binomial_power

VERDICTS = ("holds", "fails", "inconclusive")


@dataclasses.dataclass(frozen=True)
class ConstantJudgement:
    """Result of `cross_d_constant`.

    ``C_per_d``: median ``needed_C`` per ``d`` (what the slope is fitted to); ``C_fit``: the
    largest ``needed_C`` over ``fit_d``; ``trials``/``successes``: held-out trials at
    ``judge_d`` and how many met the bound with ``C_fit``; ``binomial_p``: one-sided exact
    p-value of ``P(meet) >= p0``; ``undercover_probability``: ``p0^m`` (``m`` fit trials);
    ``binomial_power``: the held-out test's rejection probability if ``P(meet) = p_alt``, at its
    level ``alpha / 2 - p0^m``; ``slope``, ``slope_ci``, ``slope_p``: OLS slope of ``log C(d)`` on
    ``log d``, its two-sided ``1 - alpha`` t interval and the two-sided p-value of slope 0;
    ``p_value``: the rule's p-value against the claim (``fails`` iff ``< alpha``; module docstring).
    """

    verdict: str
    reason: str
    d: tuple[float, ...]
    C_per_d: tuple[float, ...]
    fit_d: tuple[float, ...]
    judge_d: tuple[float, ...]
    C_fit: float
    trials: int
    successes: int
    p0: float
    binomial_p: float
    undercover_probability: float
    p_alt: float
    binomial_power: float
    slope: float
    slope_ci: tuple[float, float]
    slope_p: float
    alpha: float
    p_value: float = 1.0


def _check_inputs(d, needed_C, p0, alpha, p_alt):
    for name, value, low_open, high_closed in (("p0", p0, 0, 1), ("alpha", alpha, 0, 0.5)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low_open < value <= high_closed:
            raise ValueError(f"{name} = {value!r} is out of range: need {low_open} < {name} <= {high_closed}")
    if p_alt is not None and (isinstance(p_alt, bool) or not isinstance(p_alt, (int, float))
                              or not 0 <= p_alt < p0):
        raise ValueError(f"p_alt = {p_alt!r} is out of range: need 0 <= p_alt < p0 = {p0}")
    d_arr = np.asarray(d)
    if d_arr.ndim != 1 or d_arr.size < 4 or not np.issubdtype(d_arr.dtype, np.number):
        raise ValueError(f"d = {d!r}: need a 1-D sequence of at least 4 dimensions (two to fit, two to judge)")
    if not np.all(np.isfinite(d_arr)) or np.any(d_arr <= 0) or np.any(np.diff(d_arr) <= 0):
        raise ValueError(f"d = {d!r}: need finite positive dimensions in strictly increasing order")
    if isinstance(needed_C, np.ndarray) and needed_C.ndim == 1:
        raise ValueError("needed_C: need one sequence of trials per d (a 2-D array or a list of arrays)")
    if len(needed_C) != d_arr.size:
        raise ValueError(f"needed_C: got {len(needed_C)} trial sets for {d_arr.size} values of d")
    trials = []
    for k, values in zip(d_arr, needed_C):
        values = np.asarray(values, dtype=float)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"needed_C at d = {k}: need a non-empty 1-D sequence of trials")
        if not np.all(np.isfinite(values)) or np.any(values <= 0):
            raise ValueError(
                f"needed_C at d = {k}: every needed constant must be finite and > 0 (the slope is "
                "fitted on log C; a trial met by every C > 0 has needed_C = tiny, not 0)"
            )
        trials.append(values)
    return d_arr, trials


def cross_d_constant(
    d: Sequence[float],
    needed_C: Sequence[Sequence[float]],
    *,
    p0: float,
    alpha: float = 0.01,
    p_alt: float | None = None,
) -> ConstantJudgement:
    """Judge whether one ``d``-independent constant serves every ``d`` (reading 5).

    ``d``: the dimensions of the sweep, increasing; ``needed_C[j]``: per trial at ``d[j]``, the
    smallest constant with which the bound holds. ``p0``: the success probability the claim
    states; ``p_alt`` (default ``p0 - 0.1``): the alternative at which power is reported. The
    smaller ``len(d) // 2`` dimensions fit, the rest judge. Rules and error rates: module
    docstring. Raises ``ValueError`` naming the offending argument.
    """
    d_arr, trials = _check_inputs(d, needed_C, p0, alpha, p_alt)
    p_alt = max(0.0, p0 - 0.1) if p_alt is None else float(p_alt)
    half = d_arr.size // 2
    fit, judge = trials[:half], trials[half:]
    m = sum(t.size for t in fit)
    C_fit = float(max(t.max() for t in fit))
    held_out = np.concatenate(judge)
    n, successes = int(held_out.size), int(np.sum(held_out <= C_fit))
    binomial_p = float(stats.binom.cdf(successes, n, p0))
    undercover = float(p0**m)
    held_level = alpha / 2 - undercover  # the held-out check's share of alpha, less under-coverage
    power = binomial_power(n, p0, p_alt, alpha=held_level) if held_level > 0 else 0.0

    C_per_d = np.array([np.median(t) for t in trials])
    x, y = np.log(d_arr.astype(float)), np.log(C_per_d)
    fit_line = stats.linregress(x, y)
    dof = d_arr.size - 2
    t_crit = float(stats.t.ppf(1 - alpha / 2, dof))
    slope, se = float(fit_line.slope), float(fit_line.stderr)
    if not math.isfinite(se) and np.ptp(y) == 0:  # one constant at every d (e.g. every trial met by any C)
        slope, se = 0.0, 0.0
    ci = (slope - t_crit * se, slope + t_crit * se)
    slope_p = float(fit_line.pvalue) if se > 0 else (0.0 if slope != 0 else 1.0)
    rising_p = float(stats.t.sf(slope / se, dof)) if se > 0 else (0.0 if slope > 0 else 1.0)
    p_value = min(1.0, 2 * min(binomial_p + undercover, rising_p))

    held = f"{successes}/{n} held-out trials met the bound with C_fit = {C_fit:.4g} (p = {binomial_p:.3g} vs p0 = {p0})"
    trend = f"slope of log C(d) on log d = {slope:.3g}, {100 * (1 - alpha):g}% CI [{ci[0]:.3g}, {ci[1]:.3g}]"
    if p_value < alpha:
        causes = []
        if ci[0] > 0:
            causes.append(f"no d-independent constant: {trend} lies above 0")
        if binomial_p < held_level:
            causes.append(f"held-out coverage rejected at alpha/2 - p0^m = {held_level:.3g}: {held}")
        verdict, reason = "fails", "; ".join(causes) + f" (p = {p_value:.3g} against the claim, both checks)"
    elif held_level <= 0:
        verdict = "inconclusive"
        reason = (f"fit half too small for p0 = {p0}: the fitted maximum of {m} trials under-covers with "
                  f"probability p0^m = {undercover:.3g} >= alpha/2 = {alpha / 2:g}, so the held-out check cannot "
                  f"reject; {held}; {trend}")
    elif power < 0.8:
        # Not rejecting with a test that could rarely reject is no evidence for the constant.
        verdict = "inconclusive"
        reason = (f"{held}; {trend} does not lie above 0, but the held-out test lacked power 0.8 against "
                  f"P(meet) = {p_alt:.3g} (power {power:.3g} with {n} trials)")
    else:
        verdict = "holds"
        reason = (f"{held}; {trend} does not lie above 0; the held-out test had power 0.8 against "
                  f"P(meet) = {p_alt:.3g} (power {power:.3g})")
    return ConstantJudgement(
        verdict=verdict, reason=reason, d=tuple(d_arr.tolist()),
        C_per_d=tuple(float(v) for v in C_per_d), fit_d=tuple(d_arr[:half].tolist()),
        judge_d=tuple(d_arr[half:].tolist()), C_fit=C_fit, trials=n, successes=successes,
        p0=float(p0), binomial_p=binomial_p, undercover_probability=undercover, p_alt=p_alt,
        binomial_power=power, slope=slope, slope_ci=(float(ci[0]), float(ci[1])),
        slope_p=slope_p if math.isfinite(slope_p) else 1.0, alpha=float(alpha), p_value=p_value,
    )
