"""Large-d representabilities (sim.linear.bigd) against the dense path, at small d.

- The matrix-free ``S V`` and ``diag S`` equal the dense ``S`` assembled here from the same
  factors by the formula of `sim.linear.suffstats` (explicit ``P`` and ``T``): 1e-12, float64 ``T``.
- The top-``c`` eigenspace from the factors (`sim.linear.topc` on the operator) is within 1e-8 of the
  dense ``eigh`` subspace of ``client_matrix(S)`` (projector distance), on problems whose
  relative gap is asserted first to be at least 1e-2, and within its own reported Davis–Kahan
  ``distance_bound``; with a float32 ``T`` within 1e-3 and within the bound.
- Same law as `sim.linear.suffstats.sample_second_moments`: for eight entries of ``S`` (structured,
  rare, cross and noise coordinates) the first two moments over 400 draws of each sampler
  agree by a two-sample z-test, |z| < 5 (16 tests: false-alarm rate below 1e-5). The
  trapezoidal ``T`` (``n_total - r0 < d``) is covered by the assembled-matrix check.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sim
from sim.linear.bigd import (
    OPERATORS,
    dense_second_moment,
    draw_second_moment_factors,
    second_moment_diagonal,
    second_moment_matvec,
    top_eigenspace_factors,
)
from sim.data.config import DataConfig
from sim.linear.metrics import subspace_distance
from sim.linear.suffstats import sample_second_moments

P = 0.75


def _bartlett(f):
    """``T`` (padded to whole tiles) written out from its tiles, and the tiles' transposes checked."""
    B, tiles = f.block, np.asarray(f.tiles, np.float64)
    np.testing.assert_array_equal(np.asarray(f.tiles_t, np.float64), np.swapaxes(tiles, 1, 2))
    T = np.zeros(((max(f.tile_rows) + 1) * B, (max(f.tile_cols) + 1) * B))
    for tile, i, j in zip(tiles, f.tile_rows, f.tile_cols):
        T[i * B:(i + 1) * B, j * B:(j + 1) * B] = tile
    return T


def _assembled(f):
    """``S`` from the factors by the formula, with ``P`` and ``T`` written out."""
    d = f.d
    Pm = np.zeros((d, f.coords.shape[0]))
    Pm[np.asarray(f.coords), np.arange(f.coords.shape[0])] = 1.0
    T = _bartlett(f)
    assert not T[:, d:].any()  # the padding past column d is zero
    T = T[:, :d]
    G, R, Z1 = (np.asarray(a) for a in (f.gram, f.root, f.z1))
    cross = Pm @ R.T @ Z1
    return (Pm @ G @ Pm.T + f.mu * (cross + cross.T) + f.mu**2 * (Z1.T @ Z1 + T.T @ T)) / f.n_total


def _cfg(d, n, N=2):
    return dataclasses.replace(DataConfig(d=d, N=N), n=n)


@pytest.mark.parametrize("n, block", [(64**2, 24), (20, 24), (64**2, 64), (64**2, 100)])
def test_bartlett_factor_is_upper_trapezoidal_with_chi_on_its_diagonal(n, block):
    # n = 20: n_total - r0 < d, so T has fewer rows than columns (trapezoidal, rows past it zero).
    cfg = _cfg(64, n)
    f = draw_second_moment_factors(cfg, 0, key=jax.random.key(3), block=block, wishart_dtype=jnp.float64)
    rows = min(cfg.n_total - (cfg.N + 1), 64)
    T = _bartlett(f)[:, :64]
    assert not T[rows:].any() and not np.tril(T[:rows], -1).any()
    assert np.all(np.diag(T[:rows]) > 0) and np.all(np.triu(T[:rows], 1)[np.triu_indices(rows, 1, 64)] != 0)
    # Bartlett: T_aa^2 ~ chi2(n_total - r0 - a), so its sum has mean sum_a (dof - a).
    dof = cfg.n_total - (cfg.N + 1)
    assert abs(np.sum(np.diag(T[:rows]) ** 2) - sum(dof - a for a in range(rows))) < 6 * np.sqrt(
        sum(2 * (dof - a) for a in range(rows)))


@pytest.mark.parametrize("client, n", [(0, 64**2), (1, 64**2), (1, 20)])  # client 1: rare coordinate = class 0
def test_matvec_and_diagonal_are_the_assembled_matrix(client, n):
    f = draw_second_moment_factors(_cfg(64, n), client, key=jax.random.key(3), block=24, wishart_dtype=jnp.float64)
    S = _assembled(f)
    V = jax.random.normal(jax.random.key(4), (64, 5))
    np.testing.assert_allclose(np.asarray(second_moment_matvec(f, V)), S @ np.asarray(V), atol=1e-12)
    np.testing.assert_allclose(np.asarray(second_moment_diagonal(f)), np.diag(S), atol=1e-12)
    np.testing.assert_allclose(np.asarray(dense_second_moment(f)), S, atol=1e-12)


@pytest.mark.parametrize("d", [64, 128])
@pytest.mark.parametrize("objective", OPERATORS)
def test_top_eigenspace_is_the_dense_one(d, objective):
    f = draw_second_moment_factors(_cfg(d, d**2), 0, key=jax.random.key(d), block=48, wishart_dtype=jnp.float64)
    X = sim.client_matrix(jnp.asarray(_assembled(f)), objective, p=P)
    lam = np.linalg.eigvalsh(np.asarray(X))[::-1]
    c = 2  # the structured directions: the rest of the spectrum is the Wishart bulk
    assert (lam[c - 1] - lam[c]) / np.abs(lam).max() >= 1e-2  # a well-defined subspace
    V_dense = sim.top_eigenspace(X, c)[0]
    res, r = top_eigenspace_factors(f, objective, c, key=jax.random.key(1), p=P)
    distance = float(subspace_distance(V_dense, res.vectors))
    assert distance < 1e-8 and distance <= float(res.distance_bound) + 1e-12
    np.testing.assert_allclose(float(res.gap), lam[c - 1] - lam[c], atol=1e-9 * np.abs(lam).max())
    np.testing.assert_allclose(np.asarray(r), np.asarray(sim.representability(V_dense)), atol=1e-8)


def test_float32_wishart_factor_stays_within_its_bound():
    f = draw_second_moment_factors(_cfg(128, 128**2), 0, key=jax.random.key(5), block=48)
    assert f.tiles.dtype == jnp.float32
    X = sim.client_matrix(jnp.asarray(_assembled(f)), "mim-alignment", p=P)
    res, _ = top_eigenspace_factors(f, "mim-alignment", 2, key=jax.random.key(1), p=P)
    distance = float(subspace_distance(sim.top_eigenspace(X, 2)[0], res.vectors))
    assert bool(res.converged) and distance < 1e-3 and distance <= float(res.distance_bound)


ENTRIES = ((0, 0), (0, 1), (1, 1), (2, 2), (0, 2), (0, 7), (7, 7), (7, 8))  # client 0: classes 0, 1; rare 2


def test_same_law_as_the_dense_sampler():
    cfg, draws = _cfg(16, 256), 400
    keys = jax.random.split(jax.random.key(6), draws)
    ours = jax.jit(jax.vmap(lambda k: dense_second_moment(draw_second_moment_factors(
        cfg, 0, key=k, block=6, wishart_dtype=jnp.float64))))(keys)
    theirs = jax.vmap(lambda k: sample_second_moments(cfg, key=k)[0])(jax.random.split(jax.random.key(7), draws))
    rows, cols = (np.array(ix) for ix in zip(*ENTRIES))
    a, b = np.asarray(ours)[:, rows, cols], np.asarray(theirs)[:, rows, cols]
    for power in (1, 2):
        x, y = a**power, b**power
        z = (x.mean(0) - y.mean(0)) / np.sqrt(x.var(0) / draws + y.var(0) / draws)
        assert np.abs(z).max() < 5, (power, z)
    assert np.all(a.std(0) > 0)  # every entry is random here: the z-test compares distributions


@pytest.mark.parametrize("call, match", [
    (lambda: draw_second_moment_factors(_cfg(16, 16), 2, key=jax.random.key(0)), "client"),
    (lambda: draw_second_moment_factors(_cfg(16, 16), 0, key=jax.random.key(0), block=0), "block"),
    (lambda: draw_second_moment_factors(_cfg(16, 16), 0, key=jax.random.key(0), wishart_dtype=jnp.int32),
     "wishart_dtype"),
    (lambda: draw_second_moment_factors("cfg", 0, key=jax.random.key(0)), "cfg"),
])
def test_bad_draw_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_operator_inputs():
    f = draw_second_moment_factors(_cfg(16, 16), 0, key=jax.random.key(0))
    with pytest.raises(ValueError, match="objective"):
        top_eigenspace_factors(f, "mim-reconstruction", 2, key=jax.random.key(0))
    with pytest.raises(ValueError, match="p = None"):
        top_eigenspace_factors(f, "mim-alignment", 2, key=jax.random.key(0))
