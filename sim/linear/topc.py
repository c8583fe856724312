"""Matrix-free top-``c`` eigenspaces of symmetric operators (Section 3.3 stationary points at large ``d``).

At a stationary point of an alignment-type loss ``row(W)`` is the top-``c`` eigenspace, in
algebraic order, of the client matrix ``X`` (Eckart–Young; Assumption A.5). Dense ``eigh`` costs
``O(d^3)`` and ``d^2`` memory; here ``X`` only has to be applied to blocks of vectors, so a
sample second moment ``G G^T / n`` or a population matrix "diagonal + low rank" at ``d = 2^15``
never has to be formed.

Method: restarted block Krylov with Rayleigh–Ritz. Each restart builds the orthonormal basis of
``span{V, X V, ..., X^(q-1) V}`` from the current ``b = c + oversample`` Ritz vectors ``V`` and
takes the top ``b`` Ritz pairs of ``X`` on it. A Krylov space is shift-invariant
(``K(X - s I, V) = K(X, V)``), and Rayleigh–Ritz ranks Ritz values algebraically, so indefinite
operators (the Eq. 4 alignment matrix ``p(1-p)(S - diag S)`` has zero diagonal and negative
eigenvalues) need no Gershgorin shift, unlike plain power/subspace iteration.

What a caller can trust: the result carries the Ritz gap ``theta_c - theta_{c+1}``, the
residual ``||X V - V Theta||_F`` and ``distance_bound``, the Davis–Kahan bound on the projector
distance to the exact eigenspace (the quantity `sim.linear.metrics.subspace_distance` measures). A
near-zero gap makes the top-``c`` eigenspace ill-defined — Definition 4.1's ``r_k`` then depends
on an arbitrary basis choice — and shows up as a large ``distance_bound``: mark such a case
inconclusive instead of reading representabilities from it.

Public surface: `TopEigenspace`, `top_eigenspace_matvec`, `top_eigenspace_iterative`,
`top_eigenspace_auto`, `DENSE_MAX_D`. Nothing here touches global JAX configuration.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from sim.data import draws
from sim.linear.solvers import check_square, check_width, thin_svd

# Measured on a shared 2-core CPU, float64, c = 4 (benchmarks/spectra.py; warm calls, spiked and
# sample-alignment operators): dense `sim.top_eigenspace` 0.02-0.05 s at d = 256, 0.08-0.15 s at
# 512, 0.7-0.9 s at 1024; the iterative solver 0.04-0.08 s, 0.06-0.15 s, 0.04-0.5 s. They cross
# near d = 512. Below, dense wins: it does not depend on the gap, gives the full spectrum, and
# avoids the iterative program's 3-6 s compile per shape; above, the iterative solver is 2-15x
# faster per call and dense grows as d^3.
DENSE_MAX_D = 512


class TopEigenspace(NamedTuple):
    """Top-``c`` eigenspace of a symmetric operator and how far to trust it.

    Fields (``b = c + oversample``):

    * ``vectors`` ``(d, c)``: orthonormal columns, the top-``c`` (algebraic) eigenvectors — the
      convention of `sim.linear.solvers.top_eigenspace`, so ``V, lam = result[:2]`` works as there.
    * ``values`` ``(b,)``: the top ``b`` eigenvalue estimates (Ritz values), descending. Unlike
      `sim.linear.solvers.top_eigenspace` not the full spectrum.
    * ``gap``: ``theta_c - theta_{c+1}``, the estimated eigen-gap ``lam_c - lam_{c+1}``.
    * ``residual``: ``||X V - V diag(theta_1..theta_c)||_F``.
    * ``distance_bound``: Davis–Kahan ``sqrt(2) residual / (gap - r_{c+1})`` (``inf`` when the
      denominator is not positive), ``r_{c+1}`` the residual of the ``(c+1)``-th Ritz pair:
      a bound on ``subspace_distance(vectors, exact)`` provided no eigenvalue above
      ``theta_{c+1}`` was missed by the Krylov space (probability zero for a random start).
    * ``iterations``: restarts used (0 for the dense path).
    * ``converged``: the top ``c + 1`` residuals reached ``tol * ||X||``.
    """

    vectors: jax.Array
    values: jax.Array
    gap: jax.Array
    residual: jax.Array
    distance_bound: jax.Array
    iterations: jax.Array
    converged: jax.Array


def _default_tol(dtype) -> float:
    # eps^(2/3): 4e-11 in float64 (a gap of 1e-2 ||X|| then bounds the subspace error near 1e-8),
    # 2e-5 in float32 — above the rounding floor of a matvec at d = 2^15, so the loop can stop.
    return float(np.finfo(dtype).eps) ** (2 / 3)


def _complement_basis(Q, Y, scale, eps):
    """Orthonormal basis (columns, zeros for deflated directions) of ``(I - Q Q^T) Y``.

    Classical Gram–Schmidt twice ("twice is enough"), then an SVD that reveals the numerical
    rank: a direction whose norm fell below ``sqrt(eps) * scale`` is rounding noise of a Krylov
    space that became (nearly) invariant and is zeroed, not normalised — normalising it would put
    a vector that is not orthogonal to ``Q`` into the basis. A last projection removes what the
    normalisation amplified (at most ``sqrt(eps)``), leaving orthogonality at the ``eps`` level.
    """
    for _ in range(2):
        Y = Y - Q @ (Q.T @ Y)
    U, s, _ = thin_svd(Y)  # inside the restart loop: jnp.linalg.svd can hang there (sim.linear.solvers.thin_svd)
    keep = (s > jnp.sqrt(eps) * scale).astype(Y.dtype)
    U = U * keep[None, :]
    return U - Q @ (Q.T @ U)


def _restart(matvec, K, AK, Z, *, c, b, blocks, eps):
    """One thick restart: basis ``[K, Z, X Z, ..., X^(blocks-1) Z]`` (orthonormalised), then Rayleigh–Ritz.

    ``K (d, p)`` are the kept Ritz vectors with ``AK = X K``; ``Z (d, b)`` is the next Krylov block,
    orthonormal to ``K``. The residuals of Ritz vectors taken from a block Krylov space all lie in
    the span of the next block, so ``X K`` stays inside ``span[K, Z]`` and the new basis is again a
    Krylov space — restarting this way loses (almost) nothing, unlike restarting from ``b``
    vectors, which restarts the Chebyshev-like polynomial each time (Wu & Simon's thick restart,
    block form).
    """
    d, p = K.shape
    m = p + blocks * b
    Q = jnp.zeros((d, m), K.dtype).at[:, :p].set(K).at[:, p : p + b].set(Z)
    AQ = jnp.zeros((d, m), K.dtype).at[:, :p].set(AK)

    def expand(j, carry):
        Q, AQ, _ = carry
        start = p + j * b
        Y = matvec(lax.dynamic_slice_in_dim(Q, start, b, axis=1)).astype(K.dtype)
        AQ = lax.dynamic_update_slice_in_dim(AQ, Y, start, axis=1)
        scale = jnp.max(jnp.sqrt(jnp.sum(Y * Y, axis=0)))
        # Zero columns of the not-yet-filled part of Q project out nothing: one fixed-shape
        # buffer serves every block. The block after the last is not stored: it is the next
        # restart's Z (orthogonal to the whole basis, since Q is complete by then).
        nxt = _complement_basis(Q, Y, scale, eps)
        grown = lax.dynamic_update_slice_in_dim(Q, nxt, jnp.minimum(start + b, m - b), axis=1)
        return jnp.where(j < blocks - 1, grown, Q), AQ, nxt

    Q, AQ, Z = lax.fori_loop(0, blocks, expand, (Q, AQ, Z))

    T = Q.T @ AQ
    T = (T + T.T) / 2
    # Deflated (zero) columns give exact zero rows/columns of T, i.e. spurious Ritz values 0 that
    # would outrank the true negative eigenvalues of an indefinite X: push them below the spectrum.
    inactive = (jnp.sum(Q * Q, axis=0) < 0.5).astype(T.dtype)
    big = 2 * jnp.sqrt(jnp.sum(T * T)) + 1
    theta, Y = jnp.linalg.eigh(T - big * jnp.diag(inactive))
    theta, Y = theta[::-1], Y[:, ::-1]
    norm = jnp.max(jnp.where(theta > -big / 2, jnp.abs(theta), 0))
    K, AK = Q @ Y[:, :p], AQ @ Y[:, :p]
    R = AK[:, :b] - K[:, :b] * theta[None, :b]
    return K, AK, Z, theta[:b], jnp.sqrt(jnp.sum(R * R, axis=0)), norm


def _solve(matvec, V0, *, c, blocks, iters, tol):
    d, b = V0.shape
    p = max(b, (blocks * b) // 2)
    eps = jnp.finfo(V0.dtype).eps

    def cond(state):
        return (state[-2] < iters) & ~state[-1]

    def body(state):
        K, AK, Z, _, _, it, _ = state
        K, AK, Z, theta, r, norm = _restart(matvec, K, AK, Z, c=c, b=b, blocks=blocks, eps=eps)
        # c + 1 pairs: theta_{c+1} must be accurate too, or the gap (and the bound) means nothing.
        done = jnp.max(r[: c + 1]) <= tol * norm
        return K, AK, Z, theta, r, it + 1, done

    # The first restart keeps only the random start (zero columns fill the kept block).
    V = jnp.linalg.qr(V0)[0]
    AV = matvec(V).astype(V0.dtype)
    K = jnp.zeros((d, p), V0.dtype).at[:, :b].set(V)
    AK = jnp.zeros((d, p), V0.dtype).at[:, :b].set(AV)
    Z = _complement_basis(K, AV, jnp.max(jnp.sqrt(jnp.sum(AV * AV, axis=0))), eps)
    init = (K, AK, Z, jnp.zeros((b,), V0.dtype), jnp.full((b,), jnp.inf, V0.dtype),
            jnp.zeros((), jnp.int32), jnp.zeros((), bool))
    K, _, _, theta, r, it, done = lax.while_loop(cond, body, init)
    return _result(K[:, :c], theta, r, c, it, done)


def _result(V, theta, r, c, iterations, converged):
    gap = theta[c - 1] - theta[c]
    residual = jnp.sqrt(jnp.sum(r[:c] ** 2))
    margin = gap - r[c]
    bound = jnp.where(margin > 0, jnp.sqrt(2.0).astype(theta.dtype) * residual / jnp.where(margin > 0, margin, 1),
                      jnp.inf)
    return TopEigenspace(V, theta, gap, residual, bound, iterations, converged)


def _check_sizes(d: int, c: int, oversample: int, blocks: int, iters: int) -> tuple[int, int]:
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d = {d!r} is out of range: need an integer d >= 2")
    check_width(c, d)
    if c >= d:
        raise ValueError(f"c = {c} = d: the gap lam_c - lam_(c+1) needs c < d")
    for name, value in (("oversample", oversample), ("blocks", blocks), ("iters", iters)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} = {value!r} is out of range: need an integer >= 1")
    b = min(c + int(oversample), d)
    # Depth >= 2 or the basis never grows; beyond ceil(d / b) blocks the basis only deflates.
    return b, max(2, min(int(blocks), math.ceil(d / b)))


def top_eigenspace_matvec(
    matvec: Callable[[jax.Array], jax.Array],
    d: int,
    c: int,
    *,
    key: jax.Array,
    iters: int = 200,
    tol: float | None = None,
    dtype=None,
    oversample: int = 4,
    blocks: int = 10,
) -> TopEigenspace:
    """Top-``c`` (algebraic) eigenspace of the symmetric operator ``matvec``, never forming it.

    ``matvec`` maps a block ``(d, k)`` to ``X @ block`` (as
    ``jax.experimental.sparse.linalg.lobpcg_standard`` takes it; lift a vector function with
    ``jax.vmap(f, in_axes=1, out_axes=1)``). ``X`` may be indefinite. ``key`` draws the random
    start; ``dtype`` (default: JAX's default float) is the working precision. Each restart costs
    ``blocks`` block matvecs of width ``b = c + oversample``; at most ``iters`` restarts run, fewer
    once the top ``c + 1`` Ritz residuals are below ``tol * ||X||`` (default ``eps^(2/3)``).
    More ``oversample`` speeds convergence when ``lam_{c+1}`` is close to ``lam_c`` but
    ``lam_{b+1}`` is not. Traceable: jit it and vmap it (over keys or over the data a closure
    captures); a vmapped batch runs until its slowest member converges, the others frozen.

    Returns a `TopEigenspace`; check ``distance_bound`` (or ``gap``) before trusting ``vectors``.

    >>> import jax, jax.numpy as jnp
    >>> lam = jnp.arange(64.0)[::-1] / 64
    >>> res = top_eigenspace_matvec(lambda V: lam[:, None] * V, 64, 2, key=jax.random.key(0))
    >>> [round(float(v), 6) for v in res.values[:3]], round(float(res.gap), 6)
    ([0.984375, 0.96875, 0.953125], 0.015625)
    """
    b, blocks = _check_sizes(d, c, oversample, blocks, iters)
    dtype = jnp.result_type(float) if dtype is None else jnp.dtype(dtype)
    tol = _default_tol(dtype) if tol is None else float(tol)
    V0 = draws.normal(key, (d, b), dtype)
    return _solve(matvec, V0, c=int(c), blocks=blocks, iters=int(iters), tol=tol)


@functools.partial(jax.jit, static_argnames=("c", "iters", "tol", "oversample", "blocks"))
def _iterative(X, key, *, c, iters, tol, oversample, blocks):
    X = (X + X.T) / 2
    return top_eigenspace_matvec(lambda V: X @ V, X.shape[0], c, key=key, iters=iters, tol=tol,
                                 dtype=X.dtype, oversample=oversample, blocks=blocks)


def top_eigenspace_iterative(
    X, c: int, *, key: jax.Array, iters: int = 200, tol: float | None = None, oversample: int = 4, blocks: int = 10
) -> TopEigenspace:
    """`top_eigenspace_matvec` for an explicit symmetric matrix ``X (d, d)`` (symmetrised, in ``X``'s dtype).

    Jitted once per shape, dtype and static option; vmap it over a batch of matrices and keys.
    """
    d = check_square("X", X)
    _check_sizes(d, c, oversample, blocks, iters)
    X = jnp.asarray(X)
    return _iterative(X, key, c=int(c), iters=int(iters), tol=None if tol is None else float(tol),
                      oversample=int(oversample), blocks=int(blocks))


@functools.partial(jax.jit, static_argnames=("c", "b"))
def _dense(X, *, c, b):
    X = (X + X.T) / 2
    lam, U = jnp.linalg.eigh(X)
    lam, U = lam[::-1][:b], U[:, ::-1][:, :b]
    R = X @ U - U * lam[None, :]
    return _result(U[:, :c], lam, jnp.sqrt(jnp.sum(R * R, axis=0)), c, jnp.zeros((), jnp.int32),
                   jnp.ones((), bool))


def top_eigenspace_auto(
    X, c: int, *, key: jax.Array, threshold_d: int = DENSE_MAX_D, oversample: int = 4, **options
) -> TopEigenspace:
    """Dense ``eigh`` for ``d <= threshold_d`` (see `DENSE_MAX_D` for the measurement), the
    iterative solver above; both return a `TopEigenspace` with ``values`` of length
    ``c + oversample``, so a caller's code does not depend on the branch. ``key`` is used only by
    the iterative branch; ``options`` go to `top_eigenspace_iterative`.

    >>> import jax, jax.numpy as jnp
    >>> res = top_eigenspace_auto(jnp.diag(jnp.array([1.0, 3.0, 2.0, 0.0])), 1, key=jax.random.key(0), oversample=1)
    >>> abs(res.vectors[:, 0]).tolist(), res.values.tolist(), float(res.gap)
    ([0.0, 1.0, 0.0, 0.0], [3.0, 2.0], 1.0)
    """
    d = check_square("X", X)
    b, _ = _check_sizes(d, c, oversample, 1, 1)
    if d <= threshold_d:
        return _dense(jnp.asarray(X), c=int(c), b=b)
    return top_eigenspace_iterative(X, c, key=key, oversample=oversample, **options)


__all__ = ["DENSE_MAX_D", "TopEigenspace", "top_eigenspace_auto", "top_eigenspace_iterative", "top_eigenspace_matvec"]
