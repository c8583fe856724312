"""The statistical rules that turn measurements into verdicts, in one place.

Every rule returns a `Judgement`: the statistic it computed, its confidence interval, a
p-value where one exists, the verdict, and the rule in words (what a ledger note quotes). The
false-alarm rate of every rule is ``ALPHA``: a true claim is reported "fails" with probability
at most ``ALPHA``. The p-value is always that of the test *against the claim* (null: the claim
holds here), so that a statistical rule says "fails" exactly when ``p_value < alpha``; this is
what a family of records is corrected on (`adjust`, `bounds.judging.family`). Exact checks
(`identity`, `every_trial`) have no p-value: their "fails" is a counterexample, not a chance event.

- `binomial`: "the event holds with probability at least p0" (the high-probability bounds of
  Theorems 4.2 and 4.3), one-sided exact binomial test;
- `sign_test`: "the paired difference is positive" (Theorem 4.4, Corollary 4.5, Theorem 4.6),
  exact sign test;
- `slope`: "y = Theta(x^a)" (the orders of Theorem 4.4), OLS log-log slope with a t interval;
- `identity`: a deterministic equality or inequality checked on every sample;
- `every_trial`: a deterministic event that must hold on every random instance (the
  population matrix of each drawn ``H``), as `binomial` at ``p0 = 1`` with its power;
- `mean_difference`: the t interval of a mean paired difference (downstream accuracies);
- `all_positive`: several sign tests at once, Bonferroni-corrected;
- `negative_rank_correlation`: "lower x goes with higher y" (Spearman's rho);
- `untie`: differences within rounding are ties, not signs;
- `adjust`: a family's p-values adjusted for multiplicity (Holm, Benjamini–Hochberg,
  Benjamini–Yekutieli, Bonferroni); `bounds.judging.family.control` applies it to a run.

    >>> binomial(200, 200, 0.96).verdict
    'holds'
    >>> binomial(64, 64, 0.96).verdict  # could reject, but has power 0.69 < 0.8 against 0.86
    'inconclusive'
    >>> sign_test([0.1] * 12).verdict
    'holds'
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal, Sequence

import numpy as np
from scipy import stats

Verdict = Literal["holds", "holds-trivially", "fails", "inconclusive", "vacuous"]

#: False-alarm rate of every rule.
ALPHA = 0.01
#: Differences below this are ties (identities up to eigen-solver rounding), not effects: the
#: sensitivities lie in [0, 1] and the effects the claims concern are >= 1e-4.
TIE = 1e-9


@dataclasses.dataclass(frozen=True)
class Judgement:
    """What a rule found: ``statistic`` (success rate, slope, mean difference, worst margin),
    its two-sided ``ci``, ``p_value`` of the test against the claim ("fails" iff ``p_value <
    alpha``; None for exact checks), the counts behind a counting rule, the ``power`` where the
    rule states one, and the ``verdict`` with the ``rule`` in words."""

    verdict: Verdict
    statistic: float
    ci: tuple[float, float] | None
    p_value: float | None
    rule: str
    successes: int | None = None
    trials: int | None = None
    power: float | None = None


#: The power a non-rejection needs before a binomial record may say "holds".
POWER = 0.8


def binomial_power(trials: int, p0: float, p_alt: float, *, alpha: float = ALPHA) -> float:
    """Probability that the one-sided exact binomial test of `binomial` rejects "rate >= p0"
    at level ``alpha`` when the true rate is ``p_alt``.

    >>> round(binomial_power(200, 0.9, 0.8), 3) > 0.8
    True
    """
    critical = int(stats.binom.ppf(alpha, trials, p0))  # largest count still rejected, after the fix below
    if stats.binom.cdf(critical, trials, p0) >= alpha:
        critical -= 1
    return float(stats.binom.cdf(critical, trials, p_alt)) if critical >= 0 else 0.0


def binomial(successes: int, trials: int, p0: float, *, alpha: float = ALPHA, p_alt: float | None = None) -> Judgement:
    """Judge "the event holds with probability at least ``p0``".

    One-sided exact binomial test of H0: P(success) >= p0 against P < p0. Reject at ``alpha``
    -> "fails" (false-alarm rate <= alpha when the claim is true). Otherwise "holds" if the
    test had power at least `POWER` (0.8) to reject at the alternative ``p_alt`` (default
    ``p0 - 0.1``, floored at 0), or if the rate is shown to exceed ``p0`` (the mirrored
    one-sided test rejects "rate <= p0" at ``alpha``: positive evidence, whatever the power);
    else "inconclusive": too few trials for a non-rejection to mean anything. The CI is the two-sided 1-alpha Clopper-Pearson interval of the success
    rate; ``power`` is reported.
    """
    if trials < 1:
        raise ValueError(f"trials={trials} must be >= 1")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes={successes} must be in [0, trials={trials}]")
    if not 0 < p0 <= 1:
        raise ValueError(f"p0={p0} must be in (0, 1]")
    test = stats.binomtest(successes, trials, p0, alternative="less")
    ci = stats.binomtest(successes, trials).proportion_ci(confidence_level=1 - alpha, method="exact")
    p_alt = max(0.0, p0 - 0.1) if p_alt is None else float(p_alt)
    power = binomial_power(trials, p0, p_alt, alpha=alpha)
    above = stats.binomtest(successes, trials, p0, alternative="greater").pvalue < alpha
    if test.pvalue < alpha:
        verdict: Verdict = "fails"
    elif power >= POWER or above:
        verdict = "holds"
    else:
        verdict = "inconclusive"  # a non-rejection the test could rarely have made is no evidence
    rule = (
        f"one-sided exact binomial test, H0: P(success) >= {p0:.4g}, alpha={alpha}; "
        f"{successes}/{trials} successes, p={test.pvalue:.3g}; power {power:.2f} against rate {p_alt:.4g}"
    )
    return Judgement(verdict, successes / trials, (float(ci.low), float(ci.high)), float(test.pvalue), rule,
                     successes, trials, power)


def every_trial(successes: int, trials: int, *, what: str, alpha: float = ALPHA) -> Judgement:
    """Judge an event that is deterministic on each trial and must hold on every one, the trials
    being independent random instances (at ``samples = population`` the matrix ``E[S]`` is fixed
    given the seed's ``H``; the stated probability, which bounds sampling error, then requires
    the event for every ``H``: Theorems 4.2 / 4.3 as ``n -> infinity``).

    This is `binomial` at ``p0 = 1``: one failed trial rejects (a counterexample), none never does
    (false-alarm rate 0), so the judgement carries no p-value (an exact check, outside any
    family of tests); "holds" needs power `POWER` against a failure rate of 0.1 among the
    instances, ``1 - 0.9^trials`` (16 trials or more), else "inconclusive".

    >>> every_trial(16, 16, what="x").verdict, every_trial(4, 4, what="x").verdict
    ('holds', 'inconclusive')
    >>> every_trial(15, 16, what="x").verdict
    'fails'
    """
    j = binomial(successes, trials, 1.0, alpha=alpha)
    rule = (f"exact check of {what} on each of {trials} independent instances (it must hold on every one): "
            f"{trials - successes} fail (any one is a counterexample); power {j.power:.2f} against a failure rate "
            f"of 0.1 among the instances")
    return dataclasses.replace(j, rule=rule, p_value=None)


def sign_test(differences: Sequence[float] | np.ndarray, *, alpha: float = ALPHA) -> Judgement:
    """Judge "the difference is positive" over paired trials (e.g. ``s^C - s^M`` per seed).

    Exact one-sided sign test, H0: P(difference > 0) <= 1/2. Reject at ``alpha`` -> "holds";
    if instead the mirrored test rejects (negative more often) -> "fails"; else
    "inconclusive". Ties count against the claim. The CI is of P(difference > 0); ``p_value``
    is the mirrored test's (against the claim), ``power`` the probability of "fails" when
    ``P(difference < 0) = 0.8`` (`sign_power`; by symmetry also that of "holds" at
    ``P(difference > 0) = 0.8``).
    """
    diff = np.asarray(differences, dtype=float).ravel()
    if diff.size == 0 or not np.all(np.isfinite(diff)):
        raise ValueError("differences must be a non-empty array of finite values")
    pos, neg, n = int(np.sum(diff > 0)), int(np.sum(diff < 0)), diff.size
    p_pos = stats.binomtest(pos, n, 0.5, alternative="greater").pvalue
    p_neg = stats.binomtest(neg, n, 0.5, alternative="greater").pvalue
    ci = stats.binomtest(pos, n).proportion_ci(confidence_level=1 - alpha, method="exact")
    if p_pos < alpha:
        verdict: Verdict = "holds"
    elif p_neg < alpha:
        verdict = "fails"
    else:
        verdict = "inconclusive"
    rule = f"exact one-sided sign test, alpha={alpha}: {pos}/{n} positive (p={p_pos:.3g}), {neg}/{n} negative (p={p_neg:.3g})"
    return Judgement(verdict, pos / n, (float(ci.low), float(ci.high)), float(p_neg), rule, pos, n,
                     sign_power(n, 0.8, alpha=alpha))


def sign_power(n: int, p_alt: float, *, alpha: float = ALPHA) -> float:
    """Probability that `sign_test` over ``n`` paired differences says "holds" when each is
    positive with probability ``p_alt`` (independently); by symmetry, that it says "fails" when
    each is negative with probability ``p_alt``.

    >>> round(sign_power(12, 0.8, alpha=0.01), 3)
    0.275
    """
    # The smallest count k with P(Binomial(n, 1/2) >= k) < alpha: binom.sf(k - 1) < alpha.
    counts = np.arange(n + 2)
    k = int(counts[np.argmax(stats.binom.sf(counts - 1, n, 0.5) < alpha)])
    return float(stats.binom.sf(k - 1, n, p_alt))


def untie(differences) -> np.ndarray:
    """Differences within rounding (``|diff| <= TIE``) become exact ties (0)."""
    diff = np.asarray(differences, dtype=float)
    return np.where(np.abs(diff) <= TIE, 0.0, diff)


def all_positive(differences: Sequence[np.ndarray], labels: Sequence[str], *, alpha: float = ALPHA) -> Judgement:
    """Sign tests that every one of several paired differences is positive, each at
    ``alpha / len(differences)`` (Bonferroni), ties within rounding counting against the claim.
    "holds" when every test holds, "fails" when any mirrored test rejects. The CI is the
    elementwise minimum of the tests' CIs (the least supported difference); ``p_value`` the
    Bonferroni-adjusted p-value against the claim, ``min(1, k * min_i p_i)`` over the ``k``
    mirrored tests ("fails" iff it is ``< alpha``)."""
    if len(differences) != len(labels) or not differences:
        raise ValueError(f"differences and labels must be non-empty and of equal length, got {len(differences)} and {len(labels)}")
    each = alpha / len(differences)
    judged = [sign_test(untie(diff), alpha=each) for diff in differences]
    verdicts = [j.verdict for j in judged]
    if "fails" in verdicts:
        verdict: Verdict = "fails"
    elif all(v == "holds" for v in verdicts):
        verdict = "holds"
    else:
        verdict = "inconclusive"
    ci = (min(j.ci[0] for j in judged), min(j.ci[1] for j in judged))
    parts = [f"{label}: {j.successes}/{j.trials} positive, p={j.p_value:.3g} -> {j.verdict}" for label, j in zip(labels, judged)]
    rule = f"exact one-sided sign tests over seeds at alpha={alpha}/{len(differences)} each (Bonferroni): " + "; ".join(parts)
    p_value = min(1.0, len(judged) * min(j.p_value for j in judged))
    # Power: "fails" when one difference is negative with probability 0.8 (the smallest test).
    power = sign_power(min(j.trials for j in judged), 0.8, alpha=each)
    return Judgement(verdict, min(j.statistic for j in judged), ci, p_value, rule, power=power)


def slope(x, y, expected: float, *, tolerance: float, alpha: float = ALPHA) -> Judgement:
    """Judge an order claim ``y = Theta(x^expected)`` by the fitted log-log slope.

    Several ``y`` per ``x`` (seeds) are allowed; non-positive or non-finite points are left
    out. OLS of log y on log x with a two-sided (1-alpha) t interval of the slope: "holds" if
    the CI lies inside ``expected +- tolerance``, "fails" if entirely outside, else
    "inconclusive". ``p_value`` (against the claim, H0: the slope lies in the band) is
    ``min(1, 2 P(T > dist / se))``, ``dist`` the fitted slope's distance beyond the nearer edge of
    the band: it is ``< alpha`` exactly when the CI lies outside the band (false-alarm rate
    ``alpha / 2`` at the band's edge). ``power``: the probability of "fails" when the true slope
    lies ``tolerance`` beyond an edge of the band, the fitted standard error taken as the true
    one (noncentral t with ``tolerance / se``; `slope_power`).
    """
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same size, got {x.size} and {y.size}")
    if tolerance <= 0:
        raise ValueError(f"tolerance={tolerance} must be > 0")
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    lx, ly = np.log(x[ok]), np.log(y[ok])
    if lx.size < 3 or np.unique(lx).size < 2:
        return Judgement("inconclusive", math.nan, None, None,
                         f"log-log slope needs >= 3 positive finite points at >= 2 x values, got {lx.size}")
    fit = stats.linregress(lx, ly)
    dof = lx.size - 2
    half = stats.t.ppf(1 - alpha / 2, dof) * fit.stderr if dof > 0 else math.inf
    lo, hi = fit.slope - half, fit.slope + half
    if expected - tolerance <= lo and hi <= expected + tolerance:
        verdict: Verdict = "holds"
    elif hi < expected - tolerance or lo > expected + tolerance:
        verdict = "fails"
    else:
        verdict = "inconclusive"
    beyond = max(expected - tolerance - fit.slope, fit.slope - expected - tolerance)
    p_value = 1.0 if fit.stderr == 0 and beyond <= 0 else (
        0.0 if fit.stderr == 0 else min(1.0, 2 * float(stats.t.sf(beyond / fit.stderr, dof))))
    rule = (
        f"OLS log-log slope {fit.slope:.3f} with {100 * (1 - alpha):.0f}% CI [{lo:.3f}, {hi:.3f}] "
        f"against {expected:.3f} +- {tolerance} (p = {p_value:.3g} against the band)"
    )
    power = slope_power(tolerance / fit.stderr if fit.stderr > 0 else math.inf, dof, alpha=alpha)
    return Judgement(verdict, float(fit.slope), (float(lo), float(hi)), p_value, rule, power=power)


def slope_power(effect: float, dof: int, *, alpha: float = ALPHA) -> float:
    """Probability that `slope` says "fails" when the true slope lies ``effect`` standard errors
    beyond an edge of its band (``dof`` residual degrees of freedom): the statistic
    ``(slope - edge) / se`` is noncentral t with noncentrality ``effect``, and "fails" needs it
    above ``t_{1 - alpha/2}`` (the far side of the band adds nothing measurable).

    >>> round(slope_power(5.0, 30, alpha=0.01), 3)
    0.984
    """
    if math.isinf(effect):
        return 1.0
    return float(stats.nct.sf(stats.t.ppf(1 - alpha / 2, dof), dof, effect))


def identity(margins, *, tolerance: float, what: str) -> Judgement:
    """A deterministic claim checked on every sample: "holds" when every margin is
    ``>= -tolerance`` (an inequality) — pass ``-abs(gap)`` for an equality — else "fails",
    the worst sample being the counterexample. The statistic is the worst margin."""
    margins = np.asarray(margins, dtype=float).ravel()
    if margins.size == 0 or not np.all(np.isfinite(margins)):
        raise ValueError("margins must be a non-empty array of finite values")
    violations = int(np.sum(margins < -tolerance))
    worst = float(np.min(margins))
    rule = (f"exact check of {what} on each of {margins.size} samples: {violations} beyond {tolerance:g} "
            f"(worst margin {worst:.3g}); one violation is a counterexample")
    return Judgement("holds" if violations == 0 else "fails", worst, None, None, rule,
                     margins.size - violations, margins.size)


def mean_ci(values, *, alpha: float = ALPHA) -> tuple[float, tuple[float, float]]:
    """Mean and two-sided ``1 - alpha`` Student-t interval of the finite ``values`` (NaNs
    dropped; the interval is infinite with fewer than two values)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, (math.nan, math.nan)
    mean = float(v.mean())
    if v.size < 2:
        return mean, (-math.inf, math.inf)
    half = float(stats.t.ppf(1 - alpha / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return mean, (mean - half, mean + half)


def mean_difference(differences, *, alpha: float = ALPHA) -> Judgement:
    """Judge "the mean paired difference is >= 0" by its two-sided t interval: "holds" if the
    interval lies above 0, "fails" if below, else "inconclusive". ``p_value`` (against the claim,
    H0: mean >= 0) is ``min(1, 2 P(T <= t))`` at ``t = mean / se``: ``< alpha`` exactly when the
    interval lies below 0 (false-alarm rate ``alpha / 2`` at mean 0); None with fewer than two
    finite values. ``power``: the probability of "fails" when the true mean is one standard
    deviation below 0 (noncentral t, noncentrality ``-sqrt(n)``)."""
    diff = np.asarray(differences, dtype=float)
    mean, (lo, hi) = mean_ci(diff, alpha=alpha)
    finite = diff[np.isfinite(diff)]
    p_value = power = None
    if finite.size >= 2:
        dof = finite.size - 1
        power = float(stats.nct.cdf(-stats.t.ppf(1 - alpha / 2, dof), dof, -math.sqrt(finite.size)))
        se = float(finite.std(ddof=1)) / math.sqrt(finite.size)
        p_value = (min(1.0, 2 * float(stats.t.cdf(mean / se, finite.size - 1))) if se > 0
                   else (0.0 if mean < 0 else 1.0))
    verdict: Verdict = "holds" if lo > 0 else "fails" if hi < 0 else "inconclusive"
    rule = (f"two-sided {100 * (1 - alpha):.0f}% t-interval of the mean paired difference over "
            f"{int(np.sum(np.isfinite(diff)))} seeds: [{lo:.4g}, {hi:.4g}]; holds if above 0, fails if below 0")
    return Judgement(verdict, mean, (lo, hi), p_value, rule, power=power)


def negative_rank_correlation(x, y, *, alpha: float = ALPHA) -> Judgement:
    """Judge "lower ``x`` goes with higher ``y``" by Spearman's rho: "holds" if negative at
    one-sided level ``alpha``, "fails" if positive at that level, else "inconclusive".
    ``p_value`` is the one-sided p of a positive correlation (against the claim); ``power`` the
    probability of "fails" at a true rank correlation of +0.5, by Fisher's z with the Spearman
    variance ``1.06 / (n - 3)`` (Fieller, Hartley and Pearson; an approximation)."""
    x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same size, got {x.size} and {y.size}")
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return Judgement("inconclusive", math.nan, None, None, "too few runs or a constant variable: no rank correlation")
    rho = float(stats.spearmanr(x, y).statistic)
    p_neg = float(stats.spearmanr(x, y, alternative="less").pvalue)
    p_pos = float(stats.spearmanr(x, y, alternative="greater").pvalue)
    verdict: Verdict = "holds" if p_neg < alpha else "fails" if p_pos < alpha else "inconclusive"
    rule = (f"Spearman rho = {rho:.3f} over {x.size} runs; one-sided p (negative) = {p_neg:.3g}, "
            f"p (positive) = {p_pos:.3g}, alpha = {alpha}")
    power = (float(stats.norm.sf(stats.norm.ppf(1 - alpha) - math.atanh(0.5) / math.sqrt(1.06 / (x.size - 3))))
             if x.size > 3 else 0.0)
    return Judgement(verdict, rho, None, p_pos, rule, trials=int(x.size), power=power)


#: The multiplicity corrections `adjust` knows: family-wise (``holm``, ``bonferroni``) and
#: false-discovery-rate (``bh`` under independence or positive dependence, ``by`` under any).
CORRECTIONS = ("holm", "bonferroni", "bh", "by")


def adjust(p_values, method: str = "holm") -> np.ndarray:
    """Adjusted p-values of a family (reject ``H_i`` at level ``alpha`` iff adjusted ``p_i < alpha``).

    With ``p_(1) <= ... <= p_(m)`` sorted and ``m`` the family size:

    - ``holm`` (step-down, family-wise error <= alpha under any dependence):
      ``p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``;
    - ``bonferroni``: ``min(1, m p_i)``;
    - ``bh`` (Benjamini–Hochberg, false discovery rate <= alpha under independence or positive
      regression dependence): ``p~_(i) = min_{j >= i} min(1, m p_(j) / j)``;
    - ``by`` (Benjamini–Yekutieli, any dependence): ``bh`` times ``sum_{k=1}^m 1/k``.

    >>> adjust([0.01, 0.04, 0.03, 0.2], "holm").round(4).tolist()
    [0.04, 0.09, 0.09, 0.2]
    >>> adjust([0.01, 0.04, 0.03, 0.2], "bh").round(4).tolist()
    [0.04, 0.0533, 0.0533, 0.2]
    """
    if method not in CORRECTIONS:
        raise ValueError(f"method={method!r} must be one of {CORRECTIONS}")
    p = np.asarray(p_values, dtype=float).ravel()
    if p.size and (not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1):
        raise ValueError("p_values must be finite and in [0, 1]")
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    rank = np.arange(1, m + 1)
    if method == "bonferroni":
        return np.minimum(1.0, m * p)
    if method == "holm":
        adjusted = np.maximum.accumulate(np.minimum(1.0, (m - rank + 1) * ranked))
    else:
        scale = np.sum(1.0 / rank) if method == "by" else 1.0
        adjusted = np.minimum.accumulate(np.minimum(1.0, scale * m * ranked / rank)[::-1])[::-1]
    out = np.empty(m)
    out[order] = adjusted
    return out
