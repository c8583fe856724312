"""Generic distributed training engine: local-only, FedAvg, and DecL (D-PSGD).

Any model plugs in through one function shape, the per-client minibatch loss::

    loss_fn(params, batch_x, batch_mask, key) -> scalar

``params`` is a pytree, ``batch_x`` (B, ...) a batch of ONE client's samples, ``batch_mask``
(B,) marks real samples (False = padding; the loss must ignore those rows) and ``key`` is the
step's randomness (augmentation noise, masks). The engine lifts it over clients with
``jax.vmap``, runs rounds under ``lax.scan`` and compiles ONE program per (loss_fn, config,
shapes): a second run with new data, keys or mixing weights does not recompile. ``loss_fn``
must therefore be hashable and stable (a module-level function or an object with ``__eq__`` /
``__hash__``, like :class:`sim.linear.losses.LinearObjective`).

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
  ``Σ_j W_ij θ_j`` (push-sum: see :mod:`sim.engine.mixing`); after the last round one global average
  (uniform or data-size weighted) gives the global model.

DecL extensions (:func:`train_decl`, :func:`decl_program`): a
:class:`sim.engine.mixing.MixingSchedule` (a (P, N, N) stack) gives a time-varying rule, the
round's matrix selected inside the compiled loop; ``per_client=True`` starts from stacked
per-client parameters (leading axis N) instead of broadcasting one model; ``metric``, a pure
hashable function of the stacked client parameters (e.g.
:func:`sim.engine.mixing.consensus_distance`), is evaluated after every round's mixing step
inside the scan and returned stacked over rounds in :attr:`TrainResult.metrics`.

Client ``i``'s randomness in round ``t`` is ``fold_in(split(fold_in(key, t))[1], i)`` in every
algorithm, so DecL on the complete graph with uniform mixing reproduces full-participation
FedAvg with uniform weights step for step (SGD).

Divergence: a non-finite loss of a participating client (or non-finite final parameters) raises
:class:`DivergenceError` naming the first offending round and client.

Speed and scale (the public wrappers ``train_*``): the round count is not compiled in (one
program runs ``ROUND_CHUNK`` rounds per call, any count reuses it); a run trains in the
precision of its parameters (float32 parameters and data stay float32 when x64 is on); a client
count the device count does not divide is padded with zero-weight copies so the client axis
always shards; ``TrainConfig.client_chunk`` trains clients in chunks when they do not fit at
once; under ``jax.distributed`` (several processes) every process returns the whole result.
The per-client streams are threefry streams of ``(key, round, client)``; ``rbg`` keys are refused
(their vmap rule would make a client's draws depend on its batch: :mod:`sim.data.masks`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax
from jax.experimental import multihost_utils

from sim.data import draws
from sim.data.model import ClientData
from sim.data.masks import check_stream_key
from sim.engine.mixing import Mixing, MixingSchedule, mix, push_sum_step, schedule_step
from sim.engine.sharding import shard_clients

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
        client_chunk: clients trained at once; None = all (one ``vmap``). A smaller chunk runs
            the clients in sequential chunks of that size (``lax.map`` with ``batch_size``) when
            they do not fit in memory at once — same result, less peak memory.
    """

    rounds: int
    local_steps: int
    batch_size: int | None
    learning_rate: float
    optimizer: str = "sgd"
    clients_per_round: int | None = None
    weights: str = "uniform"
    client_chunk: int | None = None

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
        if self.client_chunk is not None:
            _positive_int("client_chunk", self.client_chunk)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class TrainResult:
    """``global_params`` (pytree), ``client_params`` (same pytree, leading client axis N),
    ``losses`` (rounds, N): mean local-step loss of each client in each round (NaN where the
    client did not participate), ``participation`` (rounds, N) boolean, ``metrics`` the metric
    hook's value after every round (its pytree with a leading rounds axis; None without a hook)."""

    global_params: Params
    client_params: Params
    losses: jax.Array
    participation: jax.Array
    metrics: Any = None


def optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """The optax optimizer of a config (plain SGD or Adam at ``cfg.learning_rate``)."""
    return optax.sgd(cfg.learning_rate) if cfg.optimizer == "sgd" else optax.adam(cfg.learning_rate)


def sample_batch(key, x, mask, batch_size):
    """``batch_size`` distinct real samples of one client, uniformly (padded rows rank last).

    The ranks are 31-bit random integers rather than float uniforms (half the random bits of a
    float64 uniform, no float in the sampler); rows tie with probability below ``n_max² 2^-32``
    per step, and a tie only orders the tied rows by index."""
    n_max = mask.shape[0]
    if batch_size is None or batch_size >= n_max:
        return x, mask
    ranks = (draws.bits(key, (n_max,), jnp.uint32) >> 1).astype(jnp.int32)
    idx = _top_indices(jnp.where(mask, ranks, jnp.int32(-1)), batch_size)
    return x[idx], mask[idx]


def _top_indices(ranks, k: int):
    """``lax.top_k(ranks, k)[1]`` (same indices, same order: rank descending, ties by lower index)
    for int32 ``ranks`` in ``[-1, 2^31)``, without a sort.

    XLA:CPU lowers an integer ``top_k`` to a comparator sort per row (measured on W1's 100 clients
    x 10 steps x 64 of 256 rows: 41-60 ms per round, against 14 ms for this). Here: the k-th
    largest rank ``t`` bit by bit (31 counting passes over the row),
    the rows above ``t`` plus the first rows equal to it, compacted in index order, then each
    chosen row's place among the k chosen (k^2 comparisons)."""
    n = ranks.shape[0]
    count = lambda chosen: jnp.sum(chosen, dtype=jnp.int32)  # noqa: E731

    def next_bit(i, t):
        candidate = t | jnp.left_shift(jnp.int32(1), 30 - i)
        return jnp.where(count(ranks >= candidate) >= k, candidate, t)

    t = lax.fori_loop(0, 31, next_bit, jnp.int32(0))
    t = jnp.where(count(ranks >= 0) >= k, t, jnp.int32(-1))  # fewer than k real rows: padding fills up
    above, tied = ranks > t, ranks == t
    chosen = above | (tied & (jnp.cumsum(tied, dtype=jnp.int32) <= k - count(above)))
    slot = jnp.where(chosen, jnp.cumsum(chosen, dtype=jnp.int32) - 1, k)
    idx = jnp.zeros((k,), jnp.int32).at[slot].set(jnp.arange(n, dtype=jnp.int32), mode="drop")
    r, pos = ranks[idx], jnp.arange(k)
    ahead = (r[None, :] > r[:, None]) | ((r[None, :] == r[:, None]) & (pos[None, :] < pos[:, None]))
    return jnp.zeros((k,), jnp.int32).at[jnp.sum(ahead, axis=1, dtype=jnp.int32)].set(idx)


def local_training(params, opt_state, x, mask, key, *, loss_fn, cfg: TrainConfig):
    """``E = cfg.local_steps`` optimizer steps of ONE client (the unit every algorithm vmaps over
    clients): ``x`` (n_max, ...), ``mask`` (n_max,), ``opt_state`` from the config's optax
    optimizer (:func:`optimizer`). Returns new params, new state and the mean step loss."""
    opt = optimizer(cfg)

    def step(carry, k):
        p, s = carry
        kb, kl = jax.random.split(k)
        bx, bm = sample_batch(kb, x, mask, cfg.batch_size)
        loss, grads = jax.value_and_grad(loss_fn)(p, bx, bm, kl)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes float hyperparameters with its int32 step count
            updates, s = opt.update(grads, s, p)
        return (optax.apply_updates(p, updates), s), loss

    (params, opt_state), losses = lax.scan(step, (params, opt_state), jax.random.split(key, cfg.local_steps))
    return params, opt_state, jnp.mean(losses)


def client_keys(key, t, clients):
    """Round ``t``'s local-training key of each client in ``clients`` (one stream per client and
    round, shared by FL, DecL and the MAR trainers so that equal seeds draw equal batches)."""
    kloc = jax.random.split(jax.random.fold_in(key, t))[1]
    return jax.vmap(lambda i: jax.random.fold_in(kloc, i))(clients)


def _broadcast(params, n):
    return jax.tree_util.tree_map(lambda p: jnp.broadcast_to(p, (n,) + jnp.shape(p)), params)


def _param_dtype(params):
    """The precision of a run: the dtype of the first floating parameter leaf (float64 if none)."""
    for leaf in jax.tree_util.tree_leaves(params):
        if jnp.issubdtype(jnp.result_type(leaf), jnp.floating):
            return jnp.result_type(leaf)
    return jnp.result_type(float)


def _aggregation_weights(cfg: TrainConfig, mask, dtype=None):
    # In the parameters' precision, so float32 training is not promoted to float64 under x64.
    sizes = mask.sum(axis=1).astype(jnp.result_type(float) if dtype is None else dtype)
    return sizes if cfg.weights == "data-size" else jnp.ones_like(sizes)


def _over_clients(cfg: TrainConfig):
    """Local training lifted over the client axis: one vmap, or chunks of ``cfg.client_chunk``
    clients (``lax.map`` with ``batch_size``: vmap inside a chunk, a loop over chunks)."""

    def one(p, s, xi, mi, k, *, loss_fn):
        return local_training(p, s, xi, mi, k, loss_fn=loss_fn, cfg=cfg)

    def lifted(loss_fn, *args):
        fn = functools.partial(one, loss_fn=loss_fn)
        if cfg.client_chunk is None or cfg.client_chunk >= args[2].shape[0]:
            return jax.vmap(fn)(*args)
        return lax.map(lambda a: fn(*a), args, batch_size=cfg.client_chunk)

    return lifted


def _fedavg_round(init_params, x, mask, base, key, *, loss_fn: LossFn, cfg: TrainConfig):
    """One FedAvg round ``(carry, t) -> (carry, (loss_row, part_row))``, ``carry = (global,
    clients)``; ``base`` (N,) are the unnormalised aggregation weights (0 = a padding client)."""
    n = x.shape[0]
    m = n if cfg.clients_per_round is None else cfg.clients_per_round
    opt = optimizer(cfg)
    local = functools.partial(_over_clients(cfg), loss_fn)

    def round_fn(carry, t):
        gparams, clients = carry
        ksel = jax.random.split(jax.random.fold_in(key, t))[0]
        idx = jnp.arange(n) if m == n else jax.random.permutation(ksel, n)[:m]
        start = _broadcast(gparams, m)
        new, _, losses = local(start, jax.vmap(opt.init)(start), x[idx], mask[idx], client_keys(key, t, idx))
        w = base[idx] / jnp.sum(base[idx])
        gparams = mix(w, new)  # a weight vector: the weighted mean over participants
        clients = jax.tree_util.tree_map(lambda c, p: c.at[idx].set(p), clients, new)
        loss_row = jnp.full((n,), jnp.nan, dtype=losses.dtype).at[idx].set(losses)
        part_row = jnp.zeros((n,), dtype=bool).at[idx].set(True)
        return (gparams, clients), (loss_row, part_row)

    return round_fn, (init_params, _broadcast(init_params, n))


def fedavg_program(init_params, x, mask, key, *, loss_fn: LossFn, cfg: TrainConfig):
    """The pure FedAvg program behind :func:`train_fedavg` (no validation, no divergence check;
    jit- and vmap-able). Returns a :class:`TrainResult` (a pytree)."""
    base = _aggregation_weights(cfg, mask, _param_dtype(init_params))
    round_fn, carry = _fedavg_round(init_params, x, mask, base, key, loss_fn=loss_fn, cfg=cfg)
    (gparams, clients), (losses, part) = lax.scan(round_fn, carry, jnp.arange(cfg.rounds))
    return TrainResult(gparams, clients, losses, part)


def _decl_round(x, mask, weights, key, *, loss_fn: LossFn, cfg: TrainConfig, push_sum: bool,
                order: str = "periodic", metric=None, n_real: int | None = None):
    """One D-PSGD round ``(carry, t) -> (carry, losses)`` (``(losses, metric)`` with a metric),
    ``carry = (clients, opt states, y)``; ``weights`` (N, N), or a (P, N, N) schedule stack."""
    n = x.shape[0]
    local = functools.partial(_over_clients(cfg), loss_fn)

    def round_fn(carry, t):
        params, state, y = carry
        params, state, losses = local(params, state, x, mask, client_keys(key, t, jnp.arange(n)))
        w = weights if weights.ndim == 2 else schedule_step(weights, t, key, order=order)
        step, y = push_sum_step(w, y) if push_sum else (w, y)
        params = mix(step, params)
        if metric is None:
            return (params, state, y), losses
        real = params if n_real is None else jax.tree_util.tree_map(lambda a: a[:n_real], params)
        return (params, state, y), (losses, metric(real))

    return round_fn


def _decl_start(init_params, n, weights, cfg: TrainConfig, per_client: bool = False):
    clients = init_params if per_client else _broadcast(init_params, n)
    return clients, jax.vmap(optimizer(cfg).init)(clients), jnp.ones((n,), dtype=weights.dtype)


def _decl_finish(clients, base):
    return mix(base / jnp.sum(base), clients)


def decl_program(init_params, x, mask, weights, key, *, loss_fn: LossFn, cfg: TrainConfig, push_sum: bool = False,
                 order: str = "periodic", metric=None, per_client: bool = False):
    """The pure D-PSGD program behind :func:`train_decl` (no validation, no divergence check;
    jit- and vmap-able, e.g. over seeds and mixing matrices). ``weights`` (N, N) is
    row-stochastic, or column-stochastic with ``push_sum=True``; a (P, N, N) stack is a schedule
    used in ``order`` (:class:`sim.engine.mixing.MixingSchedule`). ``per_client``: ``init_params``
    has a leading client axis. ``metric``: a function of the stacked client parameters,
    recorded after every round in :attr:`TrainResult.metrics`. Returns a :class:`TrainResult`
    (a pytree)."""
    round_fn = _decl_round(x, mask, weights, key, loss_fn=loss_fn, cfg=cfg, push_sum=push_sum, order=order,
                           metric=metric)
    carry = _decl_start(init_params, x.shape[0], weights, cfg, per_client)
    (clients, _, _), outs = lax.scan(round_fn, carry, jnp.arange(cfg.rounds))
    losses, metrics = outs if metric is not None else (outs, None)
    gparams = _decl_finish(clients, _aggregation_weights(cfg, mask, _param_dtype(clients)))
    return TrainResult(gparams, clients, losses, jnp.ones(losses.shape, dtype=bool), metrics)


# Rounds are not part of the compiled program: the public wrappers run ROUND_CHUNK rounds per
# call of one program (rounds t >= total are skipped by lax.cond), dispatched asynchronously with
# the state kept on device, so any round count reuses the program of its (loss, config without
# rounds, shapes) and no value returns to the host before the last chunk.
ROUND_CHUNK = 16


def _chunked(round_fn, carry, t0, total):
    def guarded(carry, t):
        def skip(carry, t):
            shapes = jax.eval_shape(round_fn, carry, t)[1]
            return carry, jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype), shapes)

        return lax.cond(t < total, round_fn, skip, carry, t)

    return lax.scan(guarded, carry, t0 + jnp.arange(ROUND_CHUNK, dtype=jnp.int32))


def _fedavg_chunk(carry, x, mask, base, key, t0, total, *, loss_fn, cfg):
    round_fn, _ = _fedavg_round(carry[0], x, mask, base, key, loss_fn=loss_fn, cfg=cfg)
    return _chunked(round_fn, carry, t0, total)


def _decl_chunk(carry, x, mask, weights, key, t0, total, *, loss_fn, cfg, push_sum, order="periodic", metric=None,
                n_real=None):
    round_fn = _decl_round(x, mask, weights, key, loss_fn=loss_fn, cfg=cfg, push_sum=push_sum, order=order,
                           metric=metric, n_real=n_real)
    return _chunked(round_fn, carry, t0, total)


_fedavg_jit = jax.jit(_fedavg_chunk, static_argnames=("loss_fn", "cfg"))
_decl_jit = jax.jit(_decl_chunk, static_argnames=("loss_fn", "cfg", "push_sum", "order", "metric", "n_real"))
_decl_start_jit = jax.jit(_decl_start, static_argnames=("n", "cfg", "per_client"))
_decl_finish_jit = jax.jit(_decl_finish)
_fedavg_start_jit = jax.jit(lambda params, n: (params, _broadcast(params, n)), static_argnames="n")


def _drive(program, carry, args, rounds: int):
    """Run ``rounds`` rounds of a chunk program; returns the final carry and the per-round
    outputs stacked over rounds (device arrays; nothing is read back here)."""
    outs = []
    for t0 in range(0, rounds, ROUND_CHUNK):
        carry, out = program(carry, *args, np.int32(t0), np.int32(rounds))
        outs.append(out)
    stacked = jax.tree_util.tree_map(lambda *o: jnp.concatenate(o)[:rounds], *outs)
    return carry, stacked


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


def _gathered(tree):
    """Host copies of a result; arrays spread over several processes (``jax.distributed``) are
    all-gathered first, so every process returns the whole result."""
    def host(a):
        if isinstance(a, jax.Array) and not a.is_fully_addressable:
            return np.asarray(multihost_utils.process_allgather(a, tiled=True))
        return a

    return jax.tree_util.tree_map(host, tree)


def _result(out: TrainResult, n: int) -> TrainResult:
    if out.losses.shape[1] != n:  # drop the padding clients
        out = TrainResult(out.global_params, jax.tree_util.tree_map(lambda a: a[:n], out.client_params),
                          out.losses[:, :n], out.participation[:, :n], out.metrics)
    out = _gathered(out)
    check_finite(out.losses, out.participation, out.client_params)
    return out


def _padded(data: ClientData, cfg: TrainConfig, dtype):
    """Client arrays padded to a multiple of the device count with copies of the last client
    (finite under any loss) and aggregation weights with 0 for the copies, then sharded."""
    n, n_dev = data.n_clients, jax.device_count()
    pad = (-n) % n_dev if cfg.clients_per_round is None else 0  # partial participation draws from the real N
    base = _aggregation_weights(cfg, data.mask, dtype)
    x, mask = data.x, data.mask
    if pad:
        rep = lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)])  # noqa: E731
        x, mask, base = rep(x), rep(mask), jnp.concatenate([base, jnp.zeros((pad,), base.dtype)])
    return shard_clients((x, mask, base)), pad


def _pad_block(weights, pad):
    """Padding clients only mix with themselves: a block-diagonal W keeps real clients exact."""
    n = weights.shape[-1]
    lead = weights.shape[:-2]
    eye = jnp.broadcast_to(jnp.eye(pad, dtype=weights.dtype), lead + (pad, pad))
    top = jnp.concatenate([weights, jnp.zeros(lead + (n, pad), weights.dtype)], axis=-1)
    bottom = jnp.concatenate([jnp.zeros(lead + (pad, n), weights.dtype), eye], axis=-1)
    return jnp.concatenate([top, bottom], axis=-2)


def _check_per_client(init_params, n: int) -> None:
    for leaf in jax.tree_util.tree_leaves(init_params):
        if jnp.ndim(leaf) < 1 or jnp.shape(leaf)[0] != n:
            raise ValueError(f"init_params leaf of shape {jnp.shape(leaf)} is out of range: with per_client=True every "
                             f"leaf needs a leading client axis of size N = {n}")


def _run_decl(init_params, loss_fn, data, weights, cfg, key, push_sum, *, order="periodic", metric=None,
              per_client=False):
    check_stream_key(key)
    if per_client:
        _check_per_client(init_params, data.n_clients)
    dtype = _param_dtype(init_params)
    (x, mask, base), pad = _padded(data, cfg, dtype)
    if pad:
        weights = _pad_block(weights, pad)
        if per_client:
            init_params = jax.tree_util.tree_map(lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)]),
                                                 init_params)
    # A schedule's leading axis is its period, not the client axis: it stays replicated.
    weights = shard_clients(weights) if weights.ndim == 2 else weights
    if per_client:
        init_params = shard_clients(init_params)
    static = dataclasses.replace(cfg, rounds=1)
    carry = _decl_start_jit(init_params, x.shape[0], weights, static, per_client)
    program = functools.partial(_decl_jit, loss_fn=loss_fn, cfg=static, push_sum=push_sum, order=order, metric=metric,
                                n_real=data.n_clients if pad else None)
    (clients, _, _), outs = _drive(program, carry, (x, mask, weights, key), cfg.rounds)
    losses, metrics = outs if metric is not None else (outs, None)
    out = TrainResult(_decl_finish_jit(clients, base), clients, losses, jnp.ones(losses.shape, dtype=bool), metrics)
    return _result(out, data.n_clients)


def train_local(init_params, loss_fn: LossFn, data: ClientData, cfg: TrainConfig, *, key, metric=None,
                per_client: bool = False) -> TrainResult:
    """Every client trains alone for ``rounds * local_steps`` steps from ``init_params`` (stacked
    per client with ``per_client``); ``metric`` as in :func:`train_decl`."""
    _check_run(data, cfg, fedavg=False)
    eye = jnp.eye(data.n_clients, dtype=_param_dtype(init_params))
    return _run_decl(init_params, loss_fn, data, eye, cfg, key, False, metric=metric, per_client=per_client)


def train_fedavg(init_params, loss_fn: LossFn, data: ClientData, cfg: TrainConfig, *, key) -> TrainResult:
    """FedAvg with full or partial participation (``cfg.clients_per_round``)."""
    _check_run(data, cfg, fedavg=True)
    check_stream_key(key)
    (x, mask, base), _ = _padded(data, cfg, _param_dtype(init_params))
    static = dataclasses.replace(cfg, rounds=1)
    carry = _fedavg_start_jit(init_params, x.shape[0])
    (gparams, clients), (losses, part) = _drive(
        functools.partial(_fedavg_jit, loss_fn=loss_fn, cfg=static), carry, (x, mask, base, key), cfg.rounds)
    return _result(TrainResult(gparams, clients, losses, part), data.n_clients)


def train_decl(init_params, loss_fn: LossFn, data: ClientData, mixing: Mixing | MixingSchedule | Any, cfg: TrainConfig,
               *, key, metric=None, per_client: bool = False) -> TrainResult:
    """D-PSGD over a mixing rule: a :class:`sim.engine.mixing.Mixing`, a row-stochastic (N, N)
    array, or a time-varying :class:`sim.engine.mixing.MixingSchedule`. ``per_client``:
    ``init_params`` has a leading client axis N (one starting model per client). ``metric``: a
    pure, hashable function of the stacked client parameters (a static argument of the compiled
    program), recorded after every round's mixing in :attr:`TrainResult.metrics`."""
    _check_run(data, cfg, fedavg=False)
    if not isinstance(mixing, (Mixing, MixingSchedule)):
        mixing = Mixing(np.asarray(mixing), "custom", False)
    if mixing.n_clients != data.n_clients:
        raise ValueError(f"mixing matrix is for N={mixing.n_clients} clients, data has N={data.n_clients}")
    w = jnp.asarray(mixing.weights, dtype=_param_dtype(init_params))
    order = mixing.order if isinstance(mixing, MixingSchedule) else "periodic"
    return _run_decl(init_params, loss_fn, data, w, cfg, key, mixing.push_sum, order=order, metric=metric,
                     per_client=per_client)


def program_cache_sizes() -> dict[str, int]:
    """Number of compiled round programs per algorithm (tests assert that reruns, and runs with a
    different round count, do not recompile)."""
    return {"fedavg": _fedavg_jit._cache_size(), "decl": _decl_jit._cache_size()}


__all__ = [
    "ClientData",
    "DivergenceError",
    "LossFn",
    "TrainConfig",
    "TrainResult",
    "check_finite",
    "client_keys",
    "decl_program",
    "fedavg_program",
    "local_training",
    "optimizer",
    "ROUND_CHUNK",
    "program_cache_sizes",
    "sample_batch",
    "train_decl",
    "train_fedavg",
    "train_local",
]
