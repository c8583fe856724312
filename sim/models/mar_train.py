"""FedMAR and DecMAR: FedAvg and D-PSGD training on the MAR loss (the paper's Section 5).

Built on the engine of :mod:`sim.engine.train` (its local-step unit, optimizer, key derivation and
result type), with the per-round inputs of MAR carried as stop-gradient leaves of the params
pytree: ``{"model": params, "z_bar": (B, c), "mask_bar": (B,), "gamma": ()}``. Their gradient
is exactly 0, so SGD and Adam leave them untouched during the ``E`` local steps, and the
engine's loss shape ``loss_fn(params, x, mask, key)`` stays unchanged.

- :func:`fedmar_program`: per round the server samples ``clients_per_round`` clients (as
  FedAvg does), broadcasts ``W``, ``z_bar`` and each participant's ``gamma_i`` (Eq. 7 over the
  client's participation count ``omega_i``, 0 in round 0: plain MIM), every participant runs
  ``E`` steps on L_MAR and reports its parameters and the embeddings ``z_i`` of one fresh
  local batch; the server averages ``W`` with the FedAvg weights and ``z`` row by row
  (:func:`sim.models.mar.global_embeddings`).
- :func:`decmar_program`: every client, every round: ``E`` steps on L_MAR against its own
  ``z_bar_i``, then the mixing averages ``sum_j w_ij W_j`` and ``z_bar_i = sum_j w_ij z_j``
  over its neighbourhood (row-stochastic mixing; ``omega_i = t``, ``Omega = T``).

The schedule is passed as numbers, ``gamma_max`` and ``gamma_min`` (Eq. 7); a constant gamma is
``gamma_max = gamma_min = gamma`` (Eq. 7 is then constant) and plain MIM is both 0, so MIM, the
constant gammas of Table 8 and the cosine schedule run in one compiled program. ``metric`` is a
one-hot weight over :data:`sim.models.mar.METRICS` (the alignment is the weighted sum), so the
alignment metrics of Table 7 share that program too.

``z_bar`` reading: the average of each participant's embeddings of ONE batch drawn after its
local steps (not the reference code's average over every local batch, which tends to a point
mass; see :mod:`sim.models.mar`). Client ``i``'s randomness in round ``t`` is the FedAvg / D-PSGD key of
:mod:`sim.engine.train`, so FedMAR at ``gamma = 0`` equals FedAvg step for step, and DecMAR on the
complete graph with uniform mixing equals full-participation FedMAR (SGD); the embedding batch
uses ``fold_in(client key, EMBED_STREAM)``, a stream the local steps never use.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from sim.data.model import ClientData
from sim.models.mar import METRICS, MARLoss, alignment, global_embeddings, mar_weight
from sim.engine.mixing import Mixing, mix
from sim.models.shallow import ShallowConfig
from sim.engine.train import (TrainConfig, TrainResult, client_keys, sample_batch, check_finite, local_training,
                       optimizer)

#: fold_in constant of the embedding-batch stream (distinct from the local steps' split keys).
EMBED_STREAM = 0x4D4152


@dataclasses.dataclass(frozen=True)
class MixedMARLoss:
    """L_MAR with the alignment metric chosen by a one-hot weight vector (a pytree leaf):
    ``recon + gamma * sum_m metric[m] * alignment_m(z, sg z_bar)`` over ``metrics`` (default
    every name of :data:`sim.models.mar.METRICS`; fewer compile and run faster), ``variant`` the A-MMD
    normalisation. Takes the augmented params of this module. Hashable: a static argument of
    the engine."""

    cfg: ShallowConfig
    variant: str = "paper"
    metrics: tuple[str, ...] = METRICS

    def __post_init__(self):
        MARLoss(self.cfg, variant=self.variant)  # validates cfg.loss and variant
        unknown = [m for m in self.metrics if m not in METRICS]
        if not self.metrics or unknown or len(set(self.metrics)) != len(self.metrics):
            raise ValueError(f"metrics = {self.metrics!r} must be distinct names among {METRICS}")

    def __call__(self, params, x, mask, key):
        mar = MARLoss(self.cfg, variant=self.variant)
        recon, z = mar._parts(params["model"], x, mask, key)
        sg = jax.lax.stop_gradient
        z_bar, mask_bar, gamma, weights = (sg(params[k]) for k in ("z_bar", "mask_bar", "gamma", "metric"))
        terms = jnp.stack([alignment(z, z_bar, metric=m, variant=self.variant, mask=mask, mask_bar=mask_bar > 0)
                           for m in self.metrics])
        dt = recon.dtype
        return recon + gamma.astype(dt) * jnp.sum(weights.astype(dt) * terms.astype(dt))


def metric_weights(metric: str, metrics: tuple[str, ...] = METRICS, dtype=None) -> jax.Array:
    """The one-hot weight of ``metric`` over ``metrics`` (a :class:`MixedMARLoss`'s)."""
    if metric not in metrics:
        raise ValueError(f"metric = {metric!r} is unknown; must be one of {metrics}")
    return jnp.asarray([m == metric for m in metrics], dtype or jnp.result_type(float))


def _embed_batch(cfg: TrainConfig, x):
    """Rows of the embedding batch: the local step's batch size (all rows when full batch)."""
    return x.shape[-2] if cfg.batch_size is None else min(cfg.batch_size, x.shape[-2])


def _report(loss: MixedMARLoss, cfg: TrainConfig, params, x, mask, key):
    """A client's embeddings ``z (B, c)`` of one fresh batch and that batch's real rows."""
    bx, bm = sample_batch(jax.random.fold_in(key, EMBED_STREAM), x, mask, cfg.batch_size)
    mar = MARLoss(loss.cfg, variant=loss.variant)
    return mar._parts(params, bx, bm, jax.random.fold_in(key, EMBED_STREAM + 1))[1], bm


def _augment(model, z_bar, mask_bar, gamma, metric):
    return {"model": model, "z_bar": z_bar, "mask_bar": mask_bar.astype(z_bar.dtype), "gamma": gamma,
            "metric": metric}


def _broadcast(tree, n):
    return jax.tree_util.tree_map(lambda p: jnp.broadcast_to(p, (n,) + jnp.shape(p)), tree)


def _first_z(loss, cfg, init_params, x):
    B = _embed_batch(cfg, x)
    dtype = jax.tree_util.tree_leaves(init_params)[0].dtype
    return jnp.zeros((B, loss.cfg.c), dtype), jnp.zeros((B,), bool)


def fedmar_program(init_params, x, mask, key, gamma_max, gamma_min, metric, *, loss_fn: MixedMARLoss,
                   cfg: TrainConfig):
    """FedMAR (no validation, no divergence check; jit- and vmap-able, e.g. over runs).

    ``x (N, n_max, d)``, ``mask (N, n_max)``; ``gamma_max``, ``gamma_min`` scalars (Eq. 7;
    equal for a constant gamma, 0 for plain MIM); ``metric`` the one-hot weight of
    :func:`metric_weights`. ``Omega = rounds * clients_per_round / N`` (expected participations).
    Returns a :class:`sim.engine.train.TrainResult`; ``losses`` are L_MAR step means."""
    n = x.shape[0]
    m = n if cfg.clients_per_round is None else cfg.clients_per_round
    sizes = mask.sum(axis=1).astype(jnp.result_type(float))
    base = sizes if cfg.weights == "data-size" else jnp.ones_like(sizes)
    opt = optimizer(cfg)
    local = jax.vmap(lambda p, s, xi, mi, k: local_training(p, s, xi, mi, k, loss_fn=loss_fn, cfg=cfg))
    report = jax.vmap(functools.partial(_report, loss_fn, cfg))
    Omega = cfg.rounds * m / n

    def round_fn(carry, t):
        gparams, z_bar, mask_bar, omega, clients = carry
        ksel = jax.random.split(jax.random.fold_in(key, t))[0]
        idx = jnp.arange(n) if m == n else jax.random.permutation(ksel, n)[:m]
        gamma = mar_weight(t, omega[idx], Omega=Omega, gamma_max=gamma_max, gamma_min=gamma_min).astype(z_bar.dtype)
        start = _augment(_broadcast(gparams, m), _broadcast(z_bar, m), _broadcast(mask_bar, m), gamma,
                         _broadcast(metric, m))
        keys = client_keys(key, t, idx)
        new, _, losses = local(start, jax.vmap(opt.init)(start), x[idx], mask[idx], keys)
        z, zmask = report(new["model"], x[idx], mask[idx], keys)
        w = base[idx] / jnp.sum(base[idx])
        gparams = mix(w, new["model"])
        z_bar, mask_bar = global_embeddings(z, zmask, w)
        clients = jax.tree_util.tree_map(lambda c, p: c.at[idx].set(p), clients, new["model"])
        loss_row = jnp.full((n,), jnp.nan, dtype=losses.dtype).at[idx].set(losses)
        part_row = jnp.zeros((n,), dtype=bool).at[idx].set(True)
        return (gparams, z_bar, mask_bar, omega.at[idx].add(1.0), clients), (loss_row, part_row)

    z0, m0 = _first_z(loss_fn, cfg, init_params, x)
    carry = (init_params, z0, m0, jnp.zeros((n,), z0.dtype), _broadcast(init_params, n))
    (gparams, *_, clients), (losses, part) = lax.scan(round_fn, carry, jnp.arange(cfg.rounds))
    return TrainResult(gparams, clients, losses, part)


def decmar_program(init_params, x, mask, weights, key, gamma_max, gamma_min, metric, *, loss_fn: MixedMARLoss,
                   cfg: TrainConfig):
    """DecMAR over a row-stochastic mixing matrix ``weights (N, N)`` (no validation; jit- and
    vmap-able). Every client keeps its optimizer state and its ``z_bar_i`` across rounds;
    ``omega_i = t``, ``Omega = T``. The global model is the final (uniform or data-size)
    average of the local models. Returns a :class:`sim.engine.train.TrainResult`."""
    n = x.shape[0]
    opt = optimizer(cfg)
    local = jax.vmap(lambda p, s, xi, mi, k: local_training(p, s, xi, mi, k, loss_fn=loss_fn, cfg=cfg))
    report = jax.vmap(functools.partial(_report, loss_fn, cfg))
    z0, m0 = _first_z(loss_fn, cfg, init_params, x)
    clients = _broadcast(init_params, n)
    start = _augment(clients, _broadcast(z0, n), _broadcast(m0, n), jnp.zeros((n,), z0.dtype), _broadcast(metric, n))

    def round_fn(carry, t):
        params, state, z_bar, mask_bar = carry
        gamma = mar_weight(t, jnp.full((n,), t, z0.dtype), Omega=cfg.rounds, gamma_max=gamma_max,
                           gamma_min=gamma_min).astype(z0.dtype)
        keys = client_keys(key, t, jnp.arange(n))
        new, state, losses = local(_augment(params, z_bar, mask_bar, gamma, _broadcast(metric, n)), state, x, mask,
                                   keys)
        z, zmask = report(new["model"], x, mask, keys)
        z_bar, mask_bar = global_embeddings(z, zmask, weights)
        return (mix(weights, new["model"]), state, z_bar, mask_bar), losses

    carry = (clients, jax.vmap(opt.init)(start), start["z_bar"], m0[None].repeat(n, 0))
    (clients, *_), losses = lax.scan(round_fn, carry, jnp.arange(cfg.rounds))
    sizes = mask.sum(axis=1).astype(jnp.result_type(float))
    base = sizes if cfg.weights == "data-size" else jnp.ones_like(sizes)
    return TrainResult(mix(base / jnp.sum(base), clients), clients, losses, jnp.ones(losses.shape, dtype=bool))


_fedmar_jit = jax.jit(fedmar_program, static_argnames=("loss_fn", "cfg"))
_decmar_jit = jax.jit(decmar_program, static_argnames=("loss_fn", "cfg"))


def _schedule(gamma_max, gamma_min):
    for name, value in (("gamma_max", gamma_max), ("gamma_min", gamma_min)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
                or not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} = {value!r} must be a finite number >= 0")
    if gamma_min > gamma_max:
        raise ValueError(f"gamma_min = {gamma_min!r} must be <= gamma_max = {gamma_max!r}")
    dtype = jnp.result_type(float)
    return jnp.asarray(gamma_max, dtype), jnp.asarray(gamma_min, dtype)


def _check(data: ClientData, loss: MixedMARLoss, cfg: TrainConfig) -> None:
    if not isinstance(data, ClientData):
        raise TypeError(f"data must be a ClientData, got {type(data).__name__}")
    if not isinstance(loss, MixedMARLoss):
        raise TypeError(f"loss must be a MixedMARLoss, got {type(loss).__name__}")
    if data.x.shape[-1] != loss.cfg.d:
        raise ValueError(f"data has d = {data.x.shape[-1]}, the model d = {loss.cfg.d}")
    if cfg.clients_per_round is not None and not 1 <= cfg.clients_per_round <= data.n_clients:
        raise ValueError(f"clients_per_round = {cfg.clients_per_round} must be in [1, N = {data.n_clients}]")


def _result(out: TrainResult) -> TrainResult:
    check_finite(out.losses, out.participation, out.client_params)
    return out


def train_fedmar(init_params, loss: MixedMARLoss, data: ClientData, cfg: TrainConfig, *, key, gamma_max=0.1,
                 gamma_min=0.001, metric: str = "a-mmd-mean") -> TrainResult:
    """FedMAR with full or partial participation; defaults: the paper's cosine schedule
    0.1 -> 0.001 (Eq. 7) and A-MMD with the mean bandwidth (Eq. 6). Raises ``ValueError`` for
    a negative or non-finite gamma, ``gamma_min > gamma_max``, an unknown metric, mismatched
    sizes; :class:`sim.engine.train.DivergenceError` for a non-finite loss or parameters."""
    _check(data, loss, cfg)
    gmax, gmin = _schedule(gamma_max, gamma_min)
    return _result(_fedmar_jit(init_params, data.x, data.mask, key, gmax, gmin, metric_weights(metric, loss.metrics),
                               loss_fn=loss, cfg=cfg))


def train_decmar(init_params, loss: MixedMARLoss, data: ClientData, mixing: Mixing, cfg: TrainConfig, *, key,
                 gamma_max=0.1, gamma_min=0.001, metric: str = "a-mmd-mean") -> TrainResult:
    """DecMAR over a row-stochastic :class:`sim.engine.mixing.Mixing` (push-sum is not supported: the
    embeddings need a row-stochastic average). Errors as :func:`train_fedmar`."""
    _check(data, loss, cfg)
    if cfg.clients_per_round is not None:
        raise ValueError(f"clients_per_round = {cfg.clients_per_round}: DecMAR has every client in every round; use None")
    if not isinstance(mixing, Mixing) or mixing.push_sum:
        raise ValueError(f"mixing = {mixing!r} must be a row-stochastic sim.engine.mixing.Mixing (push_sum=False)")
    if mixing.n_clients != data.n_clients:
        raise ValueError(f"mixing is for N = {mixing.n_clients} clients, data has N = {data.n_clients}")
    gmax, gmin = _schedule(gamma_max, gamma_min)
    return _result(_decmar_jit(init_params, data.x, data.mask, jnp.asarray(mixing.weights), key, gmax, gmin,
                               metric_weights(metric, loss.metrics), loss_fn=loss, cfg=cfg))


__all__ = ["EMBED_STREAM", "MixedMARLoss", "decmar_program", "fedmar_program", "metric_weights", "train_decmar",
           "train_fedmar"]
