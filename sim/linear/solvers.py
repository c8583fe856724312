"""Solvers for the linear models: exact top eigenspaces, and gradient descent on Eq. 3.

The closed forms (`sim.linear.matrices.encoder_subspace`) and gradient training here check each
other: `fit_reconstruction` must reach the reduced-rank-regression row space.
"""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple, Union

import jax
import jax.numpy as jnp
import numpy as np
import optax

from sim.data import draws


def check_width(c, d: int) -> None:
    """Raise ValueError unless the encoder width ``c`` is an integer in ``[1, d]``."""
    if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 1 <= c <= d:
        raise ValueError(f"c = {c!r} is out of range: the encoder width c must satisfy 1 <= c <= d = {d}")


def check_square(name: str, A) -> int:
    """``d`` of a square ``(d, d)`` matrix ``A``; ValueError naming ``name`` otherwise."""
    shape = jnp.shape(A)
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"{name}: got shape {shape}; need a square (d, d) matrix (vmap for batches)")
    return shape[0]


def thin_svd(A) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``jnp.linalg.svd(A, full_matrices=False)``, computed by LAPACK's QR-iteration driver
    (``gesvd``) where JAX offers the choice (``jax.lax.linalg.SvdAlgorithm.QR``).

    Why: in jaxlib 0.9.2 the default divide-and-conquer kernel (``lapack_dgesdd_ffi``) is the
    one LAPACK kernel that takes XLA's intra-op thread pool and waits for work it puts there
    (its symbol is the only ``Kernel(xla::ffi::ThreadPool, ...)`` in ``jaxlib/cpu/_lapack.so``).
    Inside a compiled loop, whose body itself runs on a pool thread, a one-thread pool then waits
    forever: ``dssl-bounds verify --suite smoke`` on one core (``taskset -c 0``) hung in the
    distributed producer, gdb showing the pool thread in ``SingularValueDecomposition::Kernel ->
    BlockUntilReady``. ``gesvd`` computes the same decomposition without the pool.
    """
    algorithm = getattr(getattr(jax.lax.linalg, "SvdAlgorithm", None), "QR", None)
    if algorithm is None:  # a JAX without the choice has a single SVD kernel
        return jnp.linalg.svd(A, full_matrices=False)
    return jax.lax.linalg.svd(A, full_matrices=False, algorithm=algorithm)


def eigenvalue_count(X, tol) -> jax.Array:
    """How many eigenvalues of each symmetric ``X`` (``(..., d, d)``) exceed ``tol`` (``(...)``,
    > 0) in absolute value, without computing them: Sylvester's law of inertia on the
    tridiagonal form ``T = Q^T X Q`` (LAPACK ``sytrd``). The pivots of ``T - sigma I``
    (``q_1 = t_1 - sigma``, ``q_k = t_k - sigma - e_(k-1)^2 / q_(k-1)``) have as many negative
    signs as ``X`` has eigenvalues below ``sigma`` (a Sturm count; a pivot below LAPACK's
    ``pivmin`` is replaced by ``-pivmin``, as ``dstebz`` does), so the count is
    ``d - #(< tol) + #(< -tol)``. It is exact for a matrix within rounding of ``X``: it can
    differ from counting ``jnp.linalg.eigvalsh`` only for an eigenvalue within rounding of
    ``± tol``. Why: ``eigvalsh`` on CPU computes the eigenvectors too; on 3400 matrices of
    ``d = 64`` it takes 1.9 s, the reduction 0.37 s (jax 0.9.2, 2 cores). jit- and vmap-safe."""
    X = jnp.asarray(X)
    X = (X + jnp.swapaxes(X, -1, -2)) / 2
    _, diag, off, _ = jax.lax.linalg.tridiagonal(X, lower=True)
    tol = jnp.asarray(tol, X.dtype)
    off2 = off**2
    pivmin = jnp.finfo(X.dtype).tiny * jnp.maximum(1, jnp.max(off2, axis=-1, initial=0))
    e2 = jnp.moveaxis(off2, -1, 0)

    def below(sigma):
        def pivot(q):
            return jnp.where(jnp.abs(q) < pivmin, -pivmin, q)

        def step(q, t_e2):
            t, e2_k = t_e2
            q = pivot(t - sigma - e2_k / q)
            return q, q < 0

        q0 = pivot(diag[..., 0] - sigma)
        _, negative = jax.lax.scan(step, q0, (jnp.moveaxis(diag[..., 1:], -1, 0), e2))
        return (q0 < 0).astype(jnp.int32) + jnp.sum(negative, axis=0, dtype=jnp.int32)

    return X.shape[-1] - below(tol) + below(-tol)


@functools.partial(jax.jit, static_argnames="c")
def _top_eigenspace(X, *, c):
    values, vectors = jnp.linalg.eigh(X)
    return vectors[:, ::-1][:, :c], values[::-1]


def top_eigenspace(X, c: int) -> tuple[jax.Array, jax.Array]:
    """Top-``c`` eigenvectors ``V (d, c)`` of the symmetric ``X`` and all eigenvalues ``(d,)``, descending.

    Order is algebraic (largest first), as in the Eckart–Young stationary point
    ``W^T W = X`` restricted to the top-``c`` eigenpairs; ``X`` is symmetrised by ``eigh``.

    >>> V, lam = top_eigenspace(jnp.diag(jnp.array([1.0, 3.0, 2.0])), 1)
    >>> abs(V[:, 0]).tolist(), lam.tolist()
    ([0.0, 1.0, 0.0], [3.0, 2.0, 1.0])
    """
    check_width(c, check_square("X", X))
    return _top_eigenspace(jnp.asarray(X), c=int(c))


class ReconstructionFit(NamedTuple):
    """Result of `fit_reconstruction`: ``encoder`` W_e ``(c, d)``, ``decoder`` W_d ``(d, c)``,
    ``losses`` ``(steps,)`` — the sampled-mask loss at each step (check it is finite)."""

    encoder: jax.Array
    decoder: jax.Array
    losses: jax.Array


Schedule = Union[float, Callable[[jax.Array], jax.Array]]


@functools.partial(
    jax.jit, static_argnames=("c", "steps", "learning_rate", "batch_size", "masks_per_step")
)
def _fit_reconstruction(x, p, key, *, c, steps, learning_rate, batch_size, masks_per_step):
    n, d = x.shape
    key_e, key_d, key_run = jax.random.split(key, 3)
    params = {
        "encoder": draws.normal(key_e, (c, d), x.dtype) / np.sqrt(d),
        "decoder": draws.normal(key_d, (d, c), x.dtype) / np.sqrt(c),
    }
    optimizer = optax.adam(learning_rate)

    def loss(params, batch, masks):
        u = batch[None, :, :] * masks
        v = batch[None, :, :] * (1 - masks)
        recon = jnp.einsum("mbd,cd,ec->mbe", u, params["encoder"], params["decoder"])
        return jnp.mean(jnp.sum((recon - v) ** 2, axis=-1))

    def step(carry, step_key):
        params, state = carry
        key_batch, key_mask = jax.random.split(step_key)
        if batch_size is None:
            batch = x
        else:
            batch = x[jax.random.randint(key_batch, (batch_size,), 0, n)]
        # m_k = 1 (visible) with probability 1 - p: p is the fraction masked.
        masks = draws.bernoulli(key_mask, 1 - p, (masks_per_step,) + batch.shape).astype(x.dtype)
        value, grads = jax.value_and_grad(loss)(params, batch, masks)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes float hyperparameters with its int32 step count
            updates, state = optimizer.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), value

    (params, _), losses = jax.lax.scan(
        step, (params, optimizer.init(params)), jax.random.split(key_run, steps)
    )
    return ReconstructionFit(params["encoder"], params["decoder"], losses)


def fit_reconstruction(
    x,
    c: int,
    p,
    *,
    key: jax.Array,
    steps: int,
    learning_rate: Schedule,
    batch_size: int | None = None,
    masks_per_step: int = 4,
) -> ReconstructionFit:
    """Adam on Eq. 3, ``E || W_d W_e (x * m) - x * (1 - m) ||^2``, with fresh masks every step.

    ``x (n, d)`` are one client's samples; each step draws a minibatch of ``batch_size`` rows
    (with replacement; ``None`` = all rows) and ``masks_per_step`` independent masks per row
    (entry 0 with probability ``p``). ``learning_rate`` is a float or an optax schedule (a
    decaying schedule lets the mask noise average out). Steps run under ``lax.scan``;
    ``c``, ``steps``, ``learning_rate``, ``batch_size``, ``masks_per_step`` are static.
    Compare the encoder's row space with ``encoder_subspace(second_moment(x),
    "mim-reconstruction", c, p=p)``.
    """
    shape = jnp.shape(x)
    if len(shape) != 2:
        raise ValueError(f"x: got shape {shape}; need (n, d) samples of one client")
    check_width(c, shape[1])
    if not isinstance(p, jax.core.Tracer) and not 0 < float(p) < 1:
        raise ValueError(f"p = {p!r} is out of range: the mask ratio p must lie in (0, 1)")
    for name, value, low in (("steps", steps, 1), ("masks_per_step", masks_per_step, 1),
                             ("batch_size", 1 if batch_size is None else batch_size, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} = {value!r} is out of range: need an integer >= {low}")
    x = jnp.asarray(x)
    return _fit_reconstruction(
        x, jnp.asarray(p, x.dtype), key, c=int(c), steps=int(steps), learning_rate=learning_rate,
        batch_size=None if batch_size is None else int(batch_size), masks_per_step=int(masks_per_step),
    )
