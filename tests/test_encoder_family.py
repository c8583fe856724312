"""`sim.linear.matrices.encoder_fit`: where a tie at ``c`` makes the stationary points a family, how
far each ``r_k`` is from being determined (``spread``), checked against the family itself.

The family is sampled directly: every stationary point keeps the eigenvectors above the tied
cluster and takes any ``j``-dimensional subspace of it (``j`` = the cluster's share of the top
``c``). Random members must give ``r_k`` inside ``[r_k^min, r_k^min + spread_k]`` (to 1e-10)
and, over 200 members, reach at least half of the spread for a coordinate inside the cluster
(with 2 of 5 tied directions taken, ``r_k - r_k^min = spread_k * beta``, ``beta ~ Beta(1, 3/2)``:
``P(beta > 3/4) = 0.125``, ``P(beta < 1/4) = 0.35``, so 200 draws miss either quarter with
probability below 3e-12 per coordinate). Gapped spectra must give ``spread = 0`` and the old subspace exactly.
"""

import jax.numpy as jnp
import numpy as np
import pytest

import sim
from sim.linear.matrices import SUBSPACE_RESOLUTION, encoder_fit

TOL = 1e-10


def _tied(rng, d, above, tied, below):
    """A symmetric matrix with ``above`` distinct top eigenvalues, a ``tied``-fold eigenvalue 1.0
    and ``below`` eigenvalues under it, in a random basis; returns the matrix and the basis."""
    Q = np.linalg.qr(rng.standard_normal((d, d)))[0]
    lam = np.concatenate([np.linspace(3.0, 2.0, above), np.ones(tied), np.linspace(0.5, -0.5, below)])
    return (Q * lam) @ Q.T, Q


def _members(rng, fixed, cluster, j, count):
    """``count`` random stationary points: ``fixed`` plus a random j-dim subspace of ``cluster``."""
    for _ in range(count):
        R = np.linalg.qr(rng.standard_normal((cluster.shape[1], j)))[0]
        yield np.concatenate([fixed, cluster @ R], axis=1)


def _r(V):
    return np.sum(np.linalg.qr(V)[0] ** 2, axis=1)


def test_a_tie_at_c_gives_the_spread_of_the_family():
    rng = np.random.default_rng(0)
    d, above, tied, c = 30, 3, 5, 5  # the top c takes 2 of the 5 tied directions
    X, Q = _tied(rng, d, above, tied, d - above - tied)
    fit = encoder_fit(jnp.asarray(X), "cl-similar", c)
    fixed, cluster = Q[:, :above], Q[:, above:above + tied]
    r_min = np.sum(fixed**2, axis=1)
    spread = np.asarray(fit.spread)
    np.testing.assert_allclose(spread, np.sum(cluster**2, axis=1), atol=TOL)  # ||P_E e_k||^2
    assert float(fit.gap) < 1e-14 and int(fit.count) == np.sum(np.linalg.eigvalsh(X) > 0)
    observed = np.stack([_r(V) for V in _members(rng, fixed, cluster, c - above, 200)])
    assert np.all(observed >= r_min - TOL) and np.all(observed <= r_min + spread + TOL)
    assert np.all(observed.max(axis=0) - observed.min(axis=0) >= 0.5 * spread)  # the range is reached
    r_fit = _r(np.asarray(fit.subspace))  # eigh's pick is one member
    assert np.all(r_fit >= r_min - TOL) and np.all(r_fit <= r_min + spread + TOL)


def test_mim_reconstruction_family_is_sandwiched():
    # Eq. 3: row(W) = span(L^{-T} Z_c), Z_c any top-c eigenspace of A A^T; its members lie
    # between span(L^{-T} Z_above) and span(L^{-T} [Z_above, Z_cluster]).
    rng = np.random.default_rng(1)
    d, c, p = 12, 3, 0.5
    # Two exchangeable groups of coordinates: A A^T has eigenvalues 0.288, 0.123, 0.0571 (x2),
    # 0.0098 (x8), so the top 3 takes one direction of a 2-fold eigenvalue.
    S = np.eye(d)
    S[:3, :3] += 0.8
    S[3:, 3:] += 0.3
    fit = encoder_fit(jnp.asarray(S), "mim-reconstruction", c, p=p)
    assert float(fit.gap) == 0.0 or float(fit.gap) < 1e-14
    uu, vu, _ = (np.asarray(m) for m in sim.mask_moments(jnp.asarray(S), p))
    L = np.linalg.cholesky(uu)
    A = np.linalg.solve(L, vu.T)
    w, Z = np.linalg.eigh(A @ A.T)
    Z = Z[:, ::-1]
    n_above = int(np.sum(w > w[::-1][c - 1] + 1e-9))
    cluster = Z[:, n_above:n_above + int(np.sum(np.abs(w - w[::-1][c - 1]) <= 1e-9))]
    lo = _r(np.linalg.solve(L.T, Z[:, :n_above])) if n_above else np.zeros(d)
    hi = _r(np.linalg.solve(L.T, np.concatenate([Z[:, :n_above], cluster], axis=1)))
    np.testing.assert_allclose(np.asarray(fit.spread), hi - lo, atol=TOL)
    for V in _members(rng, Z[:, :n_above], cluster, c - n_above, 50):
        r = _r(np.linalg.solve(L.T, V))
        assert np.all(r >= lo - TOL) and np.all(r <= hi + TOL)


def test_surrogate_ties_are_the_tied_coordinates():
    S = jnp.diag(jnp.array([4.0, 2.0, 3.0, 2.0, 2.0, 1.0]))
    fit = encoder_fit(S, "mim-surrogate", 3, p=0.5)  # the top 3 takes 1 of the three 2.0 coordinates
    assert np.asarray(fit.spread).tolist() == [0.0, 1.0, 0.0, 1.0, 1.0, 0.0]
    assert float(fit.gap) == 0.0
    r = np.sum(np.asarray(fit.subspace) ** 2, axis=1)
    assert r.tolist() == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]  # top_k breaks the tie by index, as before


@pytest.mark.parametrize("objective", sim.OBJECTIVES)
def test_a_gapped_spectrum_is_unique_and_unchanged(objective):
    rng = np.random.default_rng(2)
    d, c = 16, 4
    x = rng.standard_normal((200, d)) * np.linspace(2.0, 0.5, d)
    S = jnp.asarray(x.T @ x / 200)
    H = jnp.asarray(np.linalg.qr(rng.standard_normal((d, d)))[0])
    fit = encoder_fit(S, objective, c, p=0.6, H=H)
    assert np.all(np.asarray(fit.spread) == 0.0) and float(fit.gap) > 1e-6
    V = sim.encoder_subspace(S, objective, c, p=0.6, H=H)
    np.testing.assert_array_equal(np.asarray(fit.subspace), np.asarray(V))
    if objective in ("cl-similar", "mim-alignment", "cl-dissimilar"):
        U = np.asarray(sim.top_eigenspace(sim.client_matrix(S, objective, p=0.6, H=H), c)[0])
        np.testing.assert_array_equal(np.asarray(fit.subspace), U)  # the same eigh, the same basis


def test_a_near_tie_below_the_resolution_counts_as_tied():
    # Two eigenvalues 1e-12 apart (relative) at c: the computed subspace is only determined to
    # about d eps / 1e-12 >> 1e-6, so the pair is treated as tied; 1e-3 apart is resolved.
    rng = np.random.default_rng(3)
    Q = np.linalg.qr(rng.standard_normal((10, 10)))[0]
    for split, tied in ((1e-12, True), (1e-3, False)):
        lam = np.array([3.0, 2.0, 1.0 + split, 1.0, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
        fit = encoder_fit(jnp.asarray((Q * lam) @ Q.T), "cl-similar", 3)
        assert bool(np.max(np.asarray(fit.spread)) > SUBSPACE_RESOLUTION) is tied


@pytest.mark.parametrize("resolution", [0.0, -1.0, float("nan")])
def test_bad_resolution_is_refused(resolution):
    with pytest.raises(ValueError, match="resolution = .* out of range"):
        encoder_fit(jnp.eye(3), "cl-similar", 1, resolution=resolution)
