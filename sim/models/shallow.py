"""Shallow self-supervised models: linear and two-layer ReLU encoders with MIM and CL losses.

Where the theory stops (linear encoders, stationary points), the toolkit trains the same
objectives by gradient descent on small models, in the two families the paper compares:

- MIM: ``"mae"`` — masked autoencoder on vectors. A mask ``m`` with mask ratio ``p``
  (``P(m_k = 0) = p``) hides coordinates; the encoder sees ``x * m``, a linear decoder
  reconstructs ``x``, and the loss is the squared error on the hidden coordinates only
  (averaged over all hidden coordinates of the batch, as MAE does). With the linear model this
  is Eq. 3 restricted to the masked coordinates (Eq. 3 also asks the output to be zero on the
  visible ones).
- CL: ``"simsiam"`` — two views, predictor ``h``, stop-gradient on the target branch,
  ``L = 1/2 D(h(z1), sg z2) + 1/2 D(h(z2), sg z1)`` with ``D`` the negative cosine;
  ``"infonce"`` — InfoNCE at temperature ``T``, the other samples of the batch as negatives:
  on the cosine similarities (default) or the dot products of the two views' embeddings
  (``infonce_similarity``), symmetric over the two views (default) or one-sided, view 1 against
  view 2 only, as in SimCLR's and DirectCLR's code (``infonce_two_sided``).

Views for CL come from vector augmentations: ``"noise"`` (``x + s xi`` twice, the similar
augmentations of Section 3.3), ``"mask"`` (``x * m`` twice, ``P(m_k = 0) = s``) or ``"linear"``
(``x + s xi`` and ``H x``, the dissimilar augmentations of Lemma A.11). Augmentations are values:
``aug_scale`` gives per-coordinate factors of the strength (noise std ``s a_k`` on coordinate
``k``, or mask probability ``s a_k``: masks with their own law per coordinate), and
``ShallowLoss(noise_factor=L)`` draws correlated noise ``s L xi`` (covariance ``s² L Lᵀ``).

Models: ``"linear"`` encoder ``f(x) = W x`` (``W`` is ``c x d``; ``bias=True`` adds ``b``; linear decoder /
predictor, no bias) and ``"two-layer"`` ``f(x) = W2 relu(W1 x + b1) + b2`` (hidden width
``hidden``; the decoder is affine, the SimSiam predictor a two-layer ReLU MLP).

Parameters are a dict ``{"encoder": ..., "head": ...}`` (head = decoder, predictor, or empty
for InfoNCE). ``ShallowLoss(cfg)`` is ``loss(params, batch_x, batch_mask, key)`` in the
signature of the training engine ``sim.engine.train``; ``batch_mask`` marks the real (unpadded)
samples and padded rows never contribute.

Example::

    >>> import jax, jax.numpy as jnp
    >>> cfg = ShallowConfig(d=8, c=4, model="linear", loss="mae")
    >>> params = init_params(cfg, key=jax.random.key(0))
    >>> loss = ShallowLoss(cfg)
    >>> bool(jnp.isfinite(loss(params, jnp.ones((5, 8)), jnp.ones(5, bool), jax.random.key(1))))
    True
"""

from __future__ import annotations

import dataclasses
import math
import jax
import jax.numpy as jnp
import numpy as np

from sim import checks
from sim.data import draws
from sim.data.masks import MASK_RATIO
from sim.linear.solvers import thin_svd

MODELS: tuple[str, ...] = ("linear", "two-layer")
LOSSES: tuple[str, ...] = ("mae", "simsiam", "infonce")
AUGMENTATIONS: tuple[str, ...] = ("noise", "mask", "linear")
#: InfoNCE similarities: cosine (SimCLR) or the plain dot product (DirectCLR's toy task).
SIMILARITIES: tuple[str, ...] = ("cosine", "dot")
#: Which family of the paper each loss belongs to.
FAMILY: dict[str, str] = {"mae": "MIM", "simsiam": "CL", "infonce": "CL"}

Params = dict


def _check_name(field: str, value, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"ShallowConfig.{field} = {value!r} is unknown; must be one of {allowed}")


@dataclasses.dataclass(frozen=True)
class ShallowConfig:
    """A shallow SSL model and its loss (hashable, a static jit argument).

    ``d`` input dimension; ``c`` feature (embedding) dimension, ``1 <= c <= d`` for the linear
    model; ``hidden`` width of the two-layer encoder (and of the SimSiam predictor);
    ``mask_ratio`` the MAE mask ratio ``p`` in (0, 1) (default `sim.MASK_RATIO`); ``augmentation`` and ``aug_strength``
    the CL views (noise std ``s >= 0``, or masking ratio ``s`` in [0, 1)); ``temperature``
    ``T > 0`` of InfoNCE; ``aug_scale`` per-coordinate factors ``a_k >= 0`` (length ``d``) of the
    strength (None: all 1); ``infonce_similarity`` ``"cosine"`` or ``"dot"``,
    ``infonce_two_sided`` whether InfoNCE averages both directions; ``bias`` whether the linear
    encoder has a bias ``b`` (c,).
    """

    d: int
    c: int
    model: str = "two-layer"
    loss: str = "mae"
    hidden: int = 64
    mask_ratio: float = MASK_RATIO
    augmentation: str = "noise"
    aug_strength: float = 0.5
    temperature: float = 0.5
    aug_scale: tuple[float, ...] | None = None
    infonce_similarity: str = "cosine"
    infonce_two_sided: bool = True
    bias: bool = False

    def __post_init__(self):
        _check_name("model", self.model, MODELS)
        _check_name("loss", self.loss, LOSSES)
        _check_name("augmentation", self.augmentation, AUGMENTATIONS)
        if int(self.d) < 1:
            raise ValueError(f"ShallowConfig.d = {self.d} must be >= 1")
        upper = self.d if self.model == "linear" else math.inf
        if not 1 <= int(self.c) <= upper:
            raise ValueError(f"ShallowConfig.c = {self.c} must satisfy 1 <= c <= "
                             f"{'d = ' + str(self.d) if self.model == 'linear' else 'inf'}")
        if int(self.hidden) < 1:
            raise ValueError(f"ShallowConfig.hidden = {self.hidden} must be >= 1")
        checks.real("ShallowConfig.mask_ratio", self.mask_ratio, low=0, high=1, closed=False)
        s = float(self.aug_strength)
        if not math.isfinite(s) or s < 0 or (self.augmentation == "mask" and s >= 1):
            allowed = "[0, 1)" if self.augmentation == "mask" else "[0, inf)"
            raise ValueError(f"ShallowConfig.aug_strength = {self.aug_strength} must be in {allowed} "
                             f"for augmentation {self.augmentation!r}")
        if not float(self.temperature) > 0:
            raise ValueError(f"ShallowConfig.temperature = {self.temperature} must be > 0")
        _check_name("infonce_similarity", self.infonce_similarity, SIMILARITIES)
        for field in ("infonce_two_sided", "bias"):
            if not isinstance(getattr(self, field), (bool, np.bool_)):
                raise ValueError(f"ShallowConfig.{field} = {getattr(self, field)!r} is out of range: must be True or False")
        if self.aug_scale is not None:
            scale = tuple(float(checks.real(f"ShallowConfig.aug_scale[{k}]", a, low=0))
                          for k, a in enumerate(np.ravel(np.asarray(self.aug_scale, dtype=object))))
            if len(scale) != int(self.d):
                raise ValueError(f"ShallowConfig.aug_scale has {len(scale)} entries: must have d = {self.d}")
            if self.augmentation == "mask" and s * max(scale) >= 1:
                raise ValueError(f"ShallowConfig.aug_scale = {self.aug_scale!r} is out of range: aug_strength * "
                                 "aug_scale[k] is a mask probability and must be < 1")
            object.__setattr__(self, "aug_scale", scale)

    @property
    def family(self) -> str:
        """``"MIM"`` or ``"CL"``."""
        return FAMILY[self.loss]


# ----------------------------------------------------------------------------- parameters

def _dense(key, fan_out: int, fan_in: int, gain: float = 1.0) -> jax.Array:
    return draws.normal(key, (fan_out, fan_in)) * jnp.sqrt(gain / fan_in)


def init_params(cfg: ShallowConfig, *, key: jax.Array) -> Params:
    """Gaussian initialisation (variance ``gain / fan_in``, He gain before a ReLU), zero biases."""
    k1, k2, k3, k4 = jax.random.split(key, 4)
    d, c, h = cfg.d, cfg.c, cfg.hidden
    if cfg.model == "linear":
        encoder = {"W": _dense(k1, c, d), **({"b": jnp.zeros(c)} if cfg.bias else {})}
    else:
        encoder = {"W1": _dense(k1, h, d, 2.0), "b1": jnp.zeros(h), "W2": _dense(k2, c, h), "b2": jnp.zeros(c)}
    if cfg.loss == "mae":
        head = {"D": _dense(k3, d, c)}
        if cfg.model == "two-layer":
            head["bias"] = jnp.zeros(d)
    elif cfg.loss == "simsiam":
        if cfg.model == "linear":
            head = {"P": _dense(k3, c, c)}
        else:
            head = {"P1": _dense(k3, h, c, 2.0), "pb1": jnp.zeros(h), "P2": _dense(k4, c, h), "pb2": jnp.zeros(c)}
    else:
        head = {}
    return {"encoder": encoder, "head": head}


def _affine(x: jax.Array, W: jax.Array, b: jax.Array | None = None) -> jax.Array:
    y = jnp.einsum("...i,oi->...o", x, W)
    if b is not None:
        y = y + jnp.reshape(b, (1,) * (y.ndim - 1) + b.shape)
    return y


def encode(cfg: ShallowConfig, encoder: Params, x: jax.Array) -> jax.Array:
    """Features ``f(x)`` of shape ``(..., c)`` for inputs ``(..., d)``."""
    if cfg.model == "linear":
        return _affine(x, encoder["W"], encoder.get("b"))
    return _affine(jax.nn.relu(_affine(x, encoder["W1"], encoder["b1"])), encoder["W2"], encoder["b2"])


def _decode(head: Params, z: jax.Array) -> jax.Array:
    return _affine(z, head["D"], head.get("bias"))


def _predict(head: Params, z: jax.Array) -> jax.Array:
    if "P" in head:
        return _affine(z, head["P"])
    return _affine(jax.nn.relu(_affine(z, head["P1"], head["pb1"])), head["P2"], head["pb2"])


# ----------------------------------------------------------------------------- loss pieces

def masked_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean of ``values (B,)`` over the entries where ``mask`` is True (0 if none)."""
    w = mask.astype(values.dtype)
    return jnp.sum(values * w) / jnp.maximum(jnp.sum(w), 1.0)


def reconstruction_loss(x_hat: jax.Array, x: jax.Array, visible: jax.Array, sample_mask: jax.Array) -> jax.Array:
    """MAE loss: mean of ``(x_hat - x)^2`` over the hidden coordinates (``visible == 0``) of the
    real samples. Shapes ``(B, d)``, ``(B, d)``, ``(B, d)``, ``(B,)``."""
    hidden = (1.0 - visible.astype(x.dtype)) * sample_mask.astype(x.dtype)[:, None]
    return jnp.sum(hidden * (x_hat - x) ** 2) / jnp.maximum(jnp.sum(hidden), 1.0)


def negative_cosine(p: jax.Array, z: jax.Array, eps: float = 1e-8) -> jax.Array:
    """``D(p, z) = -<p, z> / (|p| |z|)`` along the last axis."""
    # max(|v|, eps) written as sqrt(max(|v|^2, eps^2)): the same value, but a zero row (e.g. an
    # all-masked view) gets gradient 0 instead of the NaN of d|v|/dv at v = 0.
    safe = lambda v: jnp.sqrt(jnp.maximum(jnp.sum(v * v, axis=-1), eps**2))  # noqa: E731
    return -jnp.sum(p * z, axis=-1) / (safe(p) * safe(z))


def simsiam_loss(p1, p2, z1, z2, sample_mask) -> jax.Array:
    """``1/2 D(p1, sg z2) + 1/2 D(p2, sg z1)`` averaged over the real samples."""
    per_sample = 0.5 * (negative_cosine(p1, jax.lax.stop_gradient(z2))
                        + negative_cosine(p2, jax.lax.stop_gradient(z1)))
    return masked_mean(per_sample, sample_mask)


def info_nce(z1: jax.Array, z2: jax.Array, temperature: float, sample_mask: jax.Array, eps: float = 1e-8, *,
             similarity: str = "cosine", two_sided: bool = True) -> jax.Array:
    """InfoNCE: for each real sample ``a``, ``-log softmax_b(sim(z1_a, z2_b) / T)[a]`` over the
    real samples ``b``, ``sim`` the cosine or (``similarity="dot"``) the dot product, averaged
    over the real samples and, when ``two_sided``, over both directions (else view 1 against
    view 2 only: the cross-entropy of SimCLR's and DirectCLR's code)."""
    _check_name("infonce_similarity", similarity, SIMILARITIES)
    if similarity == "cosine":
        z1 = z1 / jnp.maximum(jnp.linalg.norm(z1, axis=-1, keepdims=True), eps)
        z2 = z2 / jnp.maximum(jnp.linalg.norm(z2, axis=-1, keepdims=True), eps)
    logits = jnp.einsum("ac,bc->ab", z1, z2) / temperature
    valid = sample_mask[None, :] & sample_mask[:, None]
    logits = jnp.where(valid, logits, -jnp.inf)
    diag = jnp.arange(z1.shape[0])
    # Padded rows are all -inf; give them a harmless finite row before log_softmax.
    safe = jnp.where(sample_mask[:, None], logits, 0.0)
    safe_t = jnp.where(sample_mask[:, None], logits.T, 0.0)
    rows = -jax.nn.log_softmax(safe, axis=1)[diag, diag]
    if not two_sided:
        return masked_mean(rows, sample_mask)
    cols = -jax.nn.log_softmax(safe_t, axis=1)[diag, diag]
    return masked_mean(0.5 * (rows + cols), sample_mask)


def augment(x: jax.Array, kind: str, strength: float, *, key: jax.Array, H: jax.Array | None = None,
            scale=None, factor: jax.Array | None = None):
    """Two views of ``x (B, d)``: ``"noise"`` ``x + s xi, x + s xi'``; ``"mask"`` ``x * m, x * m'``
    with ``P(m_k = 0) = s``; ``"linear"`` ``x + s xi, H x``. ``scale`` (d,) multiplies the
    strength per coordinate (noise std ``s a_k``, mask probability ``s a_k``); ``factor`` ``L``
    (d, d) correlates the noise, ``s L xi`` (covariance ``s² L Lᵀ``), before ``scale``."""
    _check_name("augmentation", kind, AUGMENTATIONS)
    ka, kb = jax.random.split(key)
    s = strength if scale is None else strength * jnp.asarray(scale, x.dtype)[None, :]

    def noise(k):
        xi = draws.normal(k, x.shape, x.dtype)
        return s * (xi if factor is None else _affine(xi, jnp.asarray(factor, x.dtype)))

    if kind == "noise":
        return x + noise(ka), x + noise(kb)
    if kind == "mask":
        keep = 1.0 - s if scale is None else jnp.broadcast_to(1.0 - s, x.shape)
        return (x * draws.bernoulli(ka, keep, x.shape).astype(x.dtype),
                x * draws.bernoulli(kb, keep, x.shape).astype(x.dtype))
    if H is None:
        raise ValueError("augmentation 'linear' needs the transform H (a (d, d) matrix)")
    return x + noise(ka), _affine(x, H.astype(x.dtype))


@dataclasses.dataclass(frozen=True, eq=False)
class ShallowLoss:
    """The training loss of ``cfg``: ``loss(params, batch_x (B, d), batch_mask (B,), key) -> scalar``.

    Hashable and compared by value (``cfg`` and the bytes of ``H``), so the training engine,
    which takes the loss as a static argument, compiles one program per distinct loss.
    ``H (d, d)`` is required by the ``"linear"`` augmentation of the CL losses; ``noise_factor``
    ``L (d, d)`` (optional) correlates the CL views' noise (covariance ``s² L Lᵀ``).
    """

    cfg: ShallowConfig
    H: np.ndarray | None = None
    noise_factor: np.ndarray | None = None

    def __post_init__(self):
        if self.noise_factor is not None:
            L = np.array(self.noise_factor, dtype=np.float64)
            if L.shape != (self.cfg.d, self.cfg.d) or not np.all(np.isfinite(L)):
                raise ValueError(f"ShallowLoss.noise_factor = array of shape {L.shape} is out of range: must be a "
                                 f"finite ({self.cfg.d}, {self.cfg.d}) matrix")
            if self.cfg.loss == "mae" or self.cfg.augmentation == "mask":
                raise ValueError(f"ShallowLoss.noise_factor is given but {self.cfg.loss!r} with augmentation "
                                 f"{self.cfg.augmentation!r} draws no noise")
            L.setflags(write=False)
            object.__setattr__(self, "noise_factor", L)
        if self.cfg.loss != "mae" and self.cfg.augmentation == "linear":
            shape = None if self.H is None else np.shape(self.H)
            if shape != (self.cfg.d, self.cfg.d):
                raise ValueError(f"augmentation 'linear' needs H of shape ({self.cfg.d}, {self.cfg.d}), got {shape}")
            H = np.array(self.H, dtype=np.float64)
            H.setflags(write=False)
            object.__setattr__(self, "H", H)
        else:
            object.__setattr__(self, "H", None)

    def _key(self):
        return (self.cfg, None if self.H is None else self.H.tobytes(),
                None if self.noise_factor is None else self.noise_factor.tobytes())

    def __eq__(self, other):
        return isinstance(other, ShallowLoss) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __call__(self, params: Params, x: jax.Array, mask: jax.Array, key: jax.Array) -> jax.Array:
        cfg = self.cfg
        if cfg.loss == "mae":
            visible = draws.bernoulli(key, 1.0 - cfg.mask_ratio, x.shape).astype(x.dtype)
            z = encode(cfg, params["encoder"], x * visible)
            return reconstruction_loss(_decode(params["head"], z), x, visible, mask)
        H = None if self.H is None else jnp.asarray(self.H, x.dtype)
        v1, v2 = augment(x, cfg.augmentation, cfg.aug_strength, key=key, H=H, scale=cfg.aug_scale,
                         factor=self.noise_factor)
        z1, z2 = encode(cfg, params["encoder"], v1), encode(cfg, params["encoder"], v2)
        if cfg.loss == "simsiam":
            return simsiam_loss(_predict(params["head"], z1), _predict(params["head"], z2), z1, z2, mask)
        return info_nce(z1, z2, cfg.temperature, mask, similarity=cfg.infonce_similarity,
                        two_sided=cfg.infonce_two_sided)


# ----------------------------------------------------------------------------- analysis

def input_subspace(cfg: ShallowConfig, encoder: Params, c: int | None = None) -> jax.Array:
    """Orthonormal basis ``V (d, c)`` of the input directions the encoder reads.

    Linear model: ``row(W)`` (the subspace of Definition 4.1). Two-layer model: the top-``c``
    right singular vectors of the first layer ``W1`` — the span that carries most of the
    input-layer weight, a stand-in for ``row W`` since ``W1`` itself has full column rank when
    ``hidden >= d``. ``c`` defaults to ``cfg.c``.
    """
    c = cfg.c if c is None else int(c)
    W = encoder["W"] if cfg.model == "linear" else encoder["W1"]
    if not 1 <= c <= min(W.shape):
        raise ValueError(f"c={c} must be in [1, {min(W.shape)}] for an encoder layer of shape {W.shape}")
    _, _, vt = thin_svd(W)  # not jnp.linalg.svd: see sim.linear.solvers.thin_svd
    return vt[:c].T


def layerwise_distance(a: Params, b: Params) -> jax.Array:
    """Summed layer-wise l2 distance ``sum_l ||a_l - b_l||_F`` over the leaves of two pytrees
    of the same structure (Table 5's measure)."""
    leaves = jax.tree_util.tree_leaves(jax.tree_util.tree_map(lambda u, v: jnp.linalg.norm((u - v).ravel()), a, b))
    return jnp.sum(jnp.stack(leaves))


def client_distances(client_params: Params, global_params: Params) -> tuple[jax.Array, jax.Array]:
    """Table 5's two distances for stacked client parameters (leading client axis ``K >= 2``):
    the mean over client pairs ``i < j`` of ``layerwise_distance(w_i, w_j)`` (local vs local)
    and the mean over clients of ``layerwise_distance(w_i, w_global)`` (local vs global)."""
    K = jax.tree_util.tree_leaves(client_params)[0].shape[0]
    if K < 2:
        raise ValueError(f"client_distances needs >= 2 clients, got {K}")
    pair = jax.vmap(jax.vmap(layerwise_distance, (None, 0)), (0, None))(client_params, client_params)
    iu = jnp.triu_indices(K, 1)
    to_global = jax.vmap(layerwise_distance, (0, None))(client_params, global_params)
    return jnp.mean(pair[iu]), jnp.mean(to_global)
