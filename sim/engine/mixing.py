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

Rates reported for every matrix: :attr:`Mixing.slem` (second-largest eigenvalue modulus),
:attr:`Mixing.spectral_gap` ``= 1 - slem``, :attr:`Mixing.second_singular_value` ``σ_2(W)`` and
:attr:`Mixing.contraction` ``= ‖(I - J) W (I - J)‖_2`` (``J = 11ᵀ/N``), the factor by which
one mixing step shrinks the consensus distance ``‖(I - J) Θ‖_F`` of any stacked parameters
``Θ``; for a doubly stochastic ``W`` it equals ``σ_2(W)``.

>>> import jax
>>> from sim.engine.topology import make_topology
>>> mix = mixing_matrix(make_topology("ring", 8), "metropolis-hastings")
>>> bool(mix.doubly_stochastic), round(mix.second_singular_value, 4)
(True, 0.8047)
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

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
        """``‖(I - J) W (I - J)‖_2``: one row-stochastic mixing step multiplies the consensus
        distance by at most this factor (``σ_2(W)`` when ``W`` is doubly stochastic). For
        push-sum the step matrix changes every round; this is the value of its first round."""
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
        deg = sizes - 1
        w = topology.adjacency / (1.0 + np.maximum(deg[:, None], deg[None, :]))
        w = w + np.diag(1.0 - w.sum(axis=1))
    else:  # push-sum
        w = closed / sizes[None, :]
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
