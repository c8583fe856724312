"""A downstream data model with shared latent structure.

In the paper's model (Section 3.2) the coordinates are independent given the class, so a
masked coordinate is almost unpredictable from the visible ones and a masked autoencoder has
nothing to learn. Here every sample comes from a low-dimensional Gaussian mixture,

    z ~ N(mu_y, s^2 I_k)    (one mean per class y, k << d)
    x = U z + noise * xi,   xi ~ N(0, I_d),

with ``U`` a fixed random ``d x k`` matrix with orthonormal columns. Every coordinate of ``x``
reads the same ``k`` latent factors, so the visible coordinates predict the hidden ones through
``z`` (:func:`masked_r2` measures how well), and the classes are linearly separable in
``span U`` to a degree set by ``separation / latent_std``.

``make_latent_model(cfg, key=...)`` draws ``U`` and the class means once (they are part of the
trial, like the transform ``H`` of reading 8: draw one per seed). :func:`sample` has the
shape of the paper model's per-label sampler ``sim.data.model.sample_labelled`` —
``(model, labels, *, key) -> x (len(labels), d)`` — and ``DATA_MODELS`` maps a name to either,
so a partitioner's labels can be turned into samples of either model.

Example::

    >>> import jax, jax.numpy as jnp
    >>> model = make_latent_model(LatentConfig(d=16, k=3, n_classes=4), key=jax.random.key(0))
    >>> x = sample(model, jnp.array([0, 1, 3]), key=jax.random.key(1))
    >>> x.shape
    (3, 16)
    >>> bool(jnp.allclose(model.embedding.T @ model.embedding, jnp.eye(3), atol=1e-6))
    True
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from sim.data import draws
from sim.data.model import sample_labelled


def _fail(field: str, value, allowed: str) -> ValueError:
    return ValueError(f"LatentConfig.{field} = {value!r} is out of range: {allowed}")


def _integer(field: str, value, low: int, high: float = math.inf) -> int:
    """Python or NumPy integers in ``[low, high]``; bools and floats are rejected (a float
    dimension is a bug upstream, even an integral one)."""
    allowed = f"must be an integer in [{low}, {high}]"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise _fail(field, value, allowed)
    if not low <= int(value) <= high:
        raise _fail(field, value, allowed)
    return int(value)


def _real(field: str, value, *, positive: bool) -> float:
    allowed = "must be a finite real number " + ("> 0" if positive else ">= 0")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise _fail(field, value, allowed)
    value = float(value)
    if not math.isfinite(value) or (value <= 0 if positive else value < 0):
        raise _fail(field, value, allowed)
    return value


@dataclasses.dataclass(frozen=True)
class LatentConfig:
    """The latent Gaussian-mixture model (hashable: a static jit argument).

    Args:
        d: input dimension, ``d >= 1``.
        k: latent dimension, ``1 <= k <= d`` (``U`` has ``k`` orthonormal columns).
        n_classes: number of classes ``C >= 2`` (one latent mean each).
        noise: standard deviation of the isotropic input noise ``xi``, ``>= 0``.
        separation: standard deviation of the class means, ``mu_y ~ N(0, separation^2 I_k)``,
            ``> 0``; with ``latent_std`` it sets how separable the classes are (the mean
            distance between two class means is about ``separation * sqrt(2k)``).
        latent_std: within-class standard deviation ``s`` of ``z``, ``> 0``. Default 1, so
            ``separation`` reads in units of the within-class spread.

    Defaults (``noise = 0.2``, ``separation = 2``): with ``U`` orthonormal each coordinate
    carries signal variance about ``(k/d)(s^2 + separation^2)``, so the noise must be small
    against ``sqrt(k/d)`` for the hidden coordinates to be predictable; at ``d = 32``, ``k = 4``,
    8 classes these give a masked R^2 near 0.8 at mask ratio 0.75 and a raw-input linear probe
    of about 0.7-0.85 (chance 0.125), leaving room for an encoder to help or hurt.

    Raises ``ValueError`` naming the field, the value and the allowed range.
    """

    d: int
    k: int
    n_classes: int
    noise: float = 0.2
    separation: float = 2.0
    latent_std: float = 1.0

    def __post_init__(self):
        set_ = functools.partial(object.__setattr__, self)
        set_("d", _integer("d", self.d, 1))
        set_("k", _integer("k", self.k, 1, self.d))
        set_("n_classes", _integer("n_classes", self.n_classes, 2))
        set_("noise", _real("noise", self.noise, positive=False))
        set_("separation", _real("separation", self.separation, positive=True))
        set_("latent_std", _real("latent_std", self.latent_std, positive=True))


@functools.partial(jax.tree_util.register_dataclass, data_fields=["embedding", "means"], meta_fields=["cfg"])
@dataclasses.dataclass(frozen=True)
class LatentModel:
    """One draw of the model: ``embedding`` ``U (d, k)`` with orthonormal columns and the class
    means ``means (n_classes, k)`` of ``z``. A pytree (``cfg`` static), so it can be passed to
    jitted and vmapped functions, e.g. one model per seed."""

    cfg: LatentConfig
    embedding: jax.Array
    means: jax.Array

    @property
    def d(self) -> int:
        return self.cfg.d

    @property
    def n_classes(self) -> int:
        return self.cfg.n_classes


def make_latent_model(cfg: LatentConfig, *, key: jax.Array) -> LatentModel:
    """Draw ``U`` (QR of a Gaussian ``d x k`` matrix, column signs fixed so that ``R`` has a
    positive diagonal: a uniformly random orthonormal frame) and the class means."""
    if not isinstance(cfg, LatentConfig):
        raise TypeError(f"cfg must be a LatentConfig, got {type(cfg).__name__}")
    return _draw(cfg, key)


@functools.partial(jax.jit, static_argnums=0)
def _draw(cfg: LatentConfig, key: jax.Array) -> LatentModel:
    k_embed, k_means = jax.random.split(key)
    q, r = jnp.linalg.qr(draws.normal(k_embed, (cfg.d, cfg.k)))
    signs = jnp.where(jnp.diagonal(r) < 0, -1.0, 1.0)
    means = cfg.separation * draws.normal(k_means, (cfg.n_classes, cfg.k))
    return LatentModel(cfg, q * signs[None, :], means)


@jax.jit
def _sample(model: LatentModel, labels: jax.Array, key: jax.Array) -> jax.Array:
    k_z, k_xi = jax.random.split(key)
    cfg = model.cfg
    z = model.means[labels] + cfg.latent_std * draws.normal(k_z, (labels.shape[0], cfg.k), model.means.dtype)
    xi = draws.normal(k_xi, (labels.shape[0], cfg.d), model.means.dtype)
    return jnp.einsum("nk,dk->nd", z, model.embedding) + cfg.noise * xi


def sample(model: LatentModel, labels, *, key: jax.Array) -> jax.Array:
    """One sample per label: ``x = U z + noise xi``, ``z ~ N(means[label], latent_std^2 I_k)``;
    shape ``(len(labels), d)``. Labels: a 1-D integer array with values in ``[0, n_classes)``
    (checked when concrete)."""
    labels = jnp.asarray(labels)
    if labels.ndim != 1 or not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(f"labels: got shape {labels.shape}, dtype {labels.dtype}; need a 1-D integer array")
    if not isinstance(labels, jax.core.Tracer):
        values = np.asarray(labels)
        bad = values[(values < 0) | (values >= model.n_classes)]
        if bad.size:
            raise ValueError(f"labels: {bad.tolist()} out of range; labels must lie in "
                             f"[0, n_classes) = [0, {model.n_classes})")
    return _sample(model, labels, key)


def population_moments(model: LatentModel, class_weights=None) -> tuple[jax.Array, jax.Array]:
    """Exact mean ``(d,)`` and covariance ``(d, d)`` of ``x`` when labels are drawn with
    probabilities ``class_weights`` (default uniform; a client's label proportions give its
    local moments):

        E[x] = U mu_bar,   Cov[x] = U (s^2 I_k + sum_y pi_y (mu_y - mu_bar)(mu_y - mu_bar)^T) U^T + noise^2 I_d.
    """
    cfg = model.cfg
    dtype = model.means.dtype
    pi = jnp.ones((cfg.n_classes,), dtype) if class_weights is None else jnp.asarray(class_weights, dtype)
    if pi.shape != (cfg.n_classes,):
        raise ValueError(f"class_weights: shape {pi.shape}, need ({cfg.n_classes},)")
    return _moments(model, pi / jnp.sum(pi))


@jax.jit
def _moments(model: LatentModel, pi: jax.Array) -> tuple[jax.Array, jax.Array]:
    cfg = model.cfg
    dtype = model.means.dtype
    mu_bar = pi @ model.means
    centred = model.means - mu_bar[None, :]
    latent_cov = cfg.latent_std**2 * jnp.eye(cfg.k, dtype=dtype) + jnp.einsum("y,yj,yl->jl", pi, centred, centred)
    U = model.embedding
    cov = U @ latent_cov @ U.T + cfg.noise**2 * jnp.eye(cfg.d, dtype=dtype)
    return U @ mu_bar, cov


@jax.jit
@functools.partial(jax.vmap, in_axes=(None, 0))
def _masked_r2(cov: jax.Array, visible: jax.Array) -> jax.Array:
    v = visible.astype(cov.dtype)
    h = 1.0 - v
    # The visible block padded with the identity on the hidden coordinates: its pseudo-inverse
    # is S_vv^+ on the visible block, and the shapes stay static under jit.
    block = v[:, None] * cov * v[None, :] + jnp.diag(h)
    cross = h[:, None] * cov * v[None, :]
    explained = jnp.trace(cross @ jnp.linalg.pinv(block, hermitian=True) @ cross.T)
    return explained / jnp.maximum(jnp.sum(h * jnp.diagonal(cov)), jnp.finfo(cov.dtype).tiny)


def masked_r2(cov: jax.Array, visible: jax.Array) -> jax.Array:
    """Fraction of the variance of the hidden coordinates ``x * (1 - m)`` explained by the best
    affine predictor from the visible ones ``x * m`` (``visible = m``, 0/1 or bool), given the
    covariance ``cov (d, d)`` of ``x``:

        R^2 = tr(S_hv S_vv^+ S_vh) / tr(S_hh).

    0 when the hidden coordinates are uncorrelated with the visible ones (the paper's model,
    the latent model), close to 1 when few latent factors drive all coordinates. ``visible`` is ``(d,)``
    or ``(..., d)`` (many masks: one value each); jit- and vmap-safe.
    """
    cov, visible = jnp.asarray(cov), jnp.asarray(visible)
    d = cov.shape[-1]
    if cov.shape != (d, d) or visible.shape[-1:] != (d,):
        raise ValueError(f"masked_r2: cov {cov.shape} must be (d, d) and visible {visible.shape} (..., d)")
    flat = visible.reshape((-1, d))
    return _masked_r2(cov, flat).reshape(visible.shape[:-1])


#: Per-label samplers by name, all ``(model, labels, *, key) -> x (len(labels), d)``:
#: ``paper`` takes a ``sim.data.config.DataConfig`` (Section 3.2, ``2N`` classes), ``latent`` a
#: :class:`LatentModel`.
DATA_MODELS: dict[str, Callable[..., jax.Array]] = {"paper": sample_labelled, "latent": sample}

__all__ = ["DATA_MODELS", "LatentConfig", "LatentModel", "make_latent_model", "masked_r2", "population_moments", "sample"]
