"""Theorems 4.3 and 4.4 on the spectral contrastive loss, judged by dssl-bounds."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bounds.testing import key_for, linear_records, select
from sim import encoder_subspace, get_objective, subspace_distance
from spectral_cl import S2, SPECTRAL


@pytest.fixture(scope="module")
def records(dssl_suite, dssl_seed):
    objectives = [SPECTRAL, "cl-similar", "mim-surrogate"]
    return linear_records(objectives, dssl_suite, key=key_for(__name__, dssl_seed), samples=("n=d", "n=d^2", "population"),
                          sweep=False)


def test_found_through_its_entry_point():
    assert get_objective("cl-spectral") is SPECTRAL


def test_stationary_point_matches_the_hand_derivation():
    A = np.random.default_rng(0).normal(size=(12, 40))
    S, c = A @ A.T / 40, 4
    lam, U = np.linalg.eigh(S)
    by_hand = U[:, -c:]  # row(W) = the top-c eigenspace of S
    assert float(subspace_distance(encoder_subspace(S, SPECTRAL, c), by_hand)) < 1e-8
    # and the loss itself is stationary at W = diag(sqrt(l) / (l + s2)) U_c^T
    loss = lambda W: -2 * jnp.trace(W @ S @ W.T) + jnp.sum((W @ (S + S2 * np.eye(12)) @ W.T) ** 2)  # noqa: E731
    W = (np.sqrt(lam[-c:]) / (lam[-c:] + S2))[:, None] * by_hand.T
    assert float(jnp.max(jnp.abs(jax.grad(loss)(W)))) < 1e-10


def test_judged_like_cl_similar(records):
    """Same row space as CL with similar augmentations, so the same verdicts on the same draws."""
    mine = [r for r in records if r.reading.get("cl") == "spectral"]
    for r in mine:
        same = select(records, r.claim, **{**r.reading, "cl": "similar"})
        assert (same.verdict, same.empirical) == pytest.approx((r.verdict, r.empirical), abs=1e-9)
    assert mine


@pytest.mark.parametrize("samples", ["n=d^2", "population"])
@pytest.mark.parametrize("claim", ["thm4.3-local-similar", "thm4.3-fl-similar"])
def test_theorem_4_3(records, dssl_check, claim, samples):
    dssl_check(records, claim, cl="spectral", constants="unit", samples=samples, inconclusive="skip")


@pytest.mark.parametrize("scope", ["local", "fl"])
@pytest.mark.dssl_claim(mim="paper-surrogate", cl="spectral", sensitivity="class", rule="sign-test")
def test_theorem_4_4(records, dssl_check, scope):
    dssl_check(records, f"thm4.4-{scope}")
