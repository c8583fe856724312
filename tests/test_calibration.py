"""Calibration of every statistical rule, measured over many seeds of synthetic data.

For each rule of :mod:`bounds.judging.rules` (and the cross-``d`` constant rule) two
measurements, each over ``SEEDS`` fixed seeds (``numpy.random.default_rng(seed)``):

* **False alarms at the boundary of the rule's null** (the claim just true: a binomial rate
  equal to ``p0``, a sign equally often positive and negative, a slope at the edge of its band,
  a mean difference of 0, no rank correlation, one constant at every ``d``). Rule of this test:
  the number of ``fails`` must not exceed the ``1 - 1e-4`` quantile of ``Binomial(SEEDS,
  ALPHA)`` — the exact binomial upper limit of what a rule with false-alarm rate ``<= ALPHA``
  produces; a calibrated rule fails this check with probability ``< 1e-4``.
* **Power at the rule's stated alternative**: the measured rate of ``fails`` must lie in the
  two-sided exact (Clopper-Pearson) ``1 - 1e-4`` interval around it, i.e. the stated power must
  lie inside the interval of the measured rate (a rule that states its power wrongly, or whose
  test is not the one it states, is caught; a correct one fails with probability ``< 1e-4``).

The data are drawn vectorised (one NumPy call per rule for all seeds); a rule whose verdict
depends only on counts is evaluated once per distinct count. Exact checks (`rules.identity`,
`rules.every_trial`) have false-alarm rate 0 by construction and are not measured here.

A check that cannot fail is no check: `test_the_harness_rejects_miscalibrated_rules` runs
the same harness on deliberately mis-specified rules (a Wald normal-approximation binomial
test, a slope interval with a normal instead of a t quantile, a power stated at the wrong
alternative) and requires it to reject each.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from bounds.judging import rules
from bounds.judging.constant_rule import cross_d_constant

ALPHA = rules.ALPHA
SEEDS = 2000
#: Probability with which a calibrated rule fails a check of this module.
RISK = 1e-4


def allowed_false_alarms(seeds: int = SEEDS, alpha: float = ALPHA) -> int:
    """The ``1 - RISK`` quantile of ``Binomial(seeds, alpha)``: more ``fails`` than this at the
    boundary of the null means a false-alarm rate above ``alpha``."""
    return int(stats.binom.ppf(1 - RISK, seeds, alpha))


def power_interval(rejections: int, seeds: int = SEEDS) -> tuple[float, float]:
    """Two-sided exact ``1 - RISK`` Clopper-Pearson interval of a measured rejection rate."""
    ci = stats.binomtest(int(rejections), seeds).proportion_ci(confidence_level=1 - RISK, method="exact")
    return float(ci.low), float(ci.high)


def calibrated(false_alarms: int, *, seeds: int = SEEDS) -> bool:
    return false_alarms <= allowed_false_alarms(seeds)


def power_matches(rejections: int, stated: float, *, seeds: int = SEEDS) -> bool:
    lo, hi = power_interval(rejections, seeds)
    return lo <= stated <= hi


def count_fails(verdicts) -> int:
    return int(sum(v == "fails" for v in verdicts))


def by_count(rule, counts: np.ndarray) -> list:
    """``rule(count)`` for each seed's count, evaluated once per distinct count."""
    cache = {int(k): rule(int(k)) for k in np.unique(counts)}
    return [cache[int(k)] for k in counts]


# --- binomial: "rate >= p0" (Theorems 4.2 / 4.3) -------------------------------------------

N_BIN, P0 = 200, 0.9


def _binomial_fails(rate: float, seed: int, rule=rules.binomial) -> tuple[int, float]:
    counts = np.random.default_rng(seed).binomial(N_BIN, rate, size=SEEDS)
    judged = by_count(lambda k: rule(k, N_BIN, P0), counts)
    return count_fails(j.verdict for j in judged), judged[0].power


def test_binomial_false_alarms_and_power():
    false_alarms, _ = _binomial_fails(P0, seed=1)
    assert calibrated(false_alarms), (false_alarms, allowed_false_alarms())
    rejections, stated = _binomial_fails(P0 - 0.1, seed=2)  # the stated alternative p0 - 0.1
    assert stated == pytest.approx(rules.binomial_power(N_BIN, P0, P0 - 0.1))
    assert power_matches(rejections, stated), (rejections / SEEDS, stated, power_interval(rejections))


# --- sign test: "the paired difference is positive" (Theorem 4.4) ------------------------

N_SIGN = 40


def _sign_fails(p_negative: float, seed: int) -> tuple[int, float]:
    """Each difference negative with probability ``p_negative``, else positive (no ties)."""
    neg = np.random.default_rng(seed).binomial(N_SIGN, p_negative, size=SEEDS)
    judged = by_count(lambda k: rules.sign_test(np.r_[-np.ones(k), np.ones(N_SIGN - k)]), neg)
    return count_fails(j.verdict for j in judged), judged[0].power


def test_sign_test_false_alarms_and_power():
    false_alarms, _ = _sign_fails(0.5, seed=3)
    assert calibrated(false_alarms), (false_alarms, allowed_false_alarms())
    rejections, stated = _sign_fails(0.8, seed=4)  # stated alternative: P(difference < 0) = 0.8
    assert stated == pytest.approx(rules.sign_power(N_SIGN, 0.8))
    assert power_matches(rejections, stated), (rejections / SEEDS, stated, power_interval(rejections))


def test_sign_test_p_value_decides_fails():
    """The p-value is against the claim: ``fails`` exactly when it is below alpha."""
    for k in range(N_SIGN + 1):
        j = rules.sign_test(np.r_[-np.ones(k), np.ones(N_SIGN - k)])
        assert (j.verdict == "fails") == (j.p_value < ALPHA), (k, j)


# --- all_positive: several sign tests, Bonferroni (Corollary 4.5, Theorem 4.6) --------------

N_MONO, K_MONO = 46, 2


def _all_positive_fails(p_negative: tuple[float, ...], seed: int) -> tuple[int, float]:
    neg = np.random.default_rng(seed).binomial(N_MONO, p_negative, size=(SEEDS, K_MONO))
    labels = [str(i) for i in range(K_MONO)]

    def rule(code: int):
        ks = np.unravel_index(code, (N_MONO + 1,) * K_MONO)
        return rules.all_positive([np.r_[-np.ones(k), np.ones(N_MONO - k)] for k in ks], labels)

    # The verdict does not depend on the order of the differences (only the labels do): one
    # evaluation per sorted tuple of counts.
    judged = by_count(rule, np.ravel_multi_index(np.sort(neg, axis=1).T, (N_MONO + 1,) * K_MONO))
    return count_fails(j.verdict for j in judged), judged[0].power


def test_all_positive_false_alarms_and_power():
    false_alarms, _ = _all_positive_fails((0.5,) * K_MONO, seed=5)
    assert calibrated(false_alarms), (false_alarms, allowed_false_alarms())
    # Stated alternative: one difference negative with probability 0.8, the others at the boundary.
    rejections, stated = _all_positive_fails((0.8, 0.5), seed=6)
    assert stated == pytest.approx(rules.sign_power(N_MONO, 0.8, alpha=ALPHA / K_MONO))
    # The boundary difference adds at most its own false alarms (<= alpha / 2) to the power.
    lo, hi = power_interval(rejections)
    assert lo <= stated + (K_MONO - 1) * ALPHA / K_MONO and stated <= hi, (rejections / SEEDS, stated, (lo, hi))


# --- slope: "y = Theta(x^a)" (Theorem 4.4's orders) --------------------------------------

X_SLOPE = np.repeat([64.0, 128, 256, 512, 1024], 4)
EXPECTED, TOLERANCE, SIGMA = -0.6, 0.1, 0.15


def _slope_se() -> float:
    lx = np.log(X_SLOPE)
    return SIGMA / math.sqrt(np.sum((lx - lx.mean()) ** 2))


def _slope_fails(true_slope: float, seed: int, *, rule=rules.slope) -> int:
    noise = SIGMA * np.random.default_rng(seed).standard_normal((SEEDS, X_SLOPE.size))
    y = np.exp(true_slope * np.log(X_SLOPE) + noise)
    return count_fails(rule(X_SLOPE, row, EXPECTED, tolerance=TOLERANCE).verdict for row in y)


def test_slope_false_alarms_and_power():
    false_alarms = _slope_fails(EXPECTED + TOLERANCE, seed=7)  # at the band's edge
    assert calibrated(false_alarms), (false_alarms, allowed_false_alarms())
    # Stated alternative: the slope `tolerance` beyond the edge, at the design's true standard error.
    rejections = _slope_fails(EXPECTED + 2 * TOLERANCE, seed=8)
    stated = rules.slope_power(TOLERANCE / _slope_se(), X_SLOPE.size - 2)
    assert 0.2 < stated < 0.95  # an alternative where power is measurable, not 0 or 1
    assert power_matches(rejections, stated), (rejections / SEEDS, stated, power_interval(rejections))


# --- mean_difference: "the mean paired difference is >= 0" (downstream accuracies) -------

N_MEAN = 12


def _mean_fails(mean: float, seed: int) -> tuple[int, float]:
    diffs = mean + np.random.default_rng(seed).standard_normal((SEEDS, N_MEAN))
    judged = [rules.mean_difference(row) for row in diffs]
    return count_fails(j.verdict for j in judged), judged[0].power


def test_mean_difference_false_alarms_and_power():
    false_alarms, _ = _mean_fails(0.0, seed=9)
    assert calibrated(false_alarms), (false_alarms, allowed_false_alarms())
    rejections, stated = _mean_fails(-1.0, seed=10)  # stated alternative: one standard deviation below 0
    assert power_matches(rejections, stated), (rejections / SEEDS, stated, power_interval(rejections))


# --- negative_rank_correlation: "lower x goes with higher y" ------------------------------

N_RANK, RANK_SEEDS = 30, 1000


def _rank_fails(spearman: float, seed: int) -> tuple[int, float]:
    # Bivariate normal with the Pearson correlation whose Spearman correlation is `spearman`.
    r = 2 * math.sin(math.pi * spearman / 6)
    z = np.random.default_rng(seed).standard_normal((RANK_SEEDS, 2, N_RANK))
    x, y = z[:, 0], r * z[:, 0] + math.sqrt(1 - r * r) * z[:, 1]
    judged = [rules.negative_rank_correlation(a, b) for a, b in zip(x, y)]
    return count_fails(j.verdict for j in judged), judged[0].power


def test_rank_correlation_false_alarms_and_power():
    false_alarms, _ = _rank_fails(0.0, seed=11)
    assert calibrated(false_alarms, seeds=RANK_SEEDS), (false_alarms, allowed_false_alarms(RANK_SEEDS))
    rejections, stated = _rank_fails(0.5, seed=12)  # stated alternative: rank correlation +0.5
    assert power_matches(rejections, stated, seeds=RANK_SEEDS), (rejections / RANK_SEEDS, stated,
                                                                  power_interval(rejections, RANK_SEEDS))


# --- cross_d_constant: one d-independent constant (reading 5) ----------------------------

D_CONST = [64, 128, 256, 512, 1024, 2048]
CONST_SEEDS = 1000


def test_constant_rule_false_alarms():
    """One constant at every d (log-normal needed C): the rule's one p-value has level alpha."""
    needed = 2 * np.exp(0.3 * np.random.default_rng(13).standard_normal((CONST_SEEDS, len(D_CONST), 50)))
    judged = [cross_d_constant(D_CONST, list(row), p0=0.9) for row in needed]
    assert all((j.verdict == "fails") == (j.p_value < ALPHA) for j in judged)
    false_alarms = count_fails(j.verdict for j in judged)
    assert calibrated(false_alarms, seeds=CONST_SEEDS), (false_alarms, allowed_false_alarms(CONST_SEEDS))


# --- the harness can fail ----------------------------------------------------------------


def _normal_binomial(successes: int, trials: int, p0: float) -> rules.Judgement:
    """Mis-specified: the normal approximation (score test) in place of the exact binomial test,
    anti-conservative for a rate near 1, where the binomial's lower tail is longer than the
    normal's (size 0.031 at 100 trials and p0 = 0.97)."""
    rate = successes / trials
    p = float(stats.norm.cdf((rate - p0) / math.sqrt(p0 * (1 - p0) / trials)))
    return rules.Judgement("fails" if p < ALPHA else "holds", rate, None, p, "wald", successes, trials,
                           rules.binomial_power(trials, p0, p0 - 0.1))


def _normal_slope(x, y, expected, *, tolerance):
    """Mis-specified: the slope interval with a normal quantile in place of Student's t."""
    fit = stats.linregress(np.log(x), np.log(y))
    half = stats.norm.ppf(1 - ALPHA / 2) * fit.stderr
    lo, hi = fit.slope - half, fit.slope + half
    verdict = "fails" if hi < expected - tolerance or lo > expected + tolerance else "inconclusive"
    return rules.Judgement(verdict, fit.slope, (lo, hi), None, "normal slope")


def test_the_harness_rejects_miscalibrated_rules():
    global N_BIN, P0, X_SLOPE
    saved = N_BIN, P0, X_SLOPE
    try:
        # The normal approximation at a rate near 1 (p0 = 0.97, 100 trials) rejects 3 alpha of the time;
        # the exact rule on the same draws stays within alpha.
        N_BIN, P0 = 100, 0.97
        false_alarms, _ = _binomial_fails(P0, seed=14, rule=_normal_binomial)
        assert not calibrated(false_alarms), false_alarms
        assert calibrated(_binomial_fails(P0, seed=14)[0])
        # A normal quantile at 3 residual degrees of freedom: intervals too narrow, too many fails.
        X_SLOPE = np.array([64.0, 128, 256, 512, 1024])
        assert not calibrated(_slope_fails(EXPECTED + TOLERANCE, seed=15, rule=_normal_slope))
    finally:
        N_BIN, P0, X_SLOPE = saved
    # A power stated at the wrong alternative (p0 - 0.05 instead of the measured p0 - 0.1).
    rejections, _ = _binomial_fails(P0 - 0.1, seed=16)
    assert not power_matches(rejections, rules.binomial_power(N_BIN, P0, P0 - 0.05))
    assert power_matches(rejections, rules.binomial_power(N_BIN, P0, P0 - 0.1))  # the correct statement passes
