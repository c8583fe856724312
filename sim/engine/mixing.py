"""Consensus (mixing) rules of DecL, and how fast they mix.

A :class:`Mixing` holds the (N, N) weight matrix ``W`` of one round of neighbourhood averaging,
``θ_i <- Σ_j W_ij θ_j`` (Assumption A.3: row-stochastic, ``W_ij > 0`` only for ``j ∈ A_i``).
Rules (:data:`MIXING_RULES`):

- ``"uniform"``: ``W_ij = 1/|A_i|`` (the paper's proofs).
- ``"data-size"``: ``W_ij = n_j / Σ_{l∈A_i} n_l`` (the reference code, Table 6).
- ``"degree-normalised"``: ``W_ij ∝ 1/|A_j|`` over ``j ∈ A_i``, rows normalised (a neighbour
  that listens to many others is trusted less).
- ``"metropolis-hastings"``: ``W_ij = 1/(1 + max(deg_i, deg_j))`` off the diagonal, the rest on
  the diagonal; symmetric and doubly stochastic.
- ``"push-sum"``: column-stochastic ``P_ij = 1/|A_j|`` (each client splits its mass equally over
  its closed neighbourhood) with a scalar weight ``y`` per client; the training engine applies
  the equivalent row-stochastic step ``diag(P y)^{-1} P diag(y)`` and updates ``y <- P y``.

On a directed topology (``Topology.directed``) ``A_i`` is client ``i``'s closed
in-neighbourhood (the clients it hears); ``"uniform"``, ``"data-size"`` and
``"degree-normalised"`` stay row-stochastic on it, ``"push-sum"`` splits each client's mass over
its closed out-neighbourhood (column-stochastic), and ``"metropolis-hastings"`` needs an
undirected graph.

Rates reported for every matrix: :attr:`Mixing.slem` (second-largest eigenvalue modulus),
:attr:`Mixing.spectral_gap` ``= 1 - slem``, :attr:`Mixing.second_singular_value` ``σ_2(W)`` and
:attr:`Mixing.contraction` ``= ‖(I - J) W (I - J)‖_2`` (``J = 11ᵀ/N``), the largest factor by
which one mixing step can change the consensus distance ``‖(I - J) Θ‖_F`` of stacked
parameters ``Θ`` (attained by some ``Θ``). It is ``σ_2(W)`` for a doubly stochastic ``W`` and
then at most 1; a row-stochastic ``W`` that is not column-stochastic (``"data-size"`` weights on
unequal clients) can exceed 1: such a step drives the models to a weighted mean, not the plain
mean the distance is measured from, and can first move some of them away from it. The
asymptotic rate is the :attr:`Mixing.slem`.

A :class:`MixingSchedule` is a time-varying rule: one matrix ``W_t`` per round, taken from a
stack of ``P`` matrices periodically (``W_t = W_{t mod P}``; a sequence is the period of the run's
length) or drawn uniformly from the stack every round with the run's key (``order="random"``).
Built in: :func:`one_peer_exponential` (Ying et al. 2021) and :func:`random_matching`. Its rate
is :attr:`MixingSchedule.consensus_rate`: per round, over a period (periodic) or in mean square
(random).

>>> import jax
>>> from sim.engine.topology import make_topology
>>> mix = mixing_matrix(make_topology("ring", 8), "metropolis-hastings")
>>> bool(mix.doubly_stochastic), round(mix.second_singular_value, 4)
(True, 0.8047)
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from sim import checks
from sim.engine.topology import Topology

MIXING_RULES: tuple[str, ...] = ("uniform", "data-size", "degree-normalised", "metropolis-hastings", "push-sum")

_TOL = 1e-10


@dataclasses.dataclass(frozen=True, eq=False)
class Mixing:
    """One DecL consensus rule: weights ``W`` (N, N) and whether they are column-stochastic
    (push-sum) rather than row-stochastic."""

    weights: np.ndarray
    rule: str = "custom"
    push_sum: bool = False

    def __post_init__(self):
        w = np.array(self.weights, dtype=np.float64)
        if w.ndim != 2 or w.shape[0] != w.shape[1]:
            raise ValueError(f"mixing weights must be a square (N, N) matrix, got shape {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("mixing weights must be finite and non-negative")
        axis, kind = (0, "column") if self.push_sum else (1, "row")
        sums = w.sum(axis=axis)
        bad = np.flatnonzero(np.abs(sums - 1) > 1e-8)
        if bad.size:
            raise ValueError(
                f"mixing weights must be {kind}-stochastic: {kind} {int(bad[0])} sums to {sums[bad[0]]:.6g}, not 1"
            )
        w.setflags(write=False)
        object.__setattr__(self, "weights", w)

    @property
    def n_clients(self) -> int:
        return int(self.weights.shape[0])

    @property
    def doubly_stochastic(self) -> bool:
        w = self.weights
        return bool(np.allclose(w.sum(0), 1, atol=1e-8) and np.allclose(w.sum(1), 1, atol=1e-8))

    @property
    def slem(self) -> float:
        """Second-largest eigenvalue modulus ``|λ_2(W)|``."""
        ev = np.sort(np.abs(np.linalg.eigvals(self.weights)))[::-1]
        return float(ev[1]) if ev.size > 1 else 0.0

    @property
    def spectral_gap(self) -> float:
        """``1 - |λ_2(W)|``: the asymptotic mixing rate (larger mixes faster)."""
        return 1.0 - self.slem

    @property
    def second_singular_value(self) -> float:
        """``σ_2(W)``."""
        sv = np.linalg.svd(self.weights, compute_uv=False)
        return float(sv[1]) if sv.size > 1 else 0.0

    @property
    def contraction(self) -> float:
        """``‖(I - J) W (I - J)‖_2``: the largest factor by which one mixing step changes the
        consensus distance ``‖(I - J) Θ‖_F`` (``(I - J) W Θ = (I - J) W (I - J) Θ`` for a
        row-stochastic ``W``, and the bound is attained). It is ``σ_2(W) <= 1`` when ``W`` is
        doubly stochastic; otherwise it can exceed 1 (a step towards a weighted mean can move
        models away from the plain mean), and :attr:`slem` is the asymptotic rate. For push-sum
        the step matrix changes every round; this is the value of its first round."""
        n = self.n_clients
        proj = np.eye(n) - np.full((n, n), 1.0 / n)
        return float(np.linalg.norm(proj @ self.first_step() @ proj, 2))

    def first_step(self) -> np.ndarray:
        """The row-stochastic matrix applied to the models in the first round."""
        if not self.push_sum:
            return self.weights
        y = np.ones(self.n_clients)
        return np.asarray(push_sum_step(jnp.asarray(self.weights), jnp.asarray(y))[0])

    def describe(self) -> dict:
        return {
            "rule": self.rule,
            "spectral_gap": self.spectral_gap,
            "second_singular_value": self.second_singular_value,
            "contraction": self.contraction,
        }


def _check_support(w: np.ndarray, topology: Topology, what: str) -> None:
    if w.shape != (topology.n_clients, topology.n_clients):
        raise ValueError(f"{what} has shape {w.shape}, the topology has N={topology.n_clients} clients")
    outside = (np.abs(w) > _TOL) & ~topology.closed_adjacency
    if np.any(outside):
        i, j = (int(v) for v in np.argwhere(outside)[0])
        raise ValueError(f"{what}: W[{i}, {j}] = {w[i, j]:.4g} but client {j} is not in A_{i} (support must be A_i)")


def custom_mixing(weights, topology: Topology, *, push_sum: bool = False, rule: str = "custom") -> Mixing:
    """Validate a user matrix: non-negative, row-stochastic (column-stochastic if ``push_sum``),
    and supported on the closed neighbourhoods of ``topology``."""
    w = np.asarray(weights, dtype=np.float64)
    mix = Mixing(w, rule, push_sum)
    _check_support(mix.weights, topology, "custom mixing matrix")
    return mix


def mixing_matrix(topology: Topology, rule: str = "uniform", *, data_sizes=None) -> Mixing:
    """The mixing matrix of a named rule (see the module docstring) on ``topology``.

    ``data_sizes`` (N,) positive: client sample counts, needed by ``"data-size"``.
    """
    if rule not in MIXING_RULES:
        raise ValueError(f"rule={rule!r} must be one of {MIXING_RULES}")
    closed = topology.closed_adjacency.astype(np.float64)
    sizes = topology.neighbourhood_sizes.astype(np.float64)
    n = topology.n_clients
    if rule == "uniform":
        w = closed / sizes[:, None]
    elif rule == "data-size":
        if data_sizes is None:
            raise ValueError("rule='data-size' needs data_sizes (N,) client sample counts")
        ns = np.asarray(data_sizes, dtype=np.float64)
        if ns.shape != (n,) or np.any(~np.isfinite(ns)) or np.any(ns <= 0):
            raise ValueError(f"data_sizes must be {n} positive finite numbers, got {ns!r}")
        w = closed * ns[None, :]
        w = w / w.sum(axis=1, keepdims=True)
    elif rule == "degree-normalised":
        w = closed / sizes[None, :]
        w = w / w.sum(axis=1, keepdims=True)
    elif rule == "metropolis-hastings":
        if topology.directed:
            raise ValueError("rule='metropolis-hastings' needs an undirected topology; on a directed one use "
                             "'uniform' (row-stochastic) or 'push-sum'")
        deg = sizes - 1
        w = topology.adjacency / (1.0 + np.maximum(deg[:, None], deg[None, :]))
        w = w + np.diag(1.0 - w.sum(axis=1))
    else:  # push-sum: client j splits its mass over its closed out-neighbourhood
        w = closed / topology.out_neighbourhood_sizes.astype(np.float64)[None, :]
    return Mixing(w, rule, rule == "push-sum")


def push_sum_step(weights: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Push-sum round as a row-stochastic step: returns ``(diag(P y)^{-1} P diag(y), P y)``."""
    y_new = weights @ y
    return weights * y[None, :] / y_new[:, None], y_new


def mix(weights: jax.Array, stacked):
    """Apply one mixing step to stacked client parameters (leading client axis)."""
    return jax.tree_util.tree_map(lambda p: jnp.tensordot(weights.astype(p.dtype), p, axes=1), stacked)


def consensus_distance(stacked) -> jax.Array:
    """``‖Θ - 1 θ̄ᵀ‖_F`` over all leaves of stacked client parameters (θ̄ the plain mean)."""
    leaves = jax.tree_util.tree_leaves(stacked)
    return jnp.sqrt(sum(jnp.sum((p - jnp.mean(p, axis=0, keepdims=True)) ** 2) for p in leaves))


def eq1_weights(weights: jax.Array) -> jax.Array:
    """Eq. 1 weights ``π_j = (1/N) Σ_i W_ij`` (reading 3, ``objective-eq1``).

    Eq. 1 sums every client's neighbourhood objective, ``(1/N) Σ_i Σ_{j∈A_i} W_ij L_j``, i.e.
    ``Σ_j π_j L_j``; with uniform weights ``W_ij = 1/|A_i|`` this is the paper's
    ``π_j = (1/N) Σ_{i: j∈A_i} 1/|A_i|``, which is ``1/N`` for every ``j`` on a regular graph.
    """
    return jnp.mean(weights, axis=0)


def eq1_moment(S: jax.Array, weights: jax.Array) -> jax.Array:
    """``Σ_j π_j S_j`` (d, d): the second moment whose stationary point minimises Eq. 1.

    Every linear objective's expected loss is linear in ``S``, so the Eq. 1 minimiser is the
    stationary point of this aggregated moment (``S`` stacked (N, d, d))."""
    return jnp.tensordot(eq1_weights(weights), S, axes=1)


def neighbourhood_moments(S: jax.Array, weights: jax.Array) -> jax.Array:
    """``Σ_j W_ij S_j`` for every client (N, d, d): the ``per-neighbourhood`` reading, client
    ``i`` fitting the weighted average of its closed neighbourhood (uniform: ``1/|A_i|``)."""
    return jnp.tensordot(weights, S, axes=1)


# ----------------------------------------------------------------------------- schedules

SCHEDULE_ORDERS: tuple[str, ...] = ("periodic", "random")


def _centred_norm(m: np.ndarray) -> float:
    n = m.shape[0]
    proj = np.eye(n) - np.full((n, n), 1.0 / n)
    return float(np.linalg.norm(proj @ m @ proj, 2))


@dataclasses.dataclass(frozen=True, eq=False)
class MixingSchedule:
    """A time-varying consensus rule: a stack ``weights`` (P, N, N) of mixing matrices, used
    periodically (``W_t = weights[t mod P]``) or, with ``order="random"``, drawn uniformly from
    the stack every round from the run's key (the round's first split key, the stream FedAvg
    samples participants from). Every matrix is row-stochastic, or column-stochastic with
    ``push_sum`` (its weight ``y`` carried across rounds). The engine selects ``W_t`` inside the
    compiled round loop: one program per stack shape, none per round.

    >>> sched = one_peer_exponential(8)
    >>> sched.period, round(sched.consensus_rate, 12)
    (3, 0.0)
    """

    weights: np.ndarray
    order: str = "periodic"
    push_sum: bool = False
    rule: str = "custom"

    def __post_init__(self):
        w = np.array(self.weights, dtype=np.float64)
        if w.ndim != 3 or w.shape[1] != w.shape[2] or w.shape[0] < 1:
            raise ValueError(f"MixingSchedule.weights = array of shape {w.shape} is out of range: must be a stack "
                             "(P, N, N) of P >= 1 square mixing matrices")
        if self.order not in SCHEDULE_ORDERS:
            raise ValueError(f"MixingSchedule.order = {self.order!r} is out of range: must be one of {SCHEDULE_ORDERS}")
        for t, m in enumerate(w):
            try:
                Mixing(m, self.rule, self.push_sum)
            except ValueError as err:
                raise ValueError(f"MixingSchedule.weights[{t}]: {err}") from None
        w.setflags(write=False)
        object.__setattr__(self, "weights", w)

    @property
    def period(self) -> int:
        """``P``, the number of matrices in the stack."""
        return int(self.weights.shape[0])

    @property
    def n_clients(self) -> int:
        return int(self.weights.shape[1])

    def matrices(self) -> tuple[Mixing, ...]:
        """The stack as :class:`Mixing` values (each one's own rates)."""
        return tuple(Mixing(m, self.rule, self.push_sum) for m in self.weights)

    def steps(self) -> np.ndarray:
        """The row-stochastic matrices applied to the models over one period (push-sum: with
        ``y`` starting at ones, as in a run)."""
        if not self.push_sum:
            return self.weights
        y, out = jnp.ones(self.n_clients), []
        for m in self.weights:
            step, y = push_sum_step(jnp.asarray(m), y)
            out.append(np.asarray(step))
        return np.stack(out)

    @property
    def spectral_gaps(self) -> tuple[float, ...]:
        """``1 - |λ_2(W_t)|`` of every matrix of the stack."""
        return tuple(m.spectral_gap for m in self.matrices())

    @property
    def period_contraction(self) -> float:
        """Periodic order: ``‖(I - J) W_{P-1} ... W_0 (I - J)‖_2``, the largest factor by which
        one period changes the consensus distance (0 when a period averages exactly)."""
        if self.order != "periodic":
            raise ValueError("period_contraction: a random schedule has no fixed period product; "
                             "use consensus_rate (its mean-square rate)")
        product = np.eye(self.n_clients)
        for step in self.steps():
            product = step @ product
        return _centred_norm(product)

    @property
    def consensus_rate(self) -> float:
        """Per-round consensus rate: ``period_contraction ** (1 / P)`` (periodic), or the
        mean-square rate ``sqrt(λ_max(E[Bᵀ B]))`` with ``B = (I - J) W_t (I - J)``, ``W_t``
        uniform over the stack (random)."""
        if self.order == "periodic":
            return self.period_contraction ** (1.0 / self.period)
        n = self.n_clients
        proj = np.eye(n) - np.full((n, n), 1.0 / n)
        second = np.mean([(proj @ s @ proj).T @ (proj @ s @ proj) for s in self.steps()], axis=0)
        return float(np.sqrt(max(np.linalg.eigvalsh(second)[-1], 0.0)))

    def describe(self) -> dict:
        return {"rule": self.rule, "order": self.order, "period": self.period,
                "consensus_rate": self.consensus_rate, "min_spectral_gap": min(self.spectral_gaps)}


def mixing_schedule(matrices, *, order: str = "periodic", push_sum: bool | None = None,
                    rule: str = "custom") -> MixingSchedule:
    """A schedule from a sequence of :class:`Mixing` values or (N, N) arrays (or one (P, N, N)
    stack); ``push_sum`` defaults to that of the given ``Mixing`` values (which must agree)."""
    items = list(matrices)
    if not items:
        raise ValueError("matrices = [] is out of range: a schedule needs at least one mixing matrix")
    flags = {m.push_sum for m in items if isinstance(m, Mixing)}
    if len(flags) > 1:
        raise ValueError("matrices mix push-sum and row-stochastic rules: a schedule has one kind")
    if push_sum is None:
        push_sum = flags.pop() if flags else False
    stack = np.stack([m.weights if isinstance(m, Mixing) else np.asarray(m, dtype=np.float64) for m in items])
    return MixingSchedule(stack, order, bool(push_sum), rule)


def one_peer_exponential(n_clients: int) -> MixingSchedule:
    """Ying et al.'s (2021) one-peer exponential graph: in round ``t`` client ``i`` averages
    with client ``i + 2^(t mod τ) (mod N)``, weight 1/2 each, ``τ = ceil(log2 N)``. For ``N`` a
    power of two one period averages exactly (``W_{τ-1} ... W_0 = 11ᵀ/N``).

    >>> one_peer_exponential(4).weights[1][0].tolist()
    [0.5, 0.0, 0.5, 0.0]
    """
    n = checks.integer("one_peer_exponential.n_clients", n_clients, minimum=2)
    tau = max(1, math.ceil(math.log2(n)))
    eye = np.eye(n)
    stack = [(eye + np.roll(eye, 2**k, axis=1)) / 2 for k in range(tau)]
    return MixingSchedule(np.stack(stack), "periodic", False, "one-peer-exponential")


def random_matching(n_clients: int, rounds: int, *, key, order: str = "periodic") -> MixingSchedule:
    """``rounds`` random matchings drawn from ``key``: in each, clients are paired by a uniform
    random permutation and each pair averages (weight 1/2); with ``N`` odd one client sits out.
    Periodic (round ``t`` uses matching ``t mod rounds``) or ``order="random"``."""
    n = checks.integer("random_matching.n_clients", n_clients, minimum=2)
    p = checks.integer("random_matching.rounds", rounds, minimum=1)
    stack = np.zeros((p, n, n))
    for t in range(p):
        perm = np.asarray(jax.random.permutation(jax.random.fold_in(key, t), n))
        w = np.eye(n)
        for a, b in zip(perm[0:n - 1:2], perm[1:n:2]):
            w[a, a] = w[b, b] = w[a, b] = w[b, a] = 0.5
        stack[t] = w
    return MixingSchedule(stack, order, False, "random-matching")


def schedule_step(stack: jax.Array, t, key, *, order: str) -> jax.Array:
    """``W_t`` of a (P, N, N) stack inside a compiled loop (``t`` traced): periodic, or drawn
    from the round's first split key (``order="random"``)."""
    period = stack.shape[0]
    if order == "periodic":
        index = jnp.mod(t, period)
    else:
        index = jax.random.randint(jax.random.split(jax.random.fold_in(key, t))[0], (), 0, period)
    return lax.dynamic_index_in_dim(stack, index, keepdims=False)
