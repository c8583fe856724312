"""Losses of the linear models of Section 3.3 in the engine's shape ``loss_fn(params, x, mask, key)``.

Parameters: ``{"encoder": W (c, d)}`` for the alignment-type objectives, plus
``"decoder": W_d (d, c)`` for ``"mim-reconstruction"`` (:func:`init_linear_params`). ``p`` is the
mask ratio: each mask entry is 0 (hidden) with probability ``p``.

Two forms of every objective (:class:`LinearObjective`):

``form="minibatch"`` — the paper's losses on sampled data, one fresh draw of the augmentation
noise / masks per sample and step (``batch_x`` (B, d) samples, ``batch_mask`` (B,)):

- ``"cl-similar"``:   ``-mean_j (W(x_j+ξ_j))ᵀ(W(x_j+ξ'_j)) + ½‖WᵀW‖_F²``
- ``"cl-dissimilar"``: ``-mean_j (W(x_j+ξ_j))ᵀ(W H x_j) + ½‖WᵀW‖_F²``
- ``"mim-alignment"`` (Eq. 4): ``-mean_j (W(x_j⊙m_j))ᵀ(W(x_j⊙(1-m_j))) + ½‖WᵀW‖_F²``
- ``"mim-surrogate"`` (Eq. 17, no randomness): ``-tr(W X Wᵀ) + ½‖WᵀW‖_F²`` with
  ``X = 2p(1-p) mean_j diag(x_j)²``
- ``"mim-reconstruction"`` (Eq. 3): ``mean_j ‖W_d W (x_j⊙m_j) - x_j⊙(1-m_j)‖²``

Their expectations over noise and masks are the ``form="moment"`` losses, which take the
client's second moment ``S`` (d, d) as its whole "data set" (``ClientData.from_arrays(S)`` with
``S`` stacked (N, d, d), and a full batch, ``batch_size=None``): ``-tr(W X Wᵀ) + ½‖WᵀW‖_F²``
with ``X = client_matrix(S, objective)``, or Eq. 3 averaged exactly over masks
(:func:`sim.linear.matrices.reconstruction_loss`). Gradient descent on the moment form is exact
(deterministic) gradient descent on the expected objective; its stationary row space is
:func:`sim.linear.matrices.encoder_subspace`.

Objects compare and hash by value, so the engine compiles one program per objective.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from sim.data import draws
from sim.data.masks import exact_mask
from sim.linear.matrices import client_matrix, reconstruction_loss
from sim.linear.objective import BUILTIN_OBJECTIVES, OBJECTIVES, get_objective
from sim.linear.solvers import thin_svd

FORMS: tuple[str, ...] = ("minibatch", "moment")


def _weights(batch_mask, dtype):
    # In the data's precision: a float32 run stays float32 when x64 is on.
    w = batch_mask.astype(dtype)
    return w / jnp.maximum(jnp.sum(w), 1.0)


def _gram_penalty(W):
    # ½‖WᵀW‖_F² = ½‖W Wᵀ‖_F² (c x c, cheaper for c < d)
    g = W @ W.T
    return 0.5 * jnp.sum(g * g)


def _alignment_parts(W, x, visible, w):
    u = jnp.where(visible, x, jnp.zeros((), x.dtype))
    a, y = u @ W.T, x @ W.T  # W u_j and W x_j; W v_j = y_j - a_j since v = x - u
    return u, a, y, -jnp.sum(w * jnp.sum(a * (y - a), axis=1))


@jax.custom_vjp
def masked_alignment(W, x, visible, w):
    """The data term of Eq. 4 on a minibatch: ``-Σ_j w_j (W u_j)ᵀ(W v_j)``, ``u_j = x_j ⊙ m_j``,
    ``v_j = x_j ⊙ (1 - m_j)``, ``visible`` the boolean mask ``m`` (B, d), ``w`` (B,) row weights.

    Its gradient is written out (two GEMMs per argument) instead of differentiated through the
    two masked products: with ``a = u Wᵀ`` and ``y = x Wᵀ``, ``∂/∂W = -((w ∘ (y - 2a))ᵀ u + (w ∘ a)ᵀ x)``,
    which needs neither ``v`` nor a third product (``tests/test_engine_fast.py`` checks it against
    autodiff of the plain expression). ``visible`` gets no gradient.

    >>> import jax, jax.numpy as jnp
    >>> W, x = jnp.ones((1, 2)), jnp.array([[1.0, 2.0]])
    >>> float(masked_alignment(W, x, jnp.array([[True, False]]), jnp.ones(1)))
    -2.0
    """
    return _alignment_parts(W, x, visible, w)[3]


def _masked_alignment_fwd(W, x, visible, w):
    u, a, y, value = _alignment_parts(W, x, visible, w)
    return value, (W, x, visible, w, u, a, y)


def _masked_alignment_bwd(res, g):
    W, x, visible, w, u, a, y = res
    gw = g * w
    da = -gw[:, None] * (y - 2 * a)  # ∂value/∂a
    dy = -gw[:, None] * a  # ∂value/∂y
    dx = jnp.where(visible, da @ W, jnp.zeros((), x.dtype)) + dy @ W  # unused (and compiled away) in training
    return da.T @ u + dy.T @ x, dx, None, -g * jnp.sum(a * (y - a), axis=1)


masked_alignment.defvjp(_masked_alignment_fwd, _masked_alignment_bwd)


@dataclasses.dataclass(frozen=True, eq=False)
class LinearObjective:
    """One Section 3.3 objective as an engine loss (see the module docstring).

    ``name`` is an `sim.linear.objective.Objective` or its name (stored as the name; the value is
    ``objective``); any objective has the ``moment`` form, the built-ins also ``minibatch``.
    ``mask_ratio`` is ``p`` (MIM objectives), ``transform`` is ``H`` (d, d) (``"cl-dissimilar"``).
    """

    name: str
    mask_ratio: float | None = None
    transform: np.ndarray | None = None
    form: str = "minibatch"

    def __post_init__(self):
        objective = get_objective(self.name)
        object.__setattr__(self, "objective", objective)  # the value the moment form reads
        object.__setattr__(self, "name", objective.name)
        if self.form not in FORMS:
            raise ValueError(f"form={self.form!r} must be one of {FORMS}")
        if self.form == "minibatch" and objective not in BUILTIN_OBJECTIVES:
            raise ValueError(f"form='minibatch' is written for the built-in objectives {OBJECTIVES}; "
                             f"objective {self.name!r} has the 'moment' form")
        if objective.uses_mask_ratio:
            p = self.mask_ratio
            if p is None or not 0 < float(p) < 1:
                raise ValueError(f"mask_ratio={p!r}: objective {self.name!r} needs the mask ratio p in (0, 1)")
            object.__setattr__(self, "mask_ratio", float(p))
        else:
            object.__setattr__(self, "mask_ratio", None)
        if objective.uses_H:
            if self.transform is None:
                raise ValueError(f"transform=None: objective {self.name!r} needs the transform H (d, d)")
            H = np.array(self.transform, dtype=np.float64)
            if H.ndim != 2 or H.shape[0] != H.shape[1]:
                raise ValueError(f"transform must be a square (d, d) matrix, got shape {H.shape}")
            H.setflags(write=False)
            object.__setattr__(self, "transform", H)
        else:
            object.__setattr__(self, "transform", None)

    def _key(self):
        h = None if self.transform is None else (self.transform.shape, self.transform.tobytes())
        return (self.objective, self.mask_ratio, h, self.form)

    def __eq__(self, other):
        return isinstance(other, LinearObjective) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __call__(self, params, batch_x, batch_mask, key):
        W = params["encoder"]
        if self.form == "moment":
            return self._moment(params, W, batch_x)
        return self._minibatch(params, W, batch_x, batch_mask, key)

    def _moment(self, params, W, S):
        if S.ndim != 2 or S.shape[0] != S.shape[1]:
            raise ValueError(
                f"form='moment' takes the client's second moment S (d, d) as its batch, got shape {S.shape}; "
                f"use a full batch (batch_size=None)"
            )
        p = self.mask_ratio
        if self.objective.kind == "regression":
            return reconstruction_loss(S, W, params["decoder"], p)
        H = None if self.transform is None else jnp.asarray(self.transform, S.dtype)
        X = client_matrix(S, self.objective, p=p, H=H)
        return -jnp.sum((W @ X) * W) + _gram_penalty(W)

    def _minibatch(self, params, W, x, batch_mask, key):
        w = _weights(batch_mask, x.dtype)
        p = self.mask_ratio
        if self.name == "mim-surrogate":
            col = jnp.sum(W * W, axis=0)  # ‖W e_k‖²
            return -2 * p * (1 - p) * jnp.sum(w * ((x * x) @ col)) + _gram_penalty(W)
        if self.name in ("mim-alignment", "mim-reconstruction"):
            # Eqs. 3-4: m_k ~ Bernoulli(1 - p). exact_mask packs 32/bits entries per random word
            # for dyadic p (16 per word at the paper's p = 3/4) instead of one float uniform each;
            # u = x ∘ m and v = x ∘ (1 - m) = x - u exactly (each entry is x or 0).
            visible = exact_mask(key, p, x.shape)  # one random draw per step: no key split
            if self.name == "mim-alignment":
                return masked_alignment(W, x, visible, w) + _gram_penalty(W)
            u = jnp.where(visible, x, jnp.zeros((), x.dtype))
            resid = (u @ W.T) @ params["decoder"].T - (x - u)
            return jnp.sum(w * jnp.sum(resid * resid, axis=1))
        else:
            k1, k2 = jax.random.split(key)
            a = (x + draws.normal(k1, x.shape, x.dtype)) @ W.T
            if self.name == "cl-similar":
                b = (x + draws.normal(k2, x.shape, x.dtype)) @ W.T
            else:
                b = x @ (W @ jnp.asarray(self.transform, x.dtype)).T
        return -jnp.sum(w * jnp.sum(a * b, axis=1)) + _gram_penalty(W)


def alignment_matrix_loss(params, batch_x, batch_mask, key):
    """Expected alignment-type loss given the client matrix itself: ``-tr(W X Wᵀ) + ½‖WᵀW‖_F²``.

    ``batch_x`` is the client's symmetric matrix ``X`` (d, d) (``client_matrix(S, objective)``
    of any alignment-type objective), taken as a full batch (``batch_size=None``); ``batch_mask``
    and ``key`` are unused. One compiled program then serves every alignment-type objective.
    Its stationary row space is the top-``c`` eigenspace of ``X`` (positive part).
    """
    del batch_mask, key
    W = params["encoder"]
    return -jnp.sum((W @ batch_x) * W) + _gram_penalty(W)


def linear_objective(name: str, *, p: float | None = None, H=None, form: str = "minibatch") -> LinearObjective:
    """The engine loss of objective ``name`` (an `sim.linear.objective.Objective` or its name).

    >>> import jax, jax.numpy as jnp
    >>> loss = linear_objective("mim-alignment", p=0.75)
    >>> params = init_linear_params("mim-alignment", d=8, c=2, key=jax.random.key(0))
    >>> x = jnp.ones((4, 8)); mask = jnp.ones(4, bool)
    >>> loss(params, x, mask, jax.random.key(1)).shape
    ()
    """
    return LinearObjective(name, p, H, form)


def init_linear_params(name: str, d: int, c: int, *, key, scale: float | None = None) -> dict:
    """Gaussian initial parameters, entries ``N(0, scale²)`` (default ``scale = 1/sqrt(d)``):
    ``{"encoder": (c, d)}``, plus ``"decoder": (d, c)`` for ``"mim-reconstruction"``."""
    objective = get_objective(name)
    if not (isinstance(d, (int, np.integer)) and isinstance(c, (int, np.integer)) and 1 <= c <= d):
        raise ValueError(f"c={c!r}, d={d!r}: need integers 1 <= c <= d")
    scale = 1.0 / np.sqrt(d) if scale is None else float(scale)
    if not scale > 0:
        raise ValueError(f"scale={scale} must be > 0")
    ke, kd = jax.random.split(key)
    params = {"encoder": scale * draws.normal(ke, (c, d))}
    if objective.kind == "regression":
        params["decoder"] = scale * draws.normal(kd, (d, c))
    return params


def encoder_row_space(params) -> jax.Array:
    """Orthonormal basis ``V (d, c)`` of ``row(W)`` of a trained encoder (right singular vectors,
    largest first). Meaningful when ``rank W = c`` (Assumption A.5); if ``W`` is rank deficient
    the trailing columns span directions ``W`` does not use."""
    W = params["encoder"] if isinstance(params, dict) else params
    return thin_svd(W)[2].T  # not jnp.linalg.svd: see sim.linear.solvers.thin_svd (a hang on one core)
