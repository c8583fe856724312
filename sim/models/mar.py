"""MAR: masked image modelling plus alignment to the global embeddings (the paper's Section 5).

The MAR loss of client ``i`` in round ``t`` (Section 5) is

    L_MAR = ||f_d(f_e(x_1)) - x_2||^2 + gamma_t^(i) * A-MMD(z_i, sg z_bar),

``z_i = f_e(x_1)`` the local embeddings of the visible view (``B x c``), ``z_bar`` the global
embeddings (the average of the clients' ``z``, never differentiated), ``gamma`` the weight of
Eq. 7's cosine schedule over client ``i``'s participation count. This module is the pure,
engine-agnostic part:

- :func:`a_mmd` (Eq. 6) in three normalisations (``VARIANTS``) and three bandwidth rules
  (``BANDWIDTHS``), :func:`kernel_bandwidth`, the Table 7 alternatives :func:`cosine_alignment` and
  MMD with ``sigma = 1``, and one dispatcher :func:`alignment` over ``METRICS``;
- :func:`gamma_schedule` (Eq. 7) and :func:`mar_weight` (the same with round 0 = plain MIM);
- :class:`MARLoss` for the linear and two-layer MAE of ``sim.models.shallow``, and
  :func:`global_embeddings`, the server's (FedMAR) or neighbourhood's (DecMAR) average of ``z``.

How an engine uses them (one round, ``E`` local steps per client):

- FedMAR: the server holds ``W`` and ``z_bar`` and broadcasts ``W``, ``z_bar`` and each
  participant's ``gamma_i = mar_weight(t, omega_i, Omega=...)`` (``omega_i`` = rounds client
  ``i`` took part in before this one). Each participant runs ``E`` steps on
  ``loss(params, x, mask, key, z_bar=z_bar, gamma=gamma_i)`` (bind the two keywords in a
  closure: the engine's loss shape is ``loss_fn(params, x, mask, key)``), then reports its
  parameters and ``embeddings(params, x_batch, mask_batch, key)``. The server averages the
  parameters as FedAvg does and the embeddings with
  ``global_embeddings(z, mask, weights)`` (weights = the aggregation weights of the
  participants), and increments the participants' ``omega``.
- DecMAR: no server; client ``i`` keeps its own ``z_bar_i``. After the local steps every client
  replaces its parameters by the mixing average ``sum_j w_ij theta_j`` and its ``z_bar_i`` by
  ``global_embeddings(z, mask, weights=W)`` with the mixing matrix ``W (N, N)``, which returns
  one neighbourhood average per row. ``Omega = T`` and ``omega_i = t`` (every client takes part
  in every round).

Reading of ``z_bar`` (a choice this module leaves to the engine): Section 5 says "mean of the
participating clients' ``z``". The reference code averages the ``(B, c)`` embedding arrays
element-wise over the batches of the local epochs and then over clients, so row ``b`` of
``z_bar`` is the mean of many unrelated samples; as the number of averaged batches grows, every
row tends to the global mean embedding and the A-MMD target tends to a point mass. Averaging
only the final local batch of each client keeps a spread-out target. Both are averages of
``embeddings`` outputs; the engine should record which it used.

Example::

    >>> import jax, jax.numpy as jnp
    >>> from sim.models.shallow import ShallowConfig, init_params
    >>> cfg = ShallowConfig(d=8, c=3, model="linear", loss="mae")
    >>> loss = MARLoss(cfg, metric="a-mmd-mean")
    >>> params = init_params(cfg, key=jax.random.key(0))
    >>> x, mask, key = jax.random.normal(jax.random.key(1), (6, 8)), jnp.ones(6, bool), jax.random.key(2)
    >>> z_bar = loss.embeddings(params, x, mask, key)
    >>> float(loss(params, x, mask, key, z_bar=z_bar, gamma=0.0)) == float(loss.reconstruction(params, x, mask, key))
    True
    >>> [round(float(g), 6) for g in gamma_schedule(jnp.array([0, 5, 10, 20]), Omega=10)]
    [0.1, 0.0505, 0.001, 0.001]
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from sim.data import draws
from sim.models.shallow import ShallowConfig, encode, masked_mean, negative_cosine, reconstruction_loss

#: A-MMD normalisations. ``paper``: Section 5 as printed (unbiased U-statistic, unsquared distance
#: in the kernel); ``reference-code``: squared distance, diagonal kept in the within-sums that
#: are still divided by ``B(B-1)``; ``biased``: V-statistic, all pairs over ``B^2``.
VARIANTS: tuple[str, ...] = ("paper", "reference-code", "biased")
#: Bandwidth rules for ``sigma``: over the local embeddings ``z``, pairs ``a != b`` (``mean``,
#: ``median``) or all ``B^2`` pairs including the zero diagonal (``mean-all``, the reference
#: code's); ``fixed`` takes ``sigma`` as given.
BANDWIDTHS: tuple[str, ...] = ("mean", "median", "mean-all", "fixed")
#: Alignment metrics of Table 7.
METRICS: tuple[str, ...] = ("a-mmd-mean", "a-mmd-median", "mmd-sigma1", "cosine")
#: Gamma schedules of Table 8: Eq. 7's cosine decay, or one constant gamma.
SCHEDULES: tuple[str, ...] = ("cosine", "constant")
#: Paper defaults of Eq. 7 (Section 5).
GAMMA_MAX = 0.1
GAMMA_MIN = 0.001

# A data-driven bandwidth of exactly 0 (all local embeddings equal) would divide 0 by 0 in the
# kernel; flooring it keeps the loss finite inside a traced training loop, where no error can be
# raised.
_SIGMA_FLOOR = 1e-12
_MMD_BANDWIDTH = {"a-mmd-mean": ("mean", None), "a-mmd-median": ("median", None), "mmd-sigma1": ("fixed", 1.0)}


# ----------------------------------------------------------------------------- validation

def _fail(field: str, value, allowed: str) -> ValueError:
    return ValueError(f"{field} = {value!r} is out of range: {allowed}")


def _known(field: str, value, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise _fail(field, value, f"must be one of {allowed}")


def _concrete(value) -> bool:
    return not isinstance(value, jax.core.Tracer)


def _check_real(field: str, value, *, positive: bool) -> None:
    """Finite and ``> 0`` (``positive``) or ``>= 0``; array values are checked entry-wise."""
    if value is None or not _concrete(value):
        return
    try:
        if isinstance(value, bool) or isinstance(value, (str, bytes)):
            raise TypeError
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise _fail(field, value, "must be a real number") from None
    allowed = "must be finite and > 0" if positive else "must be finite and >= 0"
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0 if positive else arr < 0):
        raise _fail(field, value, allowed)


def _check_pair(z, z_bar, mask, mask_bar, *, min_batch: int) -> None:
    if z.ndim != 2:
        raise _fail("z.shape", z.shape, "z must be a (B, c) matrix of embeddings")
    if z_bar.shape != z.shape:
        raise _fail("z_bar.shape", z_bar.shape, f"must equal z.shape = {z.shape} (equal batches, Section 5)")
    if z.shape[0] < min_batch:
        raise _fail("B", z.shape[0], f"the batch needs B >= {min_batch} rows for this estimator")
    for name, m in (("mask", mask), ("mask_bar", mask_bar)):
        if m is not None and (m.shape != z.shape[:1] or m.dtype != jnp.bool_):
            raise _fail(f"{name}.shape", m.shape, f"must be a boolean vector of shape {z.shape[:1]}")


def _weights(mask, z) -> jax.Array:
    return jnp.ones(z.shape[:1], z.dtype) if mask is None else mask.astype(z.dtype)


# ----------------------------------------------------------------------------- A-MMD (Eq. 6)

def _distance(u: jax.Array, v: jax.Array, *, squared: bool) -> jax.Array:
    """``(B, B)`` matrix of ``|u_a - v_b|`` (or its square).

    The square root has an infinite derivative at 0 (every diagonal pair, and any two equal
    embeddings); the inner ``where`` keeps that branch out of the gradient, so coinciding
    embeddings get the subgradient 0 instead of NaN."""
    sq = jnp.sum((u[:, None, :] - v[None, :, :]) ** 2, axis=-1)
    if squared:
        return sq
    positive = sq > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1.0)), 0.0)


def kernel_bandwidth(z: jax.Array, *, kind: str = "mean", sigma=None, mask: jax.Array | None = None) -> jax.Array:
    """The kernel bandwidth ``sigma`` of Eq. 6 from the local embeddings ``z (B, c)``.

    ``mean`` (Section 5): ``mean_{a != b} |z_a - z_b|``; ``median``: the median over the same pairs
    (the Table 7 ablation); ``mean-all``: the mean over all ``B^2`` pairs including the zero
    diagonal, i.e. ``(B-1)/B`` times ``mean``, which is what the reference code computes;
    ``fixed``: ``sigma`` itself (Table 7's ``sigma = 1``). Only real rows (``mask``) count.

    The result is under ``stop_gradient``, as in the reference code (computed without
    gradient): a differentiated bandwidth would let the loss fall by spreading the local
    embeddings apart (inflating ``sigma`` flattens every kernel towards 1) instead of by moving
    them towards ``z_bar``.
    """
    _check_bandwidth(kind, sigma)
    z = jnp.asarray(z)
    if kind == "fixed":
        return jnp.asarray(sigma, z.dtype)
    return _data_bandwidth_jit(z, mask, kind)


def _check_bandwidth(kind, sigma) -> None:
    _known("bandwidth", kind, BANDWIDTHS)
    if kind == "fixed":
        if sigma is None:
            raise _fail("sigma", sigma, "bandwidth 'fixed' needs a finite sigma > 0")
        _check_real("sigma", sigma, positive=True)
    elif sigma is not None:
        raise _fail("sigma", sigma, f"must be None unless bandwidth = 'fixed' (bandwidth = {kind!r} is data-driven)")


def _data_bandwidth(z, mask, kind):
    w = _weights(mask, z)
    z = jax.lax.stop_gradient(z)
    dist = _distance(z, z, squared=False)
    pairs = w[:, None] * w[None, :]
    if kind == "mean-all":
        value = jnp.sum(pairs * dist) / jnp.maximum(jnp.sum(w) ** 2, 1.0)
    else:
        pairs = pairs * (1.0 - jnp.eye(z.shape[0], dtype=z.dtype))
        if kind == "mean":
            value = jnp.sum(pairs * dist) / jnp.maximum(jnp.sum(pairs), 1.0)
        else:
            value = jnp.nanmedian(jnp.where(pairs > 0, dist, jnp.nan))
    return jnp.maximum(jnp.nan_to_num(value), _SIGMA_FLOOR)


_data_bandwidth_jit = jax.jit(_data_bandwidth, static_argnames="kind")


def a_mmd(z: jax.Array, z_bar: jax.Array, *, variant: str = "paper", bandwidth: str = "mean", sigma=None,
          mask: jax.Array | None = None, mask_bar: jax.Array | None = None) -> jax.Array:
    """A-MMD between local embeddings ``z (B, c)`` and global embeddings ``z_bar (B, c)`` (Eq. 6).

    ``paper`` (Section 5 as printed)::

        [sum_{a!=b} k(z_a, z_b) + sum_{a!=b} k(zb_a, zb_b)] / (B(B-1)) - 2/B^2 sum_{a,b} k(z_a, zb_b)
        k(u, v) = exp(-|u - v| / (2 sigma^2))          (distance not squared)

    ``reference-code``: ``k = exp(-|u - v|^2 / (2 sigma^2))`` and the within-sums run over all
    ``a, b`` (diagonal kept, each diagonal term 1) but are still divided by ``B(B-1)``, so the
    value is biased upwards by ``2/(B-1)``; ``biased``: the V-statistic, the paper's kernel
    summed over all pairs and divided by ``B^2`` (non-negative, 0 iff the two sets coincide).
    The unbiased ``paper`` value has mean 0 when the rows of ``z`` and ``z_bar`` are independent
    draws from one distribution, and can be negative.

    With the paper's unsquared distance and ``sigma`` = mean distance, the kernel exponent is
    ``|u - v| / (2 sigma^2)``, which scales as ``1/scale`` under ``z -> scale * z``: unlike the
    reference code's kernel, the paper's A-MMD depends on the scale of the embeddings.

    ``bandwidth`` and ``sigma``: see :func:`kernel_bandwidth` (always computed from ``z``). ``mask`` /
    ``mask_bar`` (``(B,)`` bool) exclude padded rows; the normalisations then use the number of
    real rows of each set. No gradient flows into ``z_bar`` (``stop_gradient``), nor through
    the bandwidth.

    Raises ``ValueError`` (naming the field, value and allowed range) for an unknown variant or
    bandwidth, mismatched shapes, ``B < 2`` for the unbiased variants, and a non-positive or
    non-finite ``sigma``. Shape checks always run; value checks only on concrete values.

    >>> z = jnp.array([[0.0], [1.0]])  # sigma = 1; [2 e^{-1/2} + 2 e^{-1/2}] / 2 - 2 (2 + 2 e^{-1/2}) / 4
    >>> round(float(a_mmd(z, z)), 4)  # = e^{-1/2} - 1
    -0.3935
    """
    _known("variant", variant, VARIANTS)
    z, z_bar = jnp.asarray(z), jnp.asarray(z_bar)
    _check_pair(z, z_bar, mask, mask_bar, min_batch=1 if variant == "biased" else 2)
    _check_bandwidth(bandwidth, sigma)
    return _a_mmd_value(z, z_bar, mask, mask_bar, sigma, variant, bandwidth)


@functools.partial(jax.jit, static_argnames=("variant", "kind"))
def _a_mmd_value(z, z_bar, mask, mask_bar, sigma, variant, kind):
    sigma = jnp.asarray(sigma, z.dtype) if kind == "fixed" else _data_bandwidth(z, mask, kind)
    w, w_bar = _weights(mask, z), _weights(mask_bar, z)
    z_bar = jax.lax.stop_gradient(z_bar)
    n, n_bar = jnp.sum(w), jnp.sum(w_bar)
    squared = variant == "reference-code"
    scale = 2.0 * sigma**2

    def kernel_sum(u, v, wu, wv, drop_diagonal):
        k = jnp.exp(-_distance(u, v, squared=squared) / scale) * (wu[:, None] * wv[None, :])
        if drop_diagonal:
            k = k * (1.0 - jnp.eye(u.shape[0], dtype=u.dtype))
        return jnp.sum(k)

    drop = variant == "paper"
    if variant == "biased":
        within = kernel_sum(z, z, w, w, False) / jnp.maximum(n**2, 1.0) \
            + kernel_sum(z_bar, z_bar, w_bar, w_bar, False) / jnp.maximum(n_bar**2, 1.0)
    else:
        within = kernel_sum(z, z, w, w, drop) / jnp.maximum(n * (n - 1.0), 1.0) \
            + kernel_sum(z_bar, z_bar, w_bar, w_bar, drop) / jnp.maximum(n_bar * (n_bar - 1.0), 1.0)
    cross = kernel_sum(z, z_bar, w, w_bar, False) / jnp.maximum(n * n_bar, 1.0)
    return within - 2.0 * cross


def cosine_alignment(z: jax.Array, z_bar: jax.Array, *, mask: jax.Array | None = None,
                     mask_bar: jax.Array | None = None) -> jax.Array:
    """``1 - mean_a cos(z_a, z_bar_a)`` over the rows real in both sets (Table 7's cosine).

    Unlike A-MMD this pairs rows by index, although row ``a`` of ``z`` and of ``z_bar`` are
    different samples (``z_bar`` averages other clients' batches): it is a distance between
    arrays, not between distributions. No gradient flows into ``z_bar``.
    """
    z, z_bar = jnp.asarray(z), jnp.asarray(z_bar)
    _check_pair(z, z_bar, mask, mask_bar, min_batch=1)
    return _cosine_value(z, z_bar, mask, mask_bar)


@jax.jit
def _cosine_value(z, z_bar, mask, mask_bar):
    both = _weights(mask, z) * _weights(mask_bar, z) > 0
    return 1.0 + masked_mean(negative_cosine(z, jax.lax.stop_gradient(z_bar)), both)


def alignment(z: jax.Array, z_bar: jax.Array, *, metric: str, variant: str = "paper",
              mask: jax.Array | None = None, mask_bar: jax.Array | None = None) -> jax.Array:
    """The alignment term of L_MAR by Table 7's name: ``a-mmd-mean`` (the paper's choice),
    ``a-mmd-median``, ``mmd-sigma1`` (A-MMD at the fixed bandwidth 1, in ``variant``'s
    normalisation) or ``cosine``."""
    _known("metric", metric, METRICS)
    if metric == "cosine":
        return cosine_alignment(z, z_bar, mask=mask, mask_bar=mask_bar)
    kind, sigma = _MMD_BANDWIDTH[metric]
    return a_mmd(z, z_bar, variant=variant, bandwidth=kind, sigma=sigma, mask=mask, mask_bar=mask_bar)


# ----------------------------------------------------------------------------- gamma (Eq. 7)

def _check_schedule(kind, Omega, gamma_max, gamma_min, gamma) -> None:
    _known("kind", kind, SCHEDULES)
    _check_real("Omega", Omega, positive=True)
    _check_real("gamma_max", gamma_max, positive=False)
    _check_real("gamma_min", gamma_min, positive=False)
    if _concrete(gamma_max) and _concrete(gamma_min) and float(gamma_min) > float(gamma_max):
        raise _fail("gamma_min", gamma_min, f"must be <= gamma_max = {gamma_max!r}")
    if kind == "constant":
        if gamma is None:
            raise _fail("gamma", gamma, "the 'constant' schedule needs a finite gamma >= 0")
        _check_real("gamma", gamma, positive=False)
    elif gamma is not None:
        raise _fail("gamma", gamma, "must be None for the 'cosine' schedule (it uses gamma_max, gamma_min)")


def gamma_schedule(omega, *, Omega, gamma_max=GAMMA_MAX, gamma_min=GAMMA_MIN, kind: str = "cosine",
                   gamma=None) -> jax.Array:
    """Eq. 7: ``gamma = gamma_min + (gamma_max - gamma_min) 1/2 (1 + cos(pi min(1, omega/Omega)))``.

    ``omega`` (scalar or array, e.g. one entry per client): how many rounds the client has taken
    part in before the current one; ``Omega > 0``: the expected number of participations per
    client (``T`` in DecL; ``T * clients_per_round / N`` in FL). Decreasing from ``gamma_max``
    at ``omega = 0`` to ``gamma_min`` at ``omega >= Omega``: alignment matters most while a
    client's model still carries little of the global model. ``kind="constant"`` returns
    ``gamma`` for every ``omega`` (Table 8's fixed gammas). Returns the shape of ``omega``, in
    the default float dtype; jit-safe in ``omega`` (and ``Omega``).

    Raises ``ValueError`` naming the field for ``omega < 0``, ``Omega <= 0``, negative or
    non-finite ``gamma``/``gamma_max``/``gamma_min``, ``gamma_min > gamma_max`` and unknown
    ``kind`` (value checks on concrete values only).
    """
    _check_schedule(kind, Omega, gamma_max, gamma_min, gamma)
    _check_real("omega", omega, positive=False)
    dtype = jnp.result_type(float)
    omega = jnp.asarray(omega).astype(dtype)
    if kind == "constant":
        return jnp.full(omega.shape, gamma, dtype)
    return _cosine_decay(omega, *(jnp.asarray(v, dtype) for v in (Omega, gamma_max, gamma_min)))


@jax.jit
def _cosine_decay(omega, Omega, gamma_max, gamma_min):
    progress = jnp.minimum(1.0, omega / Omega)
    return gamma_min + (gamma_max - gamma_min) * 0.5 * (1.0 + jnp.cos(jnp.pi * progress))


def mar_weight(round, omega, *, Omega, gamma_max=GAMMA_MAX, gamma_min=GAMMA_MIN, kind: str = "cosine",
               gamma=None) -> jax.Array:
    """The gamma a client uses in ``round`` (0-indexed): 0 in round 0, where no global
    embeddings exist yet and MAR is plain MIM (Section 5), else :func:`gamma_schedule`."""
    _check_real("round", round, positive=False)
    g = gamma_schedule(omega, Omega=Omega, gamma_max=gamma_max, gamma_min=gamma_min, kind=kind, gamma=gamma)
    return jnp.where(jnp.asarray(round) == 0, jnp.zeros_like(g), g)


# ----------------------------------------------------------------------------- the MAR loss

def global_embeddings(z: jax.Array, mask: jax.Array, weights: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Weighted row-wise average of client embeddings: the server's (FedMAR) or each
    neighbourhood's (DecMAR) ``z_bar``.

    ``z (K, B, c)``, ``mask (K, B)`` real rows, ``weights (K,)`` (e.g. the aggregation weights,
    zero for clients that did not take part) or ``(M, K)`` (a mixing matrix: one average per
    row). Row ``b`` averages the clients whose row ``b`` is real, weights renormalised over
    them. Returns ``z_bar`` (``(B, c)`` or ``(M, B, c)``) and its real rows (``(B,)`` or
    ``(M, B)``: rows no weighted client filled are padding).
    """
    z, mask, weights = jnp.asarray(z), jnp.asarray(mask), jnp.asarray(weights)
    if z.ndim != 3 or mask.shape != z.shape[:2] or weights.ndim not in (1, 2) or weights.shape[-1] != z.shape[0]:
        raise _fail("shapes", (z.shape, mask.shape, weights.shape),
                    "need z (K, B, c), mask (K, B) and weights (K,) or (M, K)")
    w = weights.astype(z.dtype)
    filled = jnp.einsum("...k,kb->...b", w, mask.astype(z.dtype))
    total = jnp.einsum("...k,kb,kbc->...bc", w, mask.astype(z.dtype), z)
    return total / jnp.maximum(filled, jnp.finfo(z.dtype).tiny)[..., None], filled > 0


@dataclasses.dataclass(frozen=True)
class MARLoss:
    """L_MAR for the linear or two-layer MAE of ``sim.models.shallow`` (``cfg.loss == "mae"``).

    ``loss(params, x (B, d), mask (B,), key, *, z_bar (B, c), gamma, mask_bar=None)``: the MAE
    reconstruction loss of ``sim.models.shallow`` (squared error on the hidden coordinates of the real
    samples, mask ratio ``cfg.mask_ratio``) plus ``gamma * alignment(z, z_bar)`` with ``z`` the
    encoder's embeddings of the visible view. The mask is drawn from ``key`` exactly as
    ``sim.models.shallow.ShallowLoss`` draws it, so at ``gamma = 0`` the value equals the plain MAE
    loss, and :meth:`embeddings` with the same key returns the ``z`` the loss aligned.

    Hashable and compared by value: a static argument of a jitted engine. See the module
    docstring for the FedMAR / DecMAR wiring.
    """

    cfg: ShallowConfig
    metric: str = "a-mmd-mean"
    variant: str = "paper"

    def __post_init__(self):
        if not isinstance(self.cfg, ShallowConfig) or self.cfg.loss != "mae":
            raise _fail("cfg.loss", getattr(self.cfg, "loss", None), "MAR extends the MAE loss: need 'mae'")
        _known("metric", self.metric, METRICS)
        _known("variant", self.variant, VARIANTS)

    def _visible_view(self, params, x, key):
        visible = draws.bernoulli(key, 1.0 - self.cfg.mask_ratio, x.shape).astype(x.dtype)
        return encode(self.cfg, params["encoder"], x * visible), visible

    def embeddings(self, params, x: jax.Array, mask: jax.Array, key: jax.Array) -> jax.Array:
        """``z = f_e(x * m)`` of shape ``(B, c)``, the mask ``m`` drawn from ``key`` as in the
        loss; rows where ``mask`` is False are padding (pass ``mask`` on to
        :func:`global_embeddings`)."""
        return _forward(self, params, x, mask, key)[1]

    def reconstruction(self, params, x: jax.Array, mask: jax.Array, key: jax.Array) -> jax.Array:
        """The MIM term alone (L_MAR at ``gamma = 0``)."""
        return _forward(self, params, x, mask, key)[0]

    def _parts(self, params, x, mask, key):
        z, visible = self._visible_view(params, x, key)
        head = params["head"]
        # The affine decoder of sim.models.shallow's MAE: x_hat = D z (+ bias for the two-layer model).
        x_hat = jnp.einsum("bc,dc->bd", z, head["D"])
        if "bias" in head:
            x_hat = x_hat + head["bias"][None, :]
        return reconstruction_loss(x_hat, x, visible, mask), z

    def __call__(self, params, x: jax.Array, mask: jax.Array, key: jax.Array, *, z_bar: jax.Array, gamma,
                 mask_bar: jax.Array | None = None) -> jax.Array:
        _check_real("gamma", gamma, positive=False)
        # Shape checks of the alignment run while tracing, so they still raise ValueError here.
        return _mar_value(self, params, x, mask, key, z_bar, gamma, mask_bar)


@functools.partial(jax.jit, static_argnums=0)
def _forward(loss: MARLoss, params, x, mask, key):
    return loss._parts(params, x, mask, key)


@functools.partial(jax.jit, static_argnums=0)
def _mar_value(loss: MARLoss, params, x, mask, key, z_bar, gamma, mask_bar):
    recon, z = loss._parts(params, x, mask, key)
    align = alignment(z, z_bar, metric=loss.metric, variant=loss.variant, mask=mask, mask_bar=mask_bar)
    return recon + jnp.asarray(gamma, recon.dtype) * align


__all__ = [
    "BANDWIDTHS",
    "GAMMA_MAX",
    "GAMMA_MIN",
    "METRICS",
    "MARLoss",
    "SCHEDULES",
    "VARIANTS",
    "a_mmd",
    "alignment",
    "kernel_bandwidth",
    "cosine_alignment",
    "gamma_schedule",
    "global_embeddings",
    "mar_weight",
]
