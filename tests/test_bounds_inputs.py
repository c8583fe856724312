"""Bad input to the bounds layer: a ValueError naming the field and the allowed range, raised
before any simulation runs."""

import numpy as np
import pytest

import sim
import theory
from bounds.judging.evaluation import d_star, evaluate, sensitivity_bound
from bounds.running.ledger import run_suite
from sim.studies.linear import LinearStudy


@pytest.mark.parametrize("kwargs, field", [
    (dict(c=3), "c"),        # c < 2N = 4
    (dict(c=40), "c"),       # c > d = 32
    (dict(mask_ratio=1.0), "LinearStudy.mask_ratio"),
    (dict(mask_ratio=0.0), "LinearStudy.mask_ratio"),
    (dict(n_seeds=0), "n_seeds"),
])
def test_linear_study_validates(kwargs, field):
    args = dict(data=sim.DataConfig(d=32), c=4, mask_ratio=0.75, n_seeds=4) | kwargs
    with pytest.raises(ValueError, match=field):
        LinearStudy(**args)


def test_run_suite_validates_before_running():
    with pytest.raises(ValueError, match="suite"):
        run_suite("huge")
    with pytest.raises(ValueError, match="seed"):
        run_suite("smoke", seed=-1)
    with pytest.raises(ValueError, match="seed"):
        run_suite("smoke", seed=2**63)
    with pytest.raises(ValueError, match="only"):
        run_suite("smoke", only=["nope"])


def test_evaluate_matches_the_closed_form_and_rejects_bad_input():
    d, p = np.array([32.0, 1e3, 1e6]), 0.75
    closed = 1 - d**-0.4 / (2 * p * (1 - p) * d**0.4 + d**-0.4)  # Theorem 4.2 (local), C = 1
    np.testing.assert_allclose(evaluate("thm4.2-local", d=d, p=p, C=1.0), closed, rtol=1e-12)
    np.testing.assert_allclose(sensitivity_bound("thm4.2-local", d=d, p=p, C=1.0), 1 - closed, rtol=1e-12)
    with pytest.raises(ValueError, match="variant"):
        evaluate("thm4.2-local", "proof", d=d, p=p)
    with pytest.raises(ValueError, match="needs parameters"):
        evaluate("thm4.2-local", p=p)
    with pytest.raises(ValueError, match="d=0.0 is outside the domain"):
        evaluate("thm4.2-local", d=0.0, p=p, C=1.0)  # d^(-2/5) at d = 0: outside the domain


@pytest.mark.parametrize("scope", ["local", "decl", "fl"])
def test_threshold_matches_the_printed_value(scope):
    claim = theory.find_claim(family="comparison", scope=scope)
    assert d_star(claim, "similar", p=0.5) == pytest.approx(32.0)
    assert d_star(claim, "similar", p=0.75) == pytest.approx((1 / (2 * 0.75 * 0.25)) ** 5)
    with pytest.raises(ValueError, match="variant=.opposite. must be .similar. or .dissimilar."):
        d_star(claim, "opposite", p=0.5)
