"""The pytest plugin (`bounds.testing.plugin`) and `bounds.testing`, run on a user's test file
with ``pytester``: a record that holds passes, one that fails fails with the record's note
(rule, statistic, p-value, counterexample), ``inconclusive`` and ``vacuous`` are what the test
says (fail by default, skip or pass on request), and the run ends with a summary of the verdicts."""

from __future__ import annotations

import re
import subprocess
import sys

import jax
import numpy as np
import pytest

import theory
from bounds import get_suite, judges
from bounds.testing import check, key_for, linear_records, message, select
from sim import Objective

pytest_plugins = ["pytester"]

#: A user's test file: the records come from the public judges on hand-made measurements, so
#: each verdict is known by construction (Theorem 4.3's lower bound, Theorem 4.4's comparison).
USER_TESTS = '''
import numpy as np
import pytest
import theory
from bounds import judges

LOCAL = theory.get_claim("thm4.3-local-similar")


def bound_record(worst, p0=0.9):
    return judges.lower_bound(LOCAL, np.asarray(worst, float), 0.9, p0=p0, samples="n=d",
                              reading={"cl": "similar", "samples": "n=d"}, statistic="min_k r_k vs the bound")


@pytest.mark.dssl_claim("thm4.3-local-similar", cl="similar", rule="binomial")
def test_holds(dssl_check):
    dssl_check([bound_record(np.full((200, 1), 0.99))])


@pytest.mark.dssl_claim("thm4.3-local-similar", rule="binomial")
def test_fails(dssl_check):
    worst = np.full((200, 1), 0.99)
    worst[::2] = 0.5  # half the trials below the bound 0.9
    dssl_check(bound_record(worst))


def test_inconclusive_fails_by_default(dssl_check):
    dssl_check(bound_record(np.full((10, 1), 0.99)), "thm4.3-local-similar")


def test_inconclusive_skipped_on_request(dssl_check):
    dssl_check(bound_record(np.full((10, 1), 0.99)), "thm4.3-local-similar", inconclusive="skip")


def test_vacuous_fails_by_default(dssl_check):
    dssl_check(bound_record(np.full((200, 1), 0.99), p0=-0.5), "thm4.3-local-similar")


def test_vacuous_passes_on_request(dssl_check):
    dssl_check(bound_record(np.full((200, 1), 0.99), p0=-0.5), "thm4.3-local-similar", vacuous="pass")


def test_wrong_rule(dssl_check):
    dssl_check(bound_record(np.full((200, 1), 0.99)), "thm4.3-local-similar", rule="sign-test")


def test_wrong_reading(dssl_check):
    dssl_check(bound_record(np.full((200, 1), 0.99)), "thm4.3-local-similar", cl="dissimilar")
'''


@pytest.fixture
def user(pytester, monkeypatch):
    """Run the user's file with the plugin loaded by name (installed entry points off, so the
    run is the same whether or not the ``pytest11`` entry point is registered)."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_user=USER_TESTS)

    def run(*args):
        return pytester.runpytest_subprocess("-p", "bounds.testing.plugin", "-p", "no:cacheprovider", *args)

    return run


def test_outcomes_and_messages(user):
    result = user("-rs")
    result.assert_outcomes(passed=2, failed=5, skipped=1)
    out = result.stdout.str()
    # the failing claim carries the record: verdict, statistic, the rule with its p-value, the counterexample
    result.stdout.fnmatch_lines(["*thm4.3-local-similar [[]cl=similar, samples=n=d[]] fails*",
                                 "*statistic: min_k r_k vs the bound; bound 0.9, empirical*",
                                 "*rule: p-value *, 100/200 successes, power*",
                                 "*note: *one-sided exact binomial test*Counterexample: trial 0 has min_k r_k = 0.5*"])
    assert "SKIPPED" in out and "inconclusive" in out  # the skip reason is the record's message
    result.stdout.fnmatch_lines(["*expected the sign-test rule*", "*the test states thm4.3-local-similar at*"])
    # the run's closing summary: the matrix and one line per checked record
    result.stdout.fnmatch_lines(["*dssl-bounds: 7 claim x reading verdicts*", "fails *test_user.py::test_fails",
                                 "inconclusive *test_user.py::test_inconclusive_skipped_on_request"])


def test_records_reach_the_summary_from_xdist_workers(user):
    result = user("-p", "xdist.plugin", "-n", "2")
    result.assert_outcomes(passed=2, failed=5, skipped=1)
    result.stdout.fnmatch_lines(["*dssl-bounds: 7 claim x reading verdicts*", "holds *test_user.py::test_holds"])


def test_no_summary_without_records(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "bounds.testing.plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "dssl-bounds" not in result.stdout.str()


def test_fixtures_follow_the_options(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile('''
import jax
from bounds.testing import key_for

def test_sizes_and_key(dssl_suite, dssl_seed, dssl_key, request):
    assert (dssl_suite.name, dssl_seed) == ("default", 3)
    assert jax.numpy.array_equal(jax.random.key_data(dssl_key), jax.random.key_data(key_for(request.node.nodeid, 3)))
''')
    args = ("-p", "bounds.testing.plugin", "-p", "no:cacheprovider")
    pytester.runpytest_subprocess(*args, "--dssl-suite", "default", "--dssl-seed", "3").assert_outcomes(passed=1)
    bad = pytester.runpytest_subprocess(*args, "--dssl-suite", "huge")
    assert "suite='huge' must be one of" in bad.stderr.str() + bad.stdout.str()


def test_the_plugin_imports_nothing_heavy():
    code = "import sys, bounds.testing.plugin; print(sorted({'jax', 'sympy', 'numpy', 'sim'} & set(sys.modules)))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


def test_keys_are_split_by_name():
    data = lambda name, seed: np.asarray(jax.random.key_data(key_for(name, seed)))  # noqa: E731
    assert np.array_equal(data("a", 0), data("a", 0))
    assert not np.array_equal(data("a", 0), data("b", 0)) and not np.array_equal(data("a", 0), data("a", 1))


def test_check_and_select_refuse_bad_input():
    record = judges.comparison(theory.get_claim("thm4.4-fl"), [0.1] * 12, bound=0.0, reading={"cl": "similar"})
    with pytest.raises(ValueError, match="inconclusive = 'ignore' is out of range"):
        check(record, inconclusive="ignore")
    with pytest.raises(ValueError, match="rule = 'chi2' is out of range"):
        check(record, rule="chi2")
    with pytest.raises(ValueError, match="0 records match"):
        select([record], "thm4.4-fl", cl="dissimilar")
    assert check(record, rule="sign-test") is record and "sign test" in message(record)


def test_every_rule_is_recognised_by_its_note():
    """`bounds.testing.RULES` matches the words each rule of `bounds.rules` writes."""
    from bounds import rules
    from bounds.judging.constant_rule import cross_d_constant
    from bounds.testing import RULES

    d = np.repeat([16.0, 32, 64, 128], 4)
    written = {"binomial": rules.binomial(90, 100, 0.8).rule,
               "every-trial": rules.every_trial(5, 5, what="x").rule,
               "sign-test": rules.sign_test([0.1] * 12).rule,
               "slope": rules.slope(d, d ** -0.5, -0.5, tolerance=0.1).rule,
               "identity": rules.identity([0.0, 1.0], tolerance=0.0, what="x").rule,
               "mean-difference": rules.mean_difference([0.1, 0.2, 0.3]).rule,
               "rank-correlation": rules.negative_rank_correlation([1, 2, 3, 4], [4, 3, 2, 1]).rule,
               "constant": cross_d_constant([16, 32, 64, 128], [np.ones(8)] * 4, p0=0.5).reason}
    assert set(written) == set(RULES)
    for name, text in written.items():
        assert RULES[name] in text, name
        assert [other for other in RULES if RULES[other] in text] == [name], text


def test_an_objective_defined_here_gets_the_records_of_a_built_in():
    """An `Objective` from outside the toolkit with the matrix of CL with similar augmentations
    is judged exactly like ``cl-similar`` on the same draws."""
    mine = Objective("cl-mine", family="cl", reading=("cl", "mine"), variant="similar", kind="alignment",
                     matrix=lambda S, *, p=None, H=None: S)
    records = linear_records([mine, "cl-similar"], get_suite("smoke"), key=key_for("objective", 0),
                             samples=("n=d",), sweep=False)
    for r in (r for r in records if r.reading.get("cl") == "mine"):
        built_in = select(records, r.claim, **{**r.reading, "cl": "similar"})
        assert (r.verdict, r.empirical, r.p_value) == (built_in.verdict, built_in.empirical, built_in.p_value)
    assert {r.claim for r in records if r.reading.get("cl") == "mine"} == {"thm4.3-local-similar", "thm4.3-fl-similar"}
    with pytest.raises(ValueError, match=re.escape("samples='n=d^3' must be one of")):
        linear_records([mine], get_suite("smoke"), key=key_for("objective", 0), samples=("n=d^3",))
