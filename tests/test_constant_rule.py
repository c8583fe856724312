"""Cross-d constant rule (SPEC Readings 5) on synthetic sweeps with a known answer.

Synthetic ``needed_C``: 200 trials at each of d = 64 .. 2048 (6 values), log-normal noise
(sigma 0.3) around either a fixed constant 2 (the claim's constant exists) or
``2 (d/64)^0.7`` (it does not). Rule under test: held-out binomial at p0 = 0.9 plus the
t interval of the slope of log median C on log d, one p-value Bonferroni over the two at
alpha = 0.01. Error rates: under a fixed constant ``fails`` has probability <= alpha = 0.01;
the test runs 200 fixed seeds and allows at most 9 ``fails`` (P(Binomial(200, 0.01) > 9) < 1e-4). Against d^0.7
the slope alone has power ~1 (the CI half-width is ~0.04 against a slope of 0.7); every one
of the 200 seeds must give ``fails``.
"""

import dataclasses

import numpy as np
import pytest

from bounds.judging.constant_rule import ConstantJudgement, cross_d_constant

D = [64, 128, 256, 512, 1024, 2048]
TRIALS, SIGMA, SEEDS = 200, 0.3, 200


def _sweep(seed, exponent):
    rng = np.random.default_rng(seed)
    return [2 * (k / 64) ** exponent * np.exp(SIGMA * rng.standard_normal(TRIALS)) for k in D]


def test_fixed_constant_is_not_rejected():
    verdicts = [cross_d_constant(D, _sweep(seed, 0.0), p0=0.9).verdict for seed in range(SEEDS)]
    assert verdicts.count("fails") <= 9, verdicts.count("fails")
    assert verdicts.count("holds") >= SEEDS - 9
    j = cross_d_constant(D, _sweep(0, 0.0), p0=0.9)
    assert isinstance(j, ConstantJudgement) and j.verdict == "holds"
    assert j.fit_d == (64, 128, 256) and j.judge_d == (512, 1024, 2048) and j.trials == 600
    assert j.slope_ci[0] <= 0 <= j.slope_ci[1] and j.binomial_power >= 0.8 and "had power" in j.reason
    assert j.C_fit == max(max(t) for t in _sweep(0, 0.0)[:3])
    with pytest.raises(dataclasses.FrozenInstanceError):
        j.verdict = "fails"


def test_growing_constant_fails():
    for seed in range(SEEDS):
        j = cross_d_constant(D, _sweep(seed, 0.7), p0=0.9)
        assert j.verdict == "fails", (seed, j.reason)
    assert j.slope_ci[0] > 0 and abs(j.slope - 0.7) < 0.1 and j.binomial_p < 1e-6 and j.p_value < j.alpha
    assert "no d-independent constant" in j.reason and "held-out coverage rejected" in j.reason


def test_small_fit_half_is_inconclusive_not_holds():
    """p0 = 0.999 with 30 fit trials: the fitted max under-covers with probability 0.97."""
    rng = np.random.default_rng(1)
    needed = [2 * np.exp(SIGMA * rng.standard_normal(10)) for _ in D]
    j = cross_d_constant(D, needed, p0=0.999)
    assert j.verdict in ("inconclusive", "fails")
    assert j.undercover_probability == pytest.approx(0.999**30)


def test_underpowered_held_out_test_is_inconclusive_not_holds():
    """A fixed constant, enough fit trials, but 3 held-out trials per d: power against 0.8 is
    far below 0.8, so a non-rejection is no evidence."""
    rng = np.random.default_rng(2)
    needed = [2 * np.exp(SIGMA * rng.standard_normal(200 if k <= 256 else 3)) for k in D]
    j = cross_d_constant(D, needed, p0=0.9)
    assert j.binomial_power < 0.8 and j.verdict == "inconclusive" and "lacked power" in j.reason, j.reason


@pytest.mark.parametrize(
    "args, kwargs, words",
    [
        ((D[:3], _sweep(0, 0.0)[:3]), dict(p0=0.9), "d = "),
        ((D[::-1], _sweep(0, 0.0)), dict(p0=0.9), "increasing"),
        ((D, _sweep(0, 0.0)[:5]), dict(p0=0.9), "needed_C"),
        ((D, [np.zeros(3)] * 6), dict(p0=0.9), "needed_C at d = 64"),
        ((D, [np.array([1.0, np.inf])] * 6), dict(p0=0.9), "finite"),
        ((D, [np.array([])] * 6), dict(p0=0.9), "non-empty"),
        ((D, np.ones(6)), dict(p0=0.9), "needed_C"),
        ((D, _sweep(0, 0.0)), dict(p0=0.0), "p0"),
        ((D, _sweep(0, 0.0)), dict(p0=1.5), "p0"),
        ((D, _sweep(0, 0.0)), dict(p0=0.9, alpha=0.0), "alpha"),
        ((D, _sweep(0, 0.0)), dict(p0=0.9, p_alt=0.95), "p_alt"),
    ],
)
def test_bad_input_raises_naming_the_argument(args, kwargs, words):
    with pytest.raises(ValueError, match=words):
        cross_d_constant(*args, **kwargs)


def test_identical_constants_give_a_finite_slope_and_ci():
    """Every trial met by any C > 0 (the surrogate's r_k = 1): the same needed C at every d, so
    the slope is 0 with a zero-width CI — never NaN in a record or its note."""
    j = cross_d_constant(D, [np.full(50, 1e-300) for _ in D], p0=0.9)
    assert j.slope == 0.0 and j.slope_ci == (0.0, 0.0) and "nan" not in j.reason.lower()
