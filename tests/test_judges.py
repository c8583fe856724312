"""The public judges (`bounds.judging.judges`) on small hand-made arrays with known answers.

Each test states the claim, the fixed inputs and the rule the judge applies (rules at
``ALPHA = 0.01``): a lower bound that holds, fails with its counterexample, is vacuous, is
inconclusive, and the exact check at ``population``; the comparison, monotone, order, constants
and identity judges; one stated probability, one ``d*`` and one bound evaluation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import theory
from bounds.judging import judges, rules
from bounds.judging.evaluation import d_star, evaluate, stated_probability

LOCAL = theory.get_claim("thm4.2-local")
DECL = theory.get_claim("thm4.3-decl-similar")


def clients(seeds: int, N: int) -> np.ndarray:
    """Client sets of local models: model i uses client i only (all disjoint)."""
    return np.broadcast_to(np.eye(N, dtype=bool), (seeds, N, N))


# ----------------------------------------------------------------------------- lower_bound


def test_lower_bound_holds_on_every_independent_trial():
    # 50 seeds x 4 local models, every min_k r_k = 0.999 >= 0.99: 200/200 against p0 = 0.95,
    # power of the binomial test against 0.85 well above 0.8.
    r = judges.lower_bound(LOCAL, np.full((50, 4), 0.999), 0.99, p0=0.95, samples="n=d", members=clients(50, 4))
    assert (r.verdict, r.trials, r.successes) == ("holds", 200, 200)
    assert r.power >= rules.POWER and r.params["p0"] == 0.95
    assert r.bound == 0.99 and r.empirical == pytest.approx(0.999) and r.margin == pytest.approx(0.009)
    assert r.claim == LOCAL.id and r.level == "simulation" and r.hypotheses == {"probability > 0": True}


def test_lower_bound_fails_and_names_the_counterexample():
    worst = np.full((40, 2), 0.999)
    worst[:, 1] = 0.5  # half the trials miss the bound 0.99: 40/80 against p0 = 0.95 rejects
    worst[7, 1] = 0.25  # the worst trial, flat index 15
    r = judges.lower_bound(LOCAL, worst, 0.99, p0=0.95, samples="n=d", members=clients(40, 2))
    assert r.verdict == "fails" and (r.trials, r.successes) == (80, 40) and r.p_value < rules.ALPHA
    assert "Counterexample: trial 15 has min_k r_k = 0.25 < bound 0.99." in r.note
    assert r.margin == pytest.approx(0.25 - 0.99)


def test_lower_bound_is_vacuous_where_a_hypothesis_fails_everywhere():
    r = judges.lower_bound(LOCAL, np.full((20, 2), 0.999), 0.99, p0=0.95, samples="n=d",
                           hypotheses={"A.5": np.zeros((20, 2), bool)}, reasons={"A.5": "rank W < c on every trial"})
    assert r.verdict == "vacuous" and r.trials is None and r.p_value is None
    assert r.note.startswith("Vacuous: rank W < c on every trial.")
    assert r.hypotheses == {"A.5": False, "probability > 0": True}


def test_lower_bound_screens_trials_and_tests_the_rest():
    # A.5 fails on one client per seed: those trials are left out, the others tested.
    a5 = np.ones((50, 4), bool)
    a5[:, 0] = False
    worst = np.full((50, 4), 0.999)
    worst[:, 0] = 0.0  # would fail, but the claim says nothing about them
    r = judges.lower_bound(LOCAL, worst, 0.99, p0=0.95, samples="n=d", hypotheses={"A.5": a5}, members=clients(50, 4))
    assert (r.verdict, r.trials, r.successes) == ("holds", 150, 150)


def test_stated_probability_at_most_zero_is_vacuous_at_finite_n_but_not_at_population():
    worst = np.full((20, 1), 0.999)
    finite = judges.lower_bound(LOCAL, worst, 0.99, p0=-0.5, samples="n=d")
    assert finite.verdict == "vacuous" and "probability > 0" in finite.note
    # At population the concentration event is certain: the bound is checked on every instance.
    exact = judges.lower_bound(LOCAL, worst, 0.99, p0=-0.5, samples="population")
    assert exact.verdict == "holds" and (exact.trials, exact.successes) == (20, 20)
    assert "probability > 0" not in exact.hypotheses and exact.p_value is None  # an exact check
    # The note gives the probability's value and what it means at finite n.
    assert "is -0.5 here" in exact.note and "<= 0" in exact.note and "at population they do not" in exact.note
    # The judge screens on the probability, once: a caller's screen is not applied at population.
    passed = judges.lower_bound(LOCAL, worst, 0.99, p0=-0.5, samples="population",
                                hypotheses={"probability > 0": np.full((20, 1), False)})
    assert passed.verdict == "holds" and "probability > 0" not in passed.hypotheses
    # A counterexample at population is a fails without a p-value: outside any family of tests.
    worst[3] = 0.5
    bad = judges.lower_bound(LOCAL, worst, 0.99, p0=-0.5, samples="population")
    assert bad.verdict == "fails" and bad.p_value is None and "Counterexample" in bad.note


def test_lower_bound_informative_reports_the_test_on_a_vacuous_claim():
    worst = np.full((16, 1), 0.2)
    r = judges.lower_bound(LOCAL, worst, 0.9, p0=0.9, samples="population", hypotheses={"A.5": False},
                           reasons={"A.5": "A.5 fails at population"}, informative=True)
    assert r.verdict == "vacuous" and (r.trials, r.successes) == (16, 0) and "Counterexample: trial 0" in r.note


def test_lower_bound_is_inconclusive_with_too_few_trials_or_none_determined():
    # 10 global models (one per seed), all meet the bound: no rejection, but power < 0.8 against 0.85.
    few = judges.lower_bound(LOCAL, np.full(10, 0.999), 0.99, p0=0.95, samples="n=d")
    assert few.verdict == "inconclusive" and few.trials == 10 and few.power < rules.POWER
    # Every trial's min_k r_k is the eigen-solver's pick (a tie at c): nothing to test.
    tied = judges.lower_bound(LOCAL, np.full(10, 0.999), 0.99, p0=0.95, samples="n=d", determined=False)
    assert tied.verdict == "inconclusive" and tied.trials is None and tied.empirical is None
    assert "left out" in tied.note and "nothing to test" in tied.note


def test_population_is_an_exact_check_per_seed():
    worst = np.full((16, 3), 0.95)
    at_bound = judges.lower_bound(LOCAL, worst - 1e-12, 0.95, p0=0.9, samples="population")  # within rounding
    assert at_bound.verdict == "holds" and (at_bound.trials, at_bound.successes) == (16, 16)
    worst[5, 2] = 0.9  # one model of one seed misses: that seed is a counterexample
    one = judges.lower_bound(LOCAL, worst, 0.95, p0=0.9, samples="population")
    assert one.verdict == "fails" and (one.trials, one.successes) == (16, 15) and "trial 17" in one.note
    four = judges.lower_bound(LOCAL, np.full((4, 3), 0.99), 0.95, p0=0.9, samples="population")
    assert four.verdict == "inconclusive" and four.trials == 4  # power 1 - 0.9^4 < 0.8


def test_independent_trials_are_disjoint_client_sets():
    # Three neighbourhood models per seed on 4 clients: {0,1}, {1,2}, {2,3}; the smallest (all
    # of size 2, same p0) in index order, kept while disjoint -> {0,1} and {2,3}.
    members = np.array([[[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]] * 30, dtype=bool)
    picks = judges.independent_trials(np.ones((30, 3), bool), np.full((30, 3), 0.9), members=members)
    assert len(picks) == 60 and all(i in (0, 2) for _, i in picks)
    r = judges.lower_bound(DECL, np.full((30, 3), 0.999), 0.99, p0=0.9, samples="n=d", members=members)
    assert r.trials == 60


def test_lower_bound_holds_trivially_for_a_structural_pass():
    r = judges.lower_bound(LOCAL, np.ones((50, 4)), 0.99, p0=0.95, samples="n=d", members=clients(50, 4),
                           trivial="r_k is 0 or 1.")
    assert r.verdict == "holds-trivially" and r.note.endswith("r_k is 0 or 1.")


def test_lower_bound_checks_shapes():
    with pytest.raises(ValueError, match="p0 of shape"):
        judges.lower_bound(LOCAL, np.ones((5, 4)), 0.9, p0=np.ones(3), samples="n=d")


# ----------------------------------------------------------------------------- the other judges


COMPARISON = theory.get_claim("thm4.4-fl")


@pytest.mark.parametrize("diffs, verdict", [([0.1] * 12, "holds"), ([-0.1] * 12, "fails"),
                                            ([0.1, -0.1] * 6, "inconclusive"), ([1e-12] * 12, "inconclusive")])
def test_comparison_is_a_sign_test_with_ties_against_the_claim(diffs, verdict):
    r = judges.comparison(COMPARISON, diffs, bound=0.0)
    assert r.verdict == verdict and r.trials == 12
    assert r.empirical == pytest.approx(np.mean(diffs)) and r.margin == pytest.approx(min(diffs))


def test_comparison_trivial_and_vacuous():
    assert judges.comparison(COMPARISON, [0.1] * 12, trivial="s^M = 0.").verdict == "holds-trivially"
    r = judges.comparison(COMPARISON, [0.1] * 12, vacuous="A.5 fails")
    assert r.verdict == "vacuous" and r.note.startswith("Vacuous: A.5 fails.") and r.trials == 12


CORO = theory.get_claim("cor4.5")


def test_monotone_consecutive_levels():
    s = np.array([[0.3, 0.2, 0.1]] * 12)
    assert judges.monotone(CORO, s, levels=(3, 5, 10), on_tie=("fails", "tie")).verdict == "holds"
    up = judges.monotone(CORO, s[:, ::-1], levels=(3, 5, 10), on_tie=("fails", "tie"))
    assert up.verdict == "fails" and up.margin == pytest.approx(-0.1) and "|Ā| 3->5" in up.note
    flat = judges.monotone(CORO, np.full((12, 3), 0.2), levels=(3, 5, 10), on_tie=("fails", "identical"))
    assert flat.verdict == "fails" and flat.note.startswith("identical")


def test_monotone_against_a_reference():
    s_dec = np.array([[0.3, 0.2]] * 12)
    r = judges.monotone(theory.get_claim("thm4.6"), s_dec, levels=(3, 5), reference=np.full(12, 0.1),
                        on_tie=("holds-trivially", "equal"))
    assert r.verdict == "holds" and r.empirical == pytest.approx(0.1) and r.bound == 0.0
    equal = judges.monotone(theory.get_claim("thm4.6"), np.full((12, 2), 0.1), levels=(3, 5),
                            reference=np.full(12, 0.1), on_tie=("holds-trivially", "equal"))
    assert equal.verdict == "holds-trivially"


def test_order_slope():
    d = np.repeat([64.0, 128, 256, 512, 1024], 4)
    rng = np.random.default_rng(0)
    s = 2 * d**-0.8 * np.exp(0.01 * rng.standard_normal(d.size))
    good = judges.order(COMPARISON, d, s, tolerance=0.1, exponent_of=LOCAL)  # Theorem 4.2: s = Theta(d^-4/5)
    assert good.verdict == "holds" and good.bound == pytest.approx(-0.8) and abs(good.margin) < 0.05
    wrong = judges.order(COMPARISON, d, 2 * d**-0.3, tolerance=0.1, exponent_of=LOCAL)
    assert wrong.verdict == "fails"
    zero = judges.order(COMPARISON, d, np.zeros_like(d), tolerance=0.1, exponent_of=LOCAL)
    assert zero.verdict == "fails" and "s = 0 identically" in zero.note


def test_constants_across_d():
    rng = np.random.default_rng(0)
    d = [64, 128, 256, 512, 1024, 2048]
    steady = judges.constants(LOCAL, d, [2 * np.exp(0.3 * rng.standard_normal(200)) for _ in d], p0=0.9)
    assert steady.verdict == "holds" and steady.params["fit_d"] == [64, 128, 256]
    growing = judges.constants(LOCAL, d, [k * np.exp(0.3 * rng.standard_normal(200)) for k in d], p0=0.9)
    assert growing.verdict == "fails" and growing.empirical == pytest.approx(1.0, abs=0.1)
    assert judges.constants(LOCAL, d, [np.ones(200) for _ in d], p0=0.9, vacuous="A.5 fails").verdict == "vacuous"


def test_identity_every_sample():
    claim = theory.get_claim("corrected-rv")
    assert judges.identity(claim, [0.0, 1e-12, 0.5], tolerance=1e-9, what="r_k >= bound").verdict == "holds"
    bad = judges.identity(claim, [0.1, -0.2, 0.3], tolerance=1e-9, what="r_k >= bound")
    assert bad.verdict == "fails" and bad.margin == -0.2 and (bad.trials, bad.successes) == (3, 2)
    assert judges.identity(claim, [0.1], tolerance=1e-9, what="x", trivial="bound <= 0").verdict == "holds-trivially"


# ----------------------------------------------------------------------------- one formula each


def test_stated_probability_is_the_union_bound_vectorised():
    m = np.array([1, 2, 20])
    got = stated_probability(LOCAL, d=256, m=m)
    np.testing.assert_allclose(got, 1 - m / 2 * math.exp(-(256 ** 0.1)), rtol=1e-14)
    assert np.ndim(stated_probability(LOCAL, d=256, m=1)) == 0
    with pytest.raises(ValueError, match="m="):
        stated_probability(LOCAL, d=256, m=0)


def test_d_star_is_theorem_4_4_threshold():
    assert d_star(COMPARISON, "similar", p=0.5) == pytest.approx(32.0)
    assert d_star(COMPARISON, "similar", p=0.75) == pytest.approx((1 / (2 * 0.75 * 0.25)) ** 5)
    assert d_star(COMPARISON, "dissimilar", p=0.5, tr_H=2.0) == pytest.approx(2.0**5 * 32.0)
    with pytest.raises(ValueError, match="variant=.opposite. must be .similar. or .dissimilar."):
        d_star(COMPARISON, "opposite", p=0.5)


def test_bound_evaluation_checks_the_domain():
    assert float(evaluate(DECL, d=1e5, A_bar=5, N=10)) == pytest.approx(float(evaluate(DECL.id, d=1e5, A_bar=5, N=10)))
    with pytest.raises(ValueError, match="A_bar <= N"):
        evaluate(DECL, d=1e5, A_bar=12, N=10)
