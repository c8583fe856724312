"""The statistical rules every simulation verdict rests on, against exact answers."""

import math

import numpy as np
import pytest
from scipy import stats

from bounds.judging import rules
from bounds.judging.records import Record
from bounds.judging.rules import ALPHA


@pytest.mark.parametrize("n,p0", [(64, 0.9), (128, 0.83), (200, 0.99)])
def test_binomial_false_alarm_rate_is_at_most_alpha(n, p0):
    # Exact: the probability, under a true claim at the boundary P = p0, that the rule says "fails".
    rejects = [k for k in range(n + 1) if rules.binomial(k, n, p0).verdict == "fails"]
    assert stats.binom.pmf(rejects, n, p0).sum() <= ALPHA


def test_binomial_verdicts():
    assert rules.binomial(200, 200, 0.9).verdict == "holds"
    assert rules.binomial(0, 64, 0.9).verdict == "fails"
    # 12 / 12 at p0 = 0.78 could reject (0.22^12 < alpha) but has power 0.05 against 0.68, and
    # 12 / 12 does not show a rate above 0.78 at alpha (0.78^12 = 0.05): not evidence either way.
    j = rules.binomial(12, 12, 0.78)
    assert j.verdict == "inconclusive" and j.power < 0.8
    # 222 / 222 at p0 = 0.67 with power 0.74: the rate is shown to exceed p0 (0.67^222 < alpha).
    j = rules.binomial(222, 222, 0.67)
    assert j.power < 0.8 and j.verdict == "holds"
    # 150 / 222 at p0 = 0.67 (rate 0.68): neither rejected nor shown above p0, power 0.74.
    assert rules.binomial(150, 222, 0.67).verdict == "inconclusive"
    # 64 / 64 at p0 = 0.9: power 0.52, but 0.9^64 = 0.0012 < alpha shows the rate above 0.9.
    assert rules.binomial_power(64, 0.9, 0.8) < 0.8 and rules.binomial(64, 64, 0.9).verdict == "holds"
    # 3 trials at p0 = 0.3 can never reject (P(0 successes) = 0.7^3 = 0.34 > alpha): not "holds".
    assert rules.binomial(3, 3, 0.3).verdict == "inconclusive"
    assert rules.binomial(0, 3, 0.3).verdict == "inconclusive"
    j = rules.binomial(50, 64, 0.9)
    assert j.p_value == pytest.approx(stats.binomtest(50, 64, 0.9, alternative="less").pvalue)
    assert j.ci[0] < 50 / 64 < j.ci[1]
    # The CI is the two-sided Clopper-Pearson interval, not the one-sided bound of the test.
    two_sided = stats.binomtest(50, 64).proportion_ci(confidence_level=1 - ALPHA, method="exact")
    assert j.ci == pytest.approx((two_sided.low, two_sided.high))
    assert rules.binomial(64, 64, 0.9).ci[0] > 0.9


@pytest.mark.parametrize("bad", [dict(successes=3, trials=2, p0=0.5), dict(successes=0, trials=0, p0=0.5),
                                 dict(successes=1, trials=2, p0=0.0)])
def test_binomial_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        rules.binomial(bad["successes"], bad["trials"], bad["p0"])


def test_slope_verdict_recovers_a_known_exponent():
    rng = np.random.default_rng(0)
    x = np.repeat([32.0, 64, 128, 256, 512], 16)
    y = 3.0 * x**-0.8 * np.exp(0.1 * rng.standard_normal(x.size))
    assert rules.slope(x, y, -0.8, tolerance=0.1).verdict == "holds"
    assert rules.slope(x, y, -0.4, tolerance=0.1).verdict == "fails"
    noisy = 3.0 * x**-0.8 * np.exp(3.0 * rng.standard_normal(x.size))
    assert rules.slope(x, noisy, -0.8, tolerance=0.1).verdict == "inconclusive"


def test_slope_verdict_needs_positive_points():
    j = rules.slope([1.0, 2.0, 3.0], [0.0, 0.0, 0.0], -1.0, tolerance=0.1)
    assert j.verdict == "inconclusive" and math.isnan(j.statistic)


def test_sign_test():
    assert rules.sign_test(np.full(20, 0.3)).verdict == "holds"
    assert rules.sign_test(np.full(20, -0.3)).verdict == "fails"
    assert rules.sign_test(np.array([1.0, -1.0] * 10)).verdict == "inconclusive"
    with pytest.raises(ValueError):
        rules.sign_test(np.array([np.nan, 1.0]))


def test_record_validates_and_never_stores_non_finite_numbers():
    r = Record(claim="thm4.2-local", source="s", level="formula", verdict="holds", bound=float("nan"), ci=(0.0, float("inf")))
    assert r.bound is None and r.ci is None
    assert r.to_json()["bound"] is None
    with pytest.raises(ValueError, match="verdict"):
        Record(claim="thm4.2-local", source="s", level="formula", verdict="true")
    with pytest.raises(ValueError, match="level"):
        Record(claim="thm4.2-local", source="s", level="guess", verdict="holds")
    with pytest.raises(ValueError, match="reading"):
        Record(claim="thm4.2-local", source="s", level="formula", verdict="holds", reading={"colour": "red"})


def test_identity_rule_names_the_counterexample():
    assert rules.identity(np.array([0.0, 1e-12, 0.5]), tolerance=1e-9, what="x").verdict == "holds"
    j = rules.identity(np.array([0.1, -0.2, 0.3]), tolerance=1e-9, what="x")
    assert j.verdict == "fails" and j.statistic == pytest.approx(-0.2) and j.successes == 2


def test_all_positive_is_bonferroni_corrected():
    # 8/8 positive: p = 0.0039 < 0.01 alone, but not < 0.01 / 3 = 0.0033 with three tests.
    assert rules.sign_test(np.full(8, 1.0)).verdict == "holds"
    assert rules.all_positive([np.full(8, 1.0)] * 3, ["a", "b", "c"]).verdict == "inconclusive"
    assert rules.all_positive([np.full(9, 1.0)] * 3, ["a", "b", "c"]).verdict == "holds"
    assert rules.all_positive([np.full(9, 1.0), np.full(9, -1.0)], ["a", "b"]).verdict == "fails"
    # Differences within rounding are ties: never evidence that the difference is positive.
    assert rules.all_positive([np.full(12, 1e-12)], ["tie"]).verdict == "inconclusive"
    assert rules.sign_test(np.full(12, 1e-12)).verdict == "holds"  # the same numbers, untied


def test_mean_difference_interval():
    rng = np.random.default_rng(1)
    assert rules.mean_difference(1.0 + 0.1 * rng.standard_normal(10)).verdict == "holds"
    assert rules.mean_difference(-1.0 + 0.1 * rng.standard_normal(10)).verdict == "fails"
    assert rules.mean_difference(rng.standard_normal(4)).verdict in ("inconclusive", "holds", "fails")
    mean, (lo, hi) = rules.mean_ci([1.0, 2.0, 3.0])
    half = stats.t.ppf(1 - ALPHA / 2, 2) * 1.0 / math.sqrt(3)
    assert mean == 2.0 and (lo, hi) == pytest.approx((2.0 - half, 2.0 + half))


def test_binomial_power_is_the_exact_rejection_probability():
    """Power against p0 - 0.1 equals the summed Binomial(n, p_alt) mass of the counts the test
    rejects (computed here by enumerating them), and grows with the trial count."""
    for n, p0 in ((50, 0.9), (200, 0.8)):
        rejected = [k for k in range(n + 1) if stats.binom.cdf(k, n, p0) < ALPHA]
        exact = float(sum(stats.binom.pmf(k, n, p0 - 0.1) for k in rejected))
        assert rules.binomial_power(n, p0, p0 - 0.1) == pytest.approx(exact, abs=1e-12)
        assert rules.binomial(n, n, p0).power == pytest.approx(exact, abs=1e-12)
    assert rules.binomial_power(40, 0.9, 0.8) < 0.8 < rules.binomial_power(200, 0.9, 0.8)
    # Record.judged carries the power into the ledger row.
    j = rules.binomial(60, 64, 0.9)
    assert Record.judged(j, claim="thm4.2-local", source="s", level="simulation").power == j.power


def test_every_trial_is_the_binomial_test_at_p0_one():
    # One failed instance is a counterexample (an exact check: no p-value, outside any family
    # of tests); none is "holds" only with power 0.8 against a 10% failure rate,
    # 1 - 0.9^n >= 0.8 from n = 16 on.
    for n in (4, 15, 16, 40):
        j = rules.every_trial(n, n, what="x")
        assert j.p_value is None and j.power == pytest.approx(1 - 0.9**n)
        assert j.verdict == ("holds" if n >= 16 else "inconclusive")
        assert j.ci[1] == 1.0 and j.ci[0] > 0
        bad = rules.every_trial(n - 1, n, what="x")
        assert bad.verdict == "fails" and bad.p_value is None and "1 fail" in bad.rule
