"""Client matrices of the linear objectives (Section 3.3) and the encoder row spaces they determine.

Every objective is a function of a client's second moment ``S = E_j[x_j x_j^T]``, written once
as its `sim.linear.objective.Objective`'s ``matrix``:

* ``"mim-surrogate"``      ``X = 2p(1-p) diag(S)`` — the paper's Eq. 17, diagonal.
* ``"mim-alignment"``      ``X = p(1-p) (S - diag S)`` — Eq. 4 averaged exactly over masks.
* ``"cl-similar"``         ``X = S`` — ``E[(x+xi)(x+xi')^T] = x x^T`` for independent noises.
* ``"cl-dissimilar"``      ``X = (H S + S H^T) / 2``.
* ``"mim-reconstruction"`` Eq. 3, a reduced-rank regression; no alignment matrix.

``p`` is the mask ratio: each mask entry is 0 with probability ``p``. Every function here takes
an `Objective` or the name of one.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from sim.data import draws
from sim.linear.objective import Objective, check_mask_ratio, get_objective, mask_moments
from sim.linear.solvers import check_square, check_width

TRANSFORMS = ("identity", "orthogonal", "subspace-rotation")


def _check_objective(objective, S, p, H) -> tuple[Objective, int]:
    objective = get_objective(objective)
    d = check_square("S", S)
    if objective.uses_mask_ratio:
        check_mask_ratio(p, objective.name)
    if objective.uses_H:
        if H is None:
            raise ValueError(f"H = None: objective {objective.name!r} needs the transform H of shape (d, d)")
        if jnp.shape(H) != (d, d):
            raise ValueError(f"H: got shape {jnp.shape(H)}; need ({d}, {d}) to match S")
    return objective, d


def client_matrix(S, objective: Objective | str, *, p=None, H=None) -> jax.Array:
    """Symmetric alignment matrix ``X`` of one client: ``row(W)`` at a stationary point is its top-``c`` eigenspace.

    ``S`` is the client's second moment ``(d, d)`` (symmetrised first); ``objective`` an
    `Objective` or its name; ``p`` (mask ratio) and ``H`` (transform) are ignored by objectives
    that do not use them. ``"mim-alignment"`` has zero diagonal because ``m_k (1 - m_k) = 0``.

    >>> S = jnp.array([[2.0, 1.0], [1.0, 3.0]])
    >>> client_matrix(S, "mim-alignment", p=0.5).tolist()
    [[0.0, 0.25], [0.25, 0.0]]
    """
    objective, _ = _check_objective(objective, S, p, H)
    if objective.kind == "regression":
        raise ValueError(
            f"objective {objective.name!r} has no alignment matrix: its stationary encoder is a reduced-rank "
            f"regression; use encoder_subspace(S, {objective.name!r}, c, p=p)"
        )
    S = jnp.asarray(S)
    S = (S + S.T) / 2
    X = objective.matrix(S, p=p, H=None if H is None else jnp.asarray(H))
    return jnp.diag(X) if objective.kind == "diagonal" else X


def reconstruction_loss(S, encoder, decoder, p) -> jax.Array:
    """Eq. 3 averaged exactly over masks and samples: ``E || W_d W_e u - v ||^2`` for ``B = W_d W_e``,

    ``tr(B Sigma_uu B^T) - 2 tr(B Sigma_uv) + tr(Sigma_vv)`` (moments of `mask_moments`).
    ``encoder`` is ``W_e (c, d)``, ``decoder`` ``W_d (d, c)``.
    """
    uu, vu, vv = mask_moments(S, p)
    B = jnp.asarray(decoder) @ jnp.asarray(encoder)
    return jnp.sum((B @ uu) * B) - 2 * jnp.sum(B * vu) + jnp.trace(vv)


#: Default resolution of `encoder_fit`: the representabilities are compared at the 1e-6 scale.
SUBSPACE_RESOLUTION = 1e-6


class EncoderFit(NamedTuple):
    """Result of `encoder_fit`, for the matrix ``X`` whose top-``c`` eigenspace gives ``row(W)``
    (``A A^T`` for Eq. 3, below):

    - ``subspace (d, c)``: the orthonormal basis of `encoder_subspace`;
    - ``spread (d,)``: ``r_k^max - r_k^min`` over every stationary point, 0 for all ``k`` when
      the top-``c`` eigenspace is unique; ``r_k`` of ``subspace`` lies in that range;
    - ``gap``: the relative eigen-gap ``(lambda_c - lambda_(c+1)) / ||X||_F`` (``inf`` at
      ``c = d``, 0 for ``X = 0``);
    - ``count``: the number of eigenvalues of ``X`` above ``above`` (Assumption A.5 needs ``c``)."""

    subspace: jax.Array
    spread: jax.Array
    gap: jax.Array
    count: jax.Array


def tied_at_c(values, c: int, norm, *, resolution=SUBSPACE_RESOLUTION) -> tuple[jax.Array, jax.Array]:
    """Which of the eigenvalues ``values (..., d)`` (any order) form a cluster tied across
    ``c``, and the relative eigen-gap ``(lambda_c - lambda_(c+1)) / norm`` (``inf`` at
    ``c = d``); ``norm (...)`` one per matrix.

    The cluster is every eigenvalue within ``tau`` of ``lambda_c`` when ``lambda_(c+1)`` is
    (a tie at c), else empty; ``tau = d eps norm / resolution`` with ``norm = ||X||_F``:
    rounding perturbs ``X`` by about ``d eps ||X||_F`` (a backward-stable ``eigh``), which moves
    a top-``c`` eigenspace by at most that over the gap (Davis-Kahan), i.e. by ``resolution``
    at a gap of ``tau``. Every stationary point contains the eigenvectors above the cluster and
    lies in their span with the cluster's, and ``r_k = e_k^T P e_k`` is monotone under
    inclusion, so over the stationary points ``r_k`` varies by ``sum_(j in cluster) basis_kj^2``
    for a ``basis`` of eigenvectors in the order of ``values`` (`cluster_spread`).

    >>> mask, gap = tied_at_c(jnp.array([3.0, 1.0, 2.0, 1.0]), 3, 1.0)
    >>> mask.tolist(), float(gap)
    ([False, True, False, True], 0.0)
    """
    d, dtype = values.shape[-1], values.dtype
    if c == d:
        return jnp.zeros(values.shape, bool), jnp.full(values.shape[:-1], jnp.inf, dtype)
    top = jax.lax.top_k(values, c + 1)[0]
    lam_c, gap = top[..., c - 1], top[..., c - 1] - top[..., c]
    norm = jnp.asarray(norm, dtype)
    tau = d * jnp.finfo(dtype).eps * norm / resolution
    mask = (gap <= tau)[..., None] & (jnp.abs(values - lam_c[..., None]) <= tau[..., None])
    return mask, jnp.where(norm > 0, gap / jnp.where(norm > 0, norm, 1), 0)


def cluster_spread(basis, mask) -> jax.Array:
    """``sum_(j in cluster) basis_kj^2`` per coordinate ``k`` (``basis (..., d, d)``, ``mask (..., d)``
    from `tied_at_c`): how far ``r_k`` varies over the stationary points (`EncoderFit.spread`)."""
    return jnp.sum(jnp.where(mask[..., None, :], basis**2, 0), axis=-1)


def _descending_eigh(X):
    values, vectors = jnp.linalg.eigh(X)
    return values[::-1], vectors[:, ::-1]


@functools.partial(jax.jit, static_argnames=("objective", "c"))
def _encoder_fit(S, p, H, above, resolution, *, objective, c):
    S = (S + S.T) / 2
    X = objective.matrix(S, p=p, H=H)
    if objective.kind == "diagonal":
        # Diagonal X (given as its diagonal): its eigenvectors are coordinate axes (in top_k's
        # order, ties by index), so r_k is exactly 0 or 1 and the basis of the spread is the identity.
        diag = X
        top = jax.lax.top_k(diag, c)[1]
        mask, gap = tied_at_c(diag, c, jnp.linalg.norm(diag), resolution=resolution)
        V = jax.nn.one_hot(top, S.shape[0], dtype=S.dtype).T
        return EncoderFit(V, mask.astype(S.dtype), gap, jnp.sum(diag > above))
    values, vectors = _descending_eigh(X)
    mask, gap = tied_at_c(values, c, jnp.linalg.norm(X), resolution=resolution)
    if objective.kind == "regression":
        # All d eigenvectors are mapped and factorised: the first m columns of Q span row(W)
        # built from the top m eigenpairs, for every m, so the sandwich of `tied_at_c` holds
        # with Q as the basis (the tied cluster is a run of consecutive columns).
        vectors = jnp.linalg.qr(objective.basis(S, vectors, p=p, H=H))[0]
    return EncoderFit(vectors[:, :c], cluster_spread(vectors, mask), gap, jnp.sum(values > above))


def encoder_fit(S, objective: Objective | str, c: int, *, p=None, H=None, above=0.0,
                resolution=SUBSPACE_RESOLUTION) -> EncoderFit:
    """`encoder_subspace`, how far each ``r_k`` is from being determined by ``S``, the eigen-gap
    and an eigenvalue count (see `EncoderFit`).

    The stationary point is unique only when the eigen-gap at ``c`` is positive. With a tie
    there (a degenerate eigenvalue straddling ``c``, as the class symmetry of a population
    moment gives) every choice of the top ``c`` inside the tied eigenspace is a stationary
    point, ``subspace`` is the one ``eigh`` happens to return, and ``r_k`` is a property of the
    model only where ``spread_k`` is below ``resolution``; eigenvalues within
    ``d eps ||X||_F / resolution`` of each other count as tied (see `tied_at_c`).

    >>> fit = encoder_fit(jnp.diag(jnp.array([3.0, 1.0, 1.0])), "cl-similar", 2)
    >>> fit.spread.round(12).tolist(), float(fit.gap), int(fit.count)
    ([0.0, 1.0, 1.0], 0.0, 3)
    """
    objective, d = _check_objective(objective, S, p, H)
    check_width(c, d)
    S = jnp.asarray(S)
    p = jnp.asarray(0.5 if p is None else p, dtype=S.dtype)
    H = jnp.zeros((0, 0), S.dtype) if H is None or not objective.uses_H else jnp.asarray(H, S.dtype)
    if not resolution > 0:
        raise ValueError(f"resolution = {resolution!r} is out of range: need a positive number")
    return _encoder_fit(S, p, H, jnp.asarray(above, S.dtype), jnp.asarray(resolution, S.dtype),
                        objective=objective, c=int(c))


def encoder_subspace(S, objective: Objective | str, c: int, *, p=None, H=None) -> jax.Array:
    """Orthonormal basis ``V (d, c)`` of ``row(W)`` at the stationary point of ``objective``.

    Alignment-type objectives: the top-``c`` eigenspace (algebraic order) of
    `client_matrix`. If that matrix has fewer than ``c`` positive eigenvalues, Assumption A.5
    (``rank W = c``) fails: the minimiser keeps only the positive part and the remaining
    columns of ``V`` are not in its row space (check with `top_eigenspace`'s eigenvalues).

    ``"mim-reconstruction"`` (Eq. 3): the closed-form reduced-rank regression of
    ``v = x * (1 - m)`` on ``u = x * m`` with the moments of `mask_moments`:
    ``B = P_c Sigma_vu Sigma_uu^{-1}``, ``row(W_e) = span(Sigma_uu^{-1} Sigma_uv U_c)``.
    Needs ``diag(S) > 0`` (``Sigma_uu`` positive definite); it is when ``mu > 0``.

    >>> V = encoder_subspace(jnp.diag(jnp.array([3.0, 1.0, 2.0])), "cl-similar", 2)
    >>> V.shape
    (3, 2)
    """
    return encoder_fit(S, objective, c, p=p, H=H).subspace


def make_transform(kind: str, d: int, *, key: jax.Array | None = None, dim: int | None = None) -> jax.Array:
    """Linear image transform ``H (d, d)`` for ``"cl-dissimilar"``.

    ``"identity"``; ``"orthogonal"``: Haar-random orthogonal (QR of a Gaussian matrix with the
    sign fix ``Q diag(sign diag R)``); ``"subspace-rotation"``: a Haar-random rotation
    (determinant +1) of the first ``dim`` coordinates, identity elsewhere. Random kinds need
    ``key``. Assumption A.9 asks ``tr(P H_sym P) > 0`` (`check_transform`); a random
    orthogonal ``H`` violates it about half the time.
    """
    if kind not in TRANSFORMS:
        raise ValueError(f"kind = {kind!r} is unknown; choose one of {TRANSFORMS}")
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"d = {d!r} is out of range: need an integer d >= 1")
    if kind == "identity":
        return jnp.eye(d)
    if key is None:
        raise ValueError(f"key = None: transform kind {kind!r} is random and needs key=jax.random.key(...)")
    if kind == "orthogonal":
        return _haar_orthogonal(key, d)
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not 2 <= dim <= d:
        raise ValueError(f"dim = {dim!r} is out of range: 'subspace-rotation' needs an integer 2 <= dim <= d = {d}")
    Q = _haar_orthogonal(key, dim)
    # Flip one column if needed so the block is a rotation (det +1), not a reflection.
    Q = Q.at[:, 0].multiply(jnp.sign(jnp.linalg.det(Q)))
    return jnp.eye(d, dtype=Q.dtype).at[:dim, :dim].set(Q)


def _haar_orthogonal(key, d: int) -> jax.Array:
    Q, R = jnp.linalg.qr(draws.normal(key, (d, d)))
    return Q * jnp.sign(jnp.diagonal(R))[None, :]


def transform_trace(H, c: int) -> jax.Array:
    """``tr(P H_sym P) = sum_{k<c} H_kk``, ``P`` the projector on ``span{e_0..e_{c-1}}`` (Assumption A.9)."""
    d = check_square("H", H)
    check_width(c, d)
    return jnp.sum(jnp.diagonal(jnp.asarray(H))[:c])


def check_transform(H, c: int) -> float:
    """Return ``tr(P H_sym P)``; raise ``ValueError`` if Assumption A.9 (``> 0``) fails."""
    value = float(transform_trace(H, c))
    if not value > 0:
        raise ValueError(
            f"H: tr(P H_sym P) = {value:.6g} over the first c = {c} coordinates; "
            "Assumption A.9 requires tr(P H_sym P) > 0"
        )
    return value
