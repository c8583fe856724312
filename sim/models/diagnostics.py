"""Representation diagnostics of a batch of embeddings ``z`` (one row per sample).

The measures by which dimensional collapse is reported (Wang & Isola 2020, "Understanding
contrastive representation learning through alignment and uniformity on the hypersphere";
Garrido et al. 2023, "RankMe"; Jing et al. 2022, DirectCLR's embedding spectrum): whether a
heterogeneous partition collapses a representation shows in these numbers before it shows in
a probe. Every function takes an optional ``mask`` of valid rows (the toolkit pads clients to
one size): a row with mask 0 is ignored. Pure functions of arrays; jit and vmap freely.

>>> import jax.numpy as jnp
>>> round(float(effective_rank(jnp.eye(3))), 6)
3.0
>>> float(alignment(jnp.eye(2), jnp.eye(2)))
0.0
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from sim import checks

#: Floor on the normalised singular values inside RankMe's entropy (Garrido et al.'s epsilon).
_EPS = 1e-12


def _rows(name: str, z) -> jax.Array:
    shape = getattr(z, "shape", None)
    if shape is None or len(shape) != 2 or shape[0] < 1 or shape[1] < 1:
        raise ValueError(f"{name} = array of shape {shape!r} is out of range: must be a 2-d array "
                         "(rows = samples, columns = embedding coordinates) with at least one row and column")
    z = jnp.asarray(z)
    return z if jnp.issubdtype(z.dtype, jnp.floating) else z.astype(jnp.result_type(float))


def _weights(z: jax.Array, mask) -> jax.Array:
    if mask is None:
        return jnp.ones(z.shape[0], z.dtype)
    if getattr(mask, "shape", None) != (z.shape[0],):
        raise ValueError(f"mask = array of shape {getattr(mask, 'shape', None)!r} is out of range: "
                         f"must have shape ({z.shape[0]},), one entry per row of z")
    return jnp.asarray(mask, z.dtype)


def _normalised(z: jax.Array) -> jax.Array:
    return z / jnp.maximum(jnp.linalg.norm(z, axis=-1, keepdims=True), jnp.finfo(z.dtype).tiny)


def uniformity(z, t: float = 2.0, *, mask=None) -> jax.Array:
    """Wang & Isola's uniformity ``log mean_{i<j} exp(-t ||u_i - u_j||^2)`` of the L2-normalised
    rows ``u_i = z_i / ||z_i||`` (lower is more uniform; needs two valid rows).

    Points uniform on the circle give ``-4 + log I_0(4) = -1.5750`` at ``t = 2``; ``N`` equally
    spaced ones, pairs ``i < j`` only, give ``log((N e^{-4} I_0(4) - 1) / (N - 1))``, ``-1.5802``
    at ``N = 720``:

    >>> import jax.numpy as jnp
    >>> angles = 2 * jnp.pi * jnp.arange(720.0) / 720
    >>> round(float(uniformity(jnp.stack([jnp.cos(angles), jnp.sin(angles)], 1))), 3)
    -1.58
    """
    z = _rows("z", z)
    t = checks.real("uniformity.t", t, low=0, closed=False)
    if z.shape[0] < 2:
        raise ValueError(f"z = array of shape {z.shape!r} is out of range: uniformity needs at least two rows")
    w = _weights(z, mask)
    u = _normalised(z)
    # ||u_i - u_j||^2 = 2 - 2 u_i.u_j on the sphere; the pair weight w_i w_j drops padded rows.
    sq = jnp.maximum(2.0 - 2.0 * (u @ u.T), 0.0)
    pair = jnp.triu(jnp.outer(w, w), k=1)
    return logsumexp(-t * sq, b=pair) - jnp.log(jnp.sum(pair))


def alignment(z1, z2, alpha: float = 2.0, *, mask=None) -> jax.Array:
    """Wang & Isola's alignment ``mean_i ||u1_i - u2_i||^alpha`` between the L2-normalised rows
    of two views (row ``i`` of ``z1`` and of ``z2`` embed the same sample; lower is better
    aligned). Not the MAR alignment term of Section 5 (``sim.alignment``)."""
    z1, z2 = _rows("z1", z1), _rows("z2", z2)
    if z1.shape != z2.shape:
        raise ValueError(f"z2 = array of shape {z2.shape!r} is out of range: must have z1's shape {z1.shape!r}")
    alpha = checks.real("alignment.alpha", alpha, low=0, closed=False)
    w = _weights(z1, mask)
    dist = jnp.linalg.norm(_normalised(z1) - _normalised(z2), axis=-1)
    return jnp.sum(w * dist**alpha) / jnp.sum(w)


def effective_rank(z, *, mask=None) -> jax.Array:
    """RankMe's effective rank ``exp(-sum_k p_k log p_k)`` with ``p_k = sigma_k / sum sigma``,
    the singular values of ``z`` itself (uncentred, as in Garrido et al. 2023): between 1 and
    ``min(rows, columns)``, equal to ``k`` for ``k`` equal non-zero singular values.

    >>> import jax.numpy as jnp
    >>> round(float(effective_rank(jnp.diag(jnp.array([2.0, 2.0, 0.0])))), 6)
    2.0
    """
    z = _rows("z", z)
    w = _weights(z, mask)
    # A masked row set to zero leaves the singular values of the valid rows unchanged.
    s = jnp.linalg.svd(z * w[:, None], compute_uv=False)
    p = s / jnp.maximum(jnp.sum(s), jnp.finfo(z.dtype).tiny) + _EPS
    return jnp.exp(-jnp.sum(p * jnp.log(p)))


def embedding_spectrum(z, *, mask=None) -> jax.Array:
    """The eigenvalues of the embeddings' covariance ``mean_i (z_i - mean)(z_i - mean)^T``,
    largest first (DirectCLR's spectrum: collapsed directions show as eigenvalues at zero).

    >>> import jax.numpy as jnp
    >>> [round(float(v), 6) for v in embedding_spectrum(jnp.array([[1.0, 0.0], [-1.0, 0.0]]))]
    [1.0, 0.0]
    """
    z = _rows("z", z)
    w = _weights(z, mask)
    mean = (w @ z) / jnp.sum(w)
    centred = (z - mean[None, :]) * jnp.sqrt(w)[:, None]
    cov = centred.T @ centred / jnp.sum(w)
    return jnp.maximum(jnp.linalg.eigvalsh(cov)[::-1], 0.0)
