"""`sim.linear.solvers.eigenvalue_count` (a Sturm count on the tridiagonal form) against counting the
eigenvalues themselves, on planted spectra whose eigenvalues stay away from the tolerance."""

import jax
import numpy as np
import pytest

from sim.linear.solvers import eigenvalue_count


def _planted(rng, batch, d, zero_share):
    Q = np.linalg.qr(rng.standard_normal((batch, d, d)))[0]
    lam = rng.standard_normal((batch, d)) * 3
    lam[np.abs(lam) < 0.2] = 0.5  # no eigenvalue within 0.1 of the tolerance 0.1 ...
    lam[rng.random((batch, d)) < zero_share] = 0.0  # ... and a share of exact zeros (a rank)
    return np.einsum("bij,bj,bkj->bik", Q, lam, Q), lam


@pytest.mark.parametrize("d,zero_share", [(1, 0.5), (2, 0.5), (7, 0.3), (64, 0.6)])
def test_counts_the_eigenvalues_above_the_tolerance(d, zero_share):
    X, lam = _planted(np.random.default_rng(d), 200, d, zero_share)
    tol = np.full(200, 0.1)
    got = np.asarray(jax.jit(eigenvalue_count)(X, tol))
    assert np.array_equal(got, np.sum(np.abs(lam) > 0.1, axis=1))
    assert np.array_equal(got, np.sum(np.abs(np.linalg.eigvalsh(X)) > tol[:, None], axis=1))
    assert len(set(got.tolist())) > 1  # the planted ranks differ: the count is not a constant


def test_batch_axes_and_vmap():
    X, lam = _planted(np.random.default_rng(1), 12, 9, 0.4)
    X = X.reshape(3, 4, 9, 9)
    want = np.sum(np.abs(lam) > 0.1, axis=1).reshape(3, 4)
    assert np.array_equal(np.asarray(eigenvalue_count(X, np.full((3, 4), 0.1))), want)
    assert np.array_equal(np.asarray(jax.vmap(eigenvalue_count)(X, np.full((3, 4), 0.1))), want)


def test_zero_matrix_and_per_matrix_tolerance():
    X = np.stack([np.zeros((5, 5)), np.diag([1.0, -2.0, 3.0, 0.0, 0.0])])
    assert eigenvalue_count(X, np.array([1e-12, 1e-12])).tolist() == [0, 3]
    assert eigenvalue_count(X[1:], np.array([1.5])).tolist() == [2]  # |-2| and 3
