"""The statistical rules every simulation verdict rests on, against exact answers."""

import math

import numpy as np
import pytest
from scipy import stats

from bounds.records import ALPHA, Record, binomial_verdict, sign_test_verdict, slope_verdict


@pytest.mark.parametrize("n,p0", [(64, 0.9), (128, 0.83), (200, 0.99)])
def test_binomial_false_alarm_rate_is_at_most_alpha(n, p0):
    # Exact: the probability, under a true claim at the boundary P = p0, that the rule says "fails".
    rejects = [k for k in range(n + 1) if binomial_verdict(k, n, p0).verdict == "fails"]
    assert stats.binom.pmf(rejects, n, p0).sum() <= ALPHA


def test_binomial_verdicts():
    assert binomial_verdict(64, 64, 0.9).verdict == "holds"
    assert binomial_verdict(0, 64, 0.9).verdict == "fails"
    assert binomial_verdict(12, 12, 0.78).verdict == "holds"
    # 3 trials at p0 = 0.3 can never reject (P(0 successes) = 0.7^3 = 0.34 > alpha): not "holds".
    assert binomial_verdict(3, 3, 0.3).verdict == "inconclusive"
    assert binomial_verdict(0, 3, 0.3).verdict == "inconclusive"
    j = binomial_verdict(50, 64, 0.9)
    assert j.p_value == pytest.approx(stats.binomtest(50, 64, 0.9, alternative="less").pvalue)
    assert j.ci[0] < 50 / 64 < j.ci[1]


@pytest.mark.parametrize("bad", [dict(successes=3, trials=2, p0=0.5), dict(successes=0, trials=0, p0=0.5),
                                 dict(successes=1, trials=2, p0=0.0)])
def test_binomial_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        binomial_verdict(bad["successes"], bad["trials"], bad["p0"])


def test_slope_verdict_recovers_a_known_exponent():
    rng = np.random.default_rng(0)
    x = np.repeat([32.0, 64, 128, 256, 512], 16)
    y = 3.0 * x**-0.8 * np.exp(0.1 * rng.standard_normal(x.size))
    assert slope_verdict(x, y, -0.8, tolerance=0.1).verdict == "holds"
    assert slope_verdict(x, y, -0.4, tolerance=0.1).verdict == "fails"
    noisy = 3.0 * x**-0.8 * np.exp(3.0 * rng.standard_normal(x.size))
    assert slope_verdict(x, noisy, -0.8, tolerance=0.1).verdict == "inconclusive"


def test_slope_verdict_needs_positive_points():
    j = slope_verdict([1.0, 2.0, 3.0], [0.0, 0.0, 0.0], -1.0, tolerance=0.1)
    assert j.verdict == "inconclusive" and math.isnan(j.slope)


def test_sign_test():
    assert sign_test_verdict(np.full(20, 0.3)).verdict == "holds"
    assert sign_test_verdict(np.full(20, -0.3)).verdict == "fails"
    assert sign_test_verdict(np.array([1.0, -1.0] * 10)).verdict == "inconclusive"
    with pytest.raises(ValueError):
        sign_test_verdict(np.array([np.nan, 1.0]))


def test_record_validates_and_never_stores_non_finite_numbers():
    r = Record(claim="x", source="s", level="formula", verdict="holds", bound=float("nan"), ci=(0.0, float("inf")))
    assert r.bound is None and r.ci is None
    assert r.to_json()["bound"] is None
    with pytest.raises(ValueError, match="verdict"):
        Record(claim="x", source="s", level="formula", verdict="true")
    with pytest.raises(ValueError, match="level"):
        Record(claim="x", source="s", level="guess", verdict="holds")
    with pytest.raises(ValueError, match="reading"):
        Record(claim="x", source="s", level="formula", verdict="holds", reading={"colour": "red"})
