"""Generic distributed training engine: local-only, FedAvg, and DecL (D-PSGD).

Any model plugs in through one function shape, the per-client minibatch loss::

    loss_fn(params, batch_x, batch_mask, key) -> scalar

``params`` is a pytree, ``batch_x`` (B, ...) a batch of ONE client's samples, ``batch_mask``
(B,) marks real samples (False = padding; the loss must ignore those rows) and ``key`` is the
step's randomness (augmentation noise, masks). The engine lifts it over clients with
``jax.vmap``, runs rounds under ``lax.scan`` and compiles ONE program per (loss_fn, config,
shapes): a second run with new data, keys or mixing weights does not recompile. ``loss_fn``
must therefore be hashable and stable (a module-level function or an object with ``__eq__`` /
``__hash__``, like :class:`sim.objectives.LinearObjective`).

Algorithms (``E = local_steps``; each local step draws a minibatch of ``batch_size`` distinct
real samples of the client, or uses all of them when ``batch_size`` is None or ``>= n_max``):

- :func:`train_local`: every client runs ``rounds * E`` steps alone; the global model is the
  final (uniform or data-size weighted) average of the local models.
- :func:`train_fedavg`: per round the server samples ``clients_per_round`` clients uniformly
  without replacement (all when None), each starts from the global model with a fresh
  optimizer state, runs ``E`` steps, and the server averages the results with uniform or
  data-size weights renormalised over the participants.
- :func:`train_decl`: D-PSGD; every round every client runs ``E`` steps from its own model
  (optimizer state kept across rounds), then replaces its model by the mixing average
  ``Σ_j W_ij θ_j`` (push-sum: see :mod:`sim.mixing`); after the last round one global average
  (uniform or data-size weighted) gives the global model.

Client ``i``'s randomness in round ``t`` is ``fold_in(split(fold_in(key, t))[1], i)`` in every
algorithm, so DecL on the complete graph with uniform mixing reproduces full-participation
FedAvg with uniform weights step for step (SGD).

Divergence: a non-finite loss of a participating client (or non-finite final parameters) raises
:class:`DivergenceError` naming the first offending round and client.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from sim.data import ClientData
from sim.mixing import Mixing, mix, push_sum_step
from sim.sharding import shard_clients

Params = Any
OPTIMIZERS: tuple[str, ...] = ("sgd", "adam")
AGGREGATION_WEIGHTS: tuple[str, ...] = ("uniform", "data-size")


class LossFn(Protocol):
    def __call__(self, params: Params, batch_x: jax.Array, batch_mask: jax.Array, key: jax.Array) -> jax.Array: ...


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss; ``round`` and ``client`` locate the first one."""

    def __init__(self, message: str, *, round: int, client: int):
        super().__init__(message)
        self.round = round
        self.client = client


def _positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r} must be an integer >= 1")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (hashable: it is a static argument of the program).

    Args:
        rounds: communication rounds ``T >= 1``.
        local_steps: optimizer steps per client per round ``E >= 1``.
        batch_size: samples per step ``B >= 1``; None = full batch.
        learning_rate: ``η > 0``.
        optimizer: ``"sgd"`` or ``"adam"`` (optax).
        clients_per_round: FedAvg participants per round, in ``[1, N]`` (checked at run time);
            None = all. DecL and local training need None.
        weights: aggregation weights, ``"uniform"`` or ``"data-size"`` (``n_i / Σ n``).
    """

    rounds: int
    local_steps: int
    batch_size: int | None
    learning_rate: float
    optimizer: str = "sgd"
    clients_per_round: int | None = None
    weights: str = "uniform"

    def __post_init__(self):
        _positive_int("rounds", self.rounds)
        _positive_int("local_steps", self.local_steps)
        if self.batch_size is not None:
            _positive_int("batch_size", self.batch_size)
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)) or not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"learning_rate={lr!r} must be a finite number > 0")
        object.__setattr__(self, "learning_rate", float(lr))
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={self.optimizer!r} must be one of {OPTIMIZERS}")
        if self.clients_per_round is not None:
            _positive_int("clients_per_round", self.clients_per_round)
        if self.weights not in AGGREGATION_WEIGHTS:
            raise ValueError(f"weights={self.weights!r} must be one of {AGGREGATION_WEIGHTS}")


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class TrainResult:
    """``global_params`` (pytree), ``client_params`` (same pytree, leading client axis N),
    ``losses`` (rounds, N): mean local-step loss of each client in each round (NaN where the
    client did not participate), ``participation`` (rounds, N) boolean."""

    global_params: Params
    client_params: Params
    losses: jax.Array
    participation: jax.Array


def optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """The optax optimizer of a config (plain SGD or Adam at ``cfg.learning_rate``)."""
    return optax.sgd(cfg.learning_rate) if cfg.optimizer == "sgd" else optax.adam(cfg.learning_rate)


def _sample_batch(key, x, mask, batch_size):
    """``batch_size`` distinct real samples of one client, uniformly (padded rows rank last)."""
    n_max = mask.shape[0]
    if batch_size is None or batch_size >= n_max:
        return x, mask
    scores = jnp.where(mask, jax.random.uniform(key, (n_max,)), -1.0)
    _, idx = lax.top_k(scores, batch_size)
    return x[idx], mask[idx]


def local_training(params, opt_state, x, mask, key, *, loss_fn, cfg: TrainConfig):
    """``E = cfg.local_steps`` optimizer steps of ONE client (the unit every algorithm vmaps over
    clients): ``x`` (n_max, ...), ``mask`` (n_max,), ``opt_state`` from the config's optax
    optimizer (:func:`optimizer`). Returns new params, new state and the mean step loss."""
    opt = optimizer(cfg)

    def step(carry, k):
        p, s = carry
        kb, kl = jax.random.split(k)
        bx, bm = _sample_batch(kb, x, mask, cfg.batch_size)
        loss, grads = jax.value_and_grad(loss_fn)(p, bx, bm, kl)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes float hyperparameters with its int32 step count
            updates, s = opt.update(grads, s, p)
        return (optax.apply_updates(p, updates), s), loss

    (params, opt_state), losses = lax.scan(step, (params, opt_state), jax.random.split(key, cfg.local_steps))
    return params, opt_state, jnp.mean(losses)


def _client_keys(key, t, clients):
    kloc = jax.random.split(jax.random.fold_in(key, t))[1]
    return jax.vmap(lambda i: jax.random.fold_in(kloc, i))(clients)


def _broadcast(params, n):
    return jax.tree_util.tree_map(lambda p: jnp.broadcast_to(p, (n,) + jnp.shape(p)), params)


def _aggregation_weights(cfg: TrainConfig, mask):
    sizes = mask.sum(axis=1).astype(jnp.result_type(float))
    return sizes if cfg.weights == "data-size" else jnp.ones_like(sizes)


def fedavg_program(init_params, x, mask, key, *, loss_fn: LossFn, cfg: TrainConfig):
    """The pure FedAvg program behind :func:`train_fedavg` (no validation, no divergence check;
    jit- and vmap-able). Returns a :class:`TrainResult` (a pytree)."""
    n = x.shape[0]
    m = n if cfg.clients_per_round is None else cfg.clients_per_round
    base = _aggregation_weights(cfg, mask)
    opt = optimizer(cfg)
    local = jax.vmap(lambda p, s, xi, mi, k: local_training(p, s, xi, mi, k, loss_fn=loss_fn, cfg=cfg))

    def round_fn(carry, t):
        gparams, clients = carry
        ksel = jax.random.split(jax.random.fold_in(key, t))[0]
        idx = jnp.arange(n) if m == n else jax.random.permutation(ksel, n)[:m]
        start = _broadcast(gparams, m)
        new, _, losses = local(start, jax.vmap(opt.init)(start), x[idx], mask[idx], _client_keys(key, t, idx))
        w = base[idx] / jnp.sum(base[idx])
        gparams = mix(w, new)  # a weight vector: the weighted mean over participants
        clients = jax.tree_util.tree_map(lambda c, p: c.at[idx].set(p), clients, new)
        loss_row = jnp.full((n,), jnp.nan, dtype=losses.dtype).at[idx].set(losses)
        part_row = jnp.zeros((n,), dtype=bool).at[idx].set(True)
        return (gparams, clients), (loss_row, part_row)

    (gparams, clients), (losses, part) = lax.scan(
        round_fn, (init_params, _broadcast(init_params, n)), jnp.arange(cfg.rounds)
    )
    return TrainResult(gparams, clients, losses, part)


def decl_program(init_params, x, mask, weights, key, *, loss_fn: LossFn, cfg: TrainConfig, push_sum: bool = False):
    """The pure D-PSGD program behind :func:`train_decl` (no validation, no divergence check;
    jit- and vmap-able, e.g. over seeds and mixing matrices). ``weights`` (N, N) is
    row-stochastic, or column-stochastic with ``push_sum=True``. Returns a :class:`TrainResult`
    (a pytree)."""
    n = x.shape[0]
    opt = optimizer(cfg)
    local = jax.vmap(lambda p, s, xi, mi, k: local_training(p, s, xi, mi, k, loss_fn=loss_fn, cfg=cfg))
    clients = _broadcast(init_params, n)
    y0 = jnp.ones((n,), dtype=weights.dtype)

    def round_fn(carry, t):
        params, state, y = carry
        params, state, losses = local(params, state, x, mask, _client_keys(key, t, jnp.arange(n)))
        step, y = push_sum_step(weights, y) if push_sum else (weights, y)
        return (mix(step, params), state, y), losses

    (clients, _, _), losses = lax.scan(round_fn, (clients, jax.vmap(opt.init)(clients), y0), jnp.arange(cfg.rounds))
    base = _aggregation_weights(cfg, mask)
    gparams = mix(base / jnp.sum(base), clients)
    return TrainResult(gparams, clients, losses, jnp.ones(losses.shape, dtype=bool))


_fedavg_jit = jax.jit(fedavg_program, static_argnames=("loss_fn", "cfg"))
_decl_jit = jax.jit(decl_program, static_argnames=("loss_fn", "cfg", "push_sum"))


def check_finite(losses, participation, client_params=None) -> None:
    """Raise :class:`DivergenceError` at the first (round, client) with a non-finite loss among
    participants, or if the final client parameters are non-finite."""
    losses = np.asarray(losses)
    bad = ~np.isfinite(losses) & np.asarray(participation, dtype=bool)
    if bad.any():
        t, i = (int(v) for v in np.argwhere(bad)[0])  # argwhere is row-major: first round, then client
        raise DivergenceError(
            f"training diverged: non-finite loss ({losses[t, i]}) in round {t} (0-indexed) on client {i}; "
            f"lower the learning rate or check the data",
            round=t,
            client=i,
        )
    if client_params is not None:
        finite = np.ones(losses.shape[1], dtype=bool)
        for leaf in jax.tree_util.tree_leaves(client_params):
            finite &= np.isfinite(np.asarray(leaf)).reshape(leaf.shape[0], -1).all(axis=1)
        if not finite.all():
            i = int(np.argmin(finite))
            t = losses.shape[0] - 1
            raise DivergenceError(
                f"training diverged: non-finite parameters after round {t} (0-indexed) on client {i}",
                round=t,
                client=i,
            )


def _check_run(data: ClientData, cfg: TrainConfig, *, fedavg: bool) -> None:
    if not isinstance(data, ClientData):
        raise TypeError(f"data must be a ClientData, got {type(data).__name__}")
    n = data.n_clients
    if cfg.clients_per_round is not None:
        if not fedavg:
            raise ValueError(f"clients_per_round={cfg.clients_per_round}: partial participation is FedAvg only; use None")
        if not 1 <= cfg.clients_per_round <= n:
            raise ValueError(f"clients_per_round={cfg.clients_per_round} must be in [1, N={n}]")


def _result(out: TrainResult) -> TrainResult:
    check_finite(out.losses, out.participation, out.client_params)
    return out


def train_local(init_params, loss_fn: LossFn, data: ClientData, cfg: TrainConfig, *, key) -> TrainResult:
    """Every client trains alone for ``rounds * local_steps`` steps from ``init_params``."""
    _check_run(data, cfg, fedavg=False)
    eye = jnp.eye(data.n_clients)
    x, mask = shard_clients((data.x, data.mask))
    return _result(_decl_jit(init_params, x, mask, eye, key, loss_fn=loss_fn, cfg=cfg, push_sum=False))


def train_fedavg(init_params, loss_fn: LossFn, data: ClientData, cfg: TrainConfig, *, key) -> TrainResult:
    """FedAvg with full or partial participation (``cfg.clients_per_round``)."""
    _check_run(data, cfg, fedavg=True)
    x, mask = shard_clients((data.x, data.mask))
    return _result(_fedavg_jit(init_params, x, mask, key, loss_fn=loss_fn, cfg=cfg))


def train_decl(init_params, loss_fn: LossFn, data: ClientData, mixing: Mixing | Any, cfg: TrainConfig, *, key) -> TrainResult:
    """D-PSGD over a mixing rule: a :class:`sim.mixing.Mixing` or a row-stochastic (N, N) array."""
    _check_run(data, cfg, fedavg=False)
    if not isinstance(mixing, Mixing):
        mixing = Mixing(np.asarray(mixing), "custom", False)
    if mixing.n_clients != data.n_clients:
        raise ValueError(f"mixing matrix is for N={mixing.n_clients} clients, data has N={data.n_clients}")
    w = jnp.asarray(mixing.weights)
    x, mask = shard_clients((data.x, data.mask))
    return _result(_decl_jit(init_params, x, mask, w, key, loss_fn=loss_fn, cfg=cfg, push_sum=mixing.push_sum))


def program_cache_sizes() -> dict[str, int]:
    """Number of compiled programs per algorithm (tests assert that reruns do not recompile)."""
    return {"fedavg": _fedavg_jit._cache_size(), "decl": _decl_jit._cache_size()}


__all__ = [
    "ClientData",
    "DivergenceError",
    "LossFn",
    "TrainConfig",
    "TrainResult",
    "check_finite",
    "decl_program",
    "fedavg_program",
    "local_training",
    "optimizer",
    "program_cache_sizes",
    "train_decl",
    "train_fedavg",
    "train_local",
]
