"""Matrix-free top-c eigenspace (sim.linear.topc) against dense eigh.

Rule: for a symmetric X with relative gap g = (lam_c - lam_{c+1}) / ||X||, the iterative
subspace must lie within 1e-8 / g of the dense one in projector distance (so <= 1e-6 once
g >= 1e-2), its top Ritz values within 1e-9 ||X|| of the eigenvalues, and the reported
Davis–Kahan `distance_bound` must not undercut the measured distance (the bound is what a
caller trusts). Deterministic (fixed keys), float64.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sim
from sim.linear.topc import (
    TopEigenspace,
    top_eigenspace_auto,
    top_eigenspace_iterative,
    top_eigenspace_matvec,
)
from sim.linear.topc import _iterative

C = 4


def _with_spectrum(d, lam, seed):
    Q = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))[0]
    return jnp.asarray((Q * np.asarray(lam)) @ Q.T)


def _gapped(d, rel_gap, seed, *, negative_heavy=False):
    """Top C eigenvalues 1.0 .. 0.7, then a gap of rel_gap * ||X||, then a bulk down to -1 (or -3)."""
    low = -3.0 if negative_heavy else -1.0
    edge = 0.7 - rel_gap * abs(low)
    rest = np.random.default_rng(seed + 1).uniform(low, edge, d - C)
    rest[0], rest[1] = edge, low
    return _with_spectrum(d, np.concatenate([np.linspace(1.0, 0.7, C), rest]), seed)


def _check_against_dense(X, res: TopEigenspace, c=C):
    V, lam = sim.top_eigenspace(X, c)
    norm = float(jnp.max(jnp.abs(lam)))
    gap = float(lam[c - 1] - lam[c]) / norm
    dist = float(sim.subspace_distance(res.vectors, V))
    assert res.vectors.shape == V.shape and res.vectors.dtype == X.dtype
    assert bool(res.converged)
    assert dist <= 1e-8 / gap, (dist, gap)
    assert dist <= float(res.distance_bound) + 1e-13, (dist, float(res.distance_bound))
    b = res.values.shape[0]
    np.testing.assert_allclose(np.asarray(res.values), np.asarray(lam[:b]), atol=1e-9 * norm)
    np.testing.assert_allclose(float(res.gap), float(lam[c - 1] - lam[c]), atol=1e-9 * norm)
    return dist, gap


@pytest.mark.parametrize("d, rel_gap, negative_heavy", [(64, 1e-2, False), (256, 1e-2, True)])
def test_matches_dense_with_known_gap(d, rel_gap, negative_heavy):
    X = _gapped(d, rel_gap, seed=d, negative_heavy=negative_heavy)
    dist, gap = _check_against_dense(X, top_eigenspace_iterative(X, C, key=jax.random.key(0)))
    assert gap >= 0.99e-2 and dist <= 1e-6


def _spiked_samples(key, n, d):
    """Samples shaped like the paper's construction: a few strong class coordinates
    (+-1 own class, -tau on others with probability 1/2) plus mu-scaled isotropic noise."""
    k1, k2, k3 = jax.random.split(key, 3)
    tau, mu = d ** 0.2, d ** -0.2
    own = jnp.where(jax.random.bernoulli(k1, 0.5, (n, 1)), 1.0, -1.0)
    others = -tau * jax.random.bernoulli(k2, 0.5, (n, 3)).astype(jnp.float64)
    block = jnp.concatenate([own, others, jnp.zeros((n, d - 4))], axis=1)
    return block + mu * jax.random.normal(k3, (n, d))


@pytest.mark.parametrize("objective", ["cl-similar", "mim-alignment"])
def test_matches_dense_on_alignment_matrices(objective):
    # Sampled second moment (n = d, the theorem's beta = 1); the mim-alignment matrix
    # p(1-p)(S - diag S) (Eq. 4 averaged over masks) has zero diagonal and negative eigenvalues.
    x = _spiked_samples(jax.random.key(1), 64, 64)
    X = sim.client_matrix(sim.second_moment(x), objective, p=0.75)
    if objective == "mim-alignment":
        assert float(jnp.linalg.eigvalsh(X)[0]) < 0
    _check_against_dense(X, top_eigenspace_iterative(X, C, key=jax.random.key(2)))


def test_factor_operator_matches_dense():
    # Sample second moment given only by its factor G (d x n): v -> G (G^T v) / n.
    d, n = 128, 32
    G = jax.random.normal(jax.random.key(3), (d, n)) * jnp.where(jnp.arange(d) < 6, 3.0, 1.0)[:, None]
    res = jax.jit(lambda G, key: top_eigenspace_matvec(lambda V: G @ (G.T @ V) / n, d, C, key=key))(G, jax.random.key(4))
    _check_against_dense(G @ G.T / n, res)


def test_vmap_equals_per_matrix():
    Xs = jnp.stack([_gapped(64, 2e-2, seed=s) for s in range(3)])
    keys = jax.random.split(jax.random.key(5), 3)
    batched = jax.vmap(lambda X, k: top_eigenspace_iterative(X, C, key=k))(Xs, keys)
    for i in range(3):
        alone = top_eigenspace_iterative(Xs[i], C, key=keys[i])
        assert float(sim.subspace_distance(batched.vectors[i], alone.vectors)) <= 1e-10
        np.testing.assert_allclose(np.asarray(batched.values[i]), np.asarray(alone.values), atol=1e-12)
        _check_against_dense(Xs[i], alone)


def test_degenerate_gap_is_reported():
    # lam_c = lam_{c+1}: the top-c eigenspace is not defined; the result must say so.
    lam = np.concatenate([np.linspace(1.0, 0.7, C), [0.7], np.linspace(0.5, -1.0, 59)])
    res = top_eigenspace_iterative(_with_spectrum(64, lam, seed=6), C, key=jax.random.key(7))
    assert abs(float(res.gap)) <= 1e-8
    assert not float(res.distance_bound) <= 1e-2


def test_near_degenerate_gap_is_resolved_and_small():
    lam = np.concatenate([np.linspace(1.0, 0.7, C), [0.7 - 1e-6], np.linspace(0.5, -1.0, 59)])
    res = top_eigenspace_iterative(_with_spectrum(64, lam, seed=8), C, key=jax.random.key(9))
    np.testing.assert_allclose(float(res.gap), 1e-6, rtol=1e-3)


def test_jit_compiles_once_per_shape():
    X1, X2 = _gapped(64, 1e-2, seed=10), _gapped(64, 5e-2, seed=11)
    top_eigenspace_iterative(X1, C, key=jax.random.key(0))
    before = _iterative._cache_size()
    for X, k in ((X1, 12), (X2, 13)):
        jax.block_until_ready(top_eigenspace_iterative(X, C, key=jax.random.key(k)))
    assert _iterative._cache_size() == before

    traces = []

    @jax.jit
    def solve(X, key):
        traces.append(None)
        return top_eigenspace_matvec(lambda V: X @ V, 64, C, key=key).vectors

    solve(X1, jax.random.key(0))
    solve(X2, jax.random.key(1))
    assert len(traces) == 1


def test_auto_dispatch_agrees():
    X = _gapped(64, 2e-2, seed=14)
    dense = top_eigenspace_auto(X, C, key=jax.random.key(0))
    iterative = top_eigenspace_auto(X, C, key=jax.random.key(0), threshold_d=32)
    assert int(dense.iterations) == 0 and int(iterative.iterations) >= 1
    assert dense.values.shape == iterative.values.shape
    assert float(sim.subspace_distance(dense.vectors, iterative.vectors)) <= 1e-6
    _check_against_dense(X, dense)


def test_float32():
    X = _gapped(64, 5e-2, seed=15).astype(jnp.float32)
    res = top_eigenspace_iterative(X, C, key=jax.random.key(0))
    assert res.vectors.dtype == jnp.float32 and bool(res.converged)
    V, _ = sim.top_eigenspace(X.astype(jnp.float64), C)
    assert float(sim.subspace_distance(res.vectors.astype(jnp.float64), V)) <= 1e-3


@pytest.mark.parametrize("c, d", [(0, 8), (8, 8), (9, 8)])
def test_rejects_bad_width(c, d):
    with pytest.raises(ValueError, match="c ="):
        top_eigenspace_iterative(jnp.eye(d), c, key=jax.random.key(0))
