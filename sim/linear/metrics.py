"""Robustness measures of Definition 4.1 (Definition 4.1) and the corrected eigen-bound (reading 2)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from sim.linear.solvers import check_square

SENSITIVITY_VARIANTS = ("paper-c", "class", "proof")


def representability(V) -> jax.Array:
    """Representability vector ``r_k = ||Pi_{row W} e_k||^2 = sum_j V[k, j]^2`` for an orthonormal ``V (d, c)``.

    Each ``r_k`` lies in ``[0, 1]`` and ``sum_k r_k = c``.
    """
    return jnp.sum(jnp.asarray(V) ** 2, axis=-1)


def _check_int(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} = {value!r} is out of range: need an integer {low} <= {name} <= {high}")


@functools.partial(jax.jit, static_argnames=("variant", "N", "c"))
def _sensitivity(r, client, *, variant, N, c):
    if variant == "paper-c":
        return jnp.max(r[:c]) - jnp.min(r[:c])
    if variant == "class":
        return jnp.max(r[:N]) - jnp.min(r[:N])
    excluded = jnp.arange(N) == client
    return 1 - jnp.min(jnp.where(excluded, jnp.inf, r[:N]))


def sensitivity(r, variant: str, *, N: int, c: int, client=None) -> jax.Array:
    """Sensitivity ``s`` of a representability vector ``r (d,)`` under one of Definition 4.1's readings.

    * ``"paper-c"``: ``max_{k<c} r_k - min_{k<c} r_k`` (Theorem 4.4 as stated).
    * ``"class"``: ``max_{k<N} r_k - min_{k<N} r_k`` (over the class coordinates).
    * ``"proof"``: ``1 - min_{k<N, k != client} r_k`` — ``[N] \\ {i}`` for client ``i``'s local
      model; ``client=None`` (a global model) takes all of ``[N]``. ``client`` may be traced.

    Smaller is more robust.

    >>> round(float(sensitivity(jnp.array([0.9, 0.5, 0.6, 0.0]), "proof", N=2, c=3, client=1)), 6)
    0.1
    """
    if variant not in SENSITIVITY_VARIANTS:
        raise ValueError(f"variant = {variant!r} is unknown; choose one of {SENSITIVITY_VARIANTS}")
    shape = jnp.shape(r)
    if len(shape) != 1:
        raise ValueError(f"r: got shape {shape}; need one representability vector (d,) (vmap for batches)")
    d = shape[0]
    _check_int("N", N, 2 if variant == "proof" and client is not None else 1, d)
    _check_int("c", c, 1, d)
    if client is not None and not isinstance(client, jax.core.Tracer):
        if np.ndim(client) != 0:
            raise ValueError(f"client = {client!r}: need one client index (vmap for several)")
        _check_int("client", int(client), 0, N - 1)
    client = jnp.asarray(-1 if client is None else client)
    return _sensitivity(jnp.asarray(r), client, variant=variant, N=int(N), c=int(c))


@functools.partial(jax.jit, static_argnames="c")
def _corrected_lower_bound(X, *, c):
    lam = jnp.linalg.eigvalsh(X)[::-1]
    gap = lam[0] - lam[c]
    # Below rounding level the gap carries no information: fall back to the trivial r_k >= 0.
    resolved = gap > 64 * jnp.finfo(X.dtype).eps * X.shape[0] * jnp.max(jnp.abs(lam))
    bound = (jnp.diagonal(X) - lam[c]) / jnp.where(resolved, gap, 1)
    return jnp.where(resolved, bound, 0)


def corrected_lower_bound(X, c: int) -> jax.Array:
    """Finite-``d`` lower bound on ``r_k`` for the top-``c`` eigenspace of the symmetric ``X`` (reading 2).

    ``r_k >= (X_kk - lam_{c+1}) / (lam_1 - lam_{c+1})`` for every ``k``, with eigenvalues
    ``lam_1 >= lam_2 >= ...``, because ``X_kk = sum_j lam_j (e_k^T v_j)^2 <= lam_1 r_k +
    lam_{c+1} (1 - r_k)``. Holds for every sample (no probability). Returns ``(d,)``; where
    ``lam_1 - lam_{c+1}`` is at rounding level it returns the trivial bound 0. Needs ``c < d``.
    """
    _check_int("c", c, 1, check_square("X", X) - 1)
    X = jnp.asarray(X)
    return _corrected_lower_bound((X + X.T) / 2, c=int(c))


def subspace_distance(V1, V2) -> jax.Array:
    """Projector distance ``||V1 V1^T - V2 V2^T||_F`` of orthonormal bases ``(d, c1)``, ``(d, c2)``.

    Computed as ``sqrt(||(I - P1) V2||_F^2 + ||(I - P2) V1||_F^2)`` (no ``d x d`` matrices,
    no cancellation); for ``c1 = c2 = c`` it lies in ``[0, sqrt(2c)]``.
    """
    V1, V2 = jnp.asarray(V1), jnp.asarray(V2)
    cross = V1.T @ V2
    return jnp.sqrt(jnp.sum((V2 - V1 @ cross) ** 2) + jnp.sum((V1 - V2 @ cross.T) ** 2))


def class_minimum(r, N: int, *, exclude_own: bool) -> np.ndarray:
    """The worst class coordinate of each model: ``min_{k in [N] \\ {i}} r_{i,k}`` for local
    models (``r`` of shape ``(..., N, d)``, client ``i`` on the second-last axis) or
    ``min_{k in [N]} r_k`` (``exclude_own=False``); the quantity Theorems 4.2 and 4.3 bound."""
    block = np.asarray(r)[..., :N]
    if exclude_own:
        block = np.where(np.eye(N, dtype=bool), np.inf, block)
    return block.min(axis=-1)


def is_binary(r, *, tol: float = 1e-9) -> bool:
    """Every ``r_k`` is 0 or 1: the row space is spanned by coordinate axes (as for the
    diagonal MIM surrogate of Eq. 17), so a bound on ``r_k`` holds or fails for a structural reason."""
    r = np.asarray(r)
    return bool(np.max(np.abs(r * (1.0 - r))) < tol)
