"""Connectivity studies: how the DecL and FL models' representability depends on the graph
(Corollary 4.5, Theorem 4.6, the DecL bounds of Theorems 4.2 and 4.3, and the Table 6
analogue).

Measurement only: sizes, graphs, the jitted programs and the arrays they return; the verdicts
are the ledger's business. Every draw (data, graphs, the dissimilar augmentation ``H``,
initialisations, FedAvg's client selection) comes from the explicit ``key``, split by purpose,
so a study is reproducible from its sizes and its key.

DecL readings measured (every linear objective's expected loss is linear in the second moment
``S``, so the closed forms need only ``S``):

- ``objective-eq1``: the stationary point of Eq. 1, ``Σ_j π_j S_j`` (closed form);
- ``per-neighbourhood``: client ``i``'s stationary point of ``(1/|A_i|) Σ_{j∈A_i} S_j``
  (closed form);
- ``gossip``: D-PSGD trained on each client's exact expected loss (its client matrix ``X_i``,
  normalised by the largest eigenvalue of the clients' mean so that one learning rate fits
  every objective; the stationary row space is scale-free), uniform mixing ``1/|A_i|``
  (Assumption A.3), then the global average. FL for this reading is the same dynamics on the
  complete graph; FedAvg with partial participation is trained alongside.

Topology kinds: ``uniform`` (random regular graphs) and ``general`` (the reference code's
spanning-tree generator), at the study's target ``|Ā|``; every seed draws new data, graphs,
dissimilar-augmentation transform ``H`` and initialisations (a random ``H`` is part of the
trial: one per study would make every seed a statement about one draw), and all readings of
one seed share the data (paired comparisons).

Samples (``study.samples``): each client's second moment is that of ``n = d`` drawn samples, or
is drawn exactly at ``d^1.5`` or ``d^2`` main samples (`sim.linear.suffstats.sample_second_moments`,
cost independent of ``n``), or is its expectation (``population``; the proofs concentrate ``S`` around it).

Hypotheses measured per model: the number of positive eigenvalues of the matrix ``row(W)`` is
fitted to (Assumption A.5 needs ``c`` of them, ``rank W = c``; for Eq. 3 the rank of the
cross-moment ``Σ_vu``), and, for trained runs, divergence (a non-finite loss or encoder): such
a run's representabilities are NaN and it is flagged, never raised.
"""

from __future__ import annotations

import dataclasses
import functools
import zlib
from typing import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

import sim
from sim import checks
from sim.data import draws
from sim.data.masks import MASK_RATIO
from sim.engine import xla
from sim.linear.matrices import SUBSPACE_RESOLUTION, TRANSFORMS, encoder_fit
from sim.linear.objective import BUILTIN_OBJECTIVES, as_objectives, get_objective
from sim.engine.mixing import MIXING_RULES, eq1_moment, mixing_matrix, neighbourhood_moments
from sim.linear.losses import alignment_matrix_loss, encoder_row_space, init_linear_params
from sim.linear.solvers import eigenvalue_count
from sim.linear.suffstats import population_second_moments, sample_second_moments
from sim.engine.topology import make_topology
from sim.engine.train import TrainConfig, decl_program, fedavg_program

#: Built-in objectives whose expected loss is an alignment loss (trainable by gradient on the
#: exact client matrix); Eq. 3's reconstruction, a regression, has its own solver.
ALIGNMENT_OBJECTIVES: tuple[str, ...] = tuple(o.name for o in BUILTIN_OBJECTIVES if o.kind != "regression")
#: Topology kind -> :func:`sim.make_topology` family.
TOPOLOGY_KINDS: Mapping[str, str] = {"uniform": "regular", "general": "reference"}
SENSITIVITIES: tuple[str, ...] = sim.SENSITIVITY_VARIANTS
#: Samples readings: main samples per client ``n = d^beta`` (beta 1, 1.5, 2) or the population.
SAMPLES: Mapping[str, float | None] = {"n=d": 1.0, "n=d^1.5": 1.5, "n=d^2": 2.0, "population": None}
#: Eigenvalues within this fraction of the moment's largest diagonal entry are rounding, not
#: positive (the population matrices of Eq. 4 vanish exactly off the class block).
RANK_TOLERANCE = 1e-9

Progress = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class ConnectivityStudy:
    """One sweep over average connectivity: data model at ``(N, d)``, encoder width ``c``
    (default ``2N``), the mask ratio ``mask_ratio`` (the paper's ``p``; default `sim.MASK_RATIO`),
    target ``|Ā|`` levels (the last one ``N`` = FL), seeds, the samples readings measured by the closed forms (see :data:`SAMPLES`), and the
    gossip training schedule (``train_objectives`` are trained at ``n = d``; the closed-form
    readings cover every objective).

    Every field is checked at construction (a ``ValueError`` naming field, value and allowed
    range); integers accept NumPy and JAX integer scalars and integral floats, not bools or 2.7.

    >>> ConnectivityStudy(N=4, d=12, levels=(3, 4), n_seeds=2).c
    8
    >>> ConnectivityStudy(N=4, d=12, levels=(2, 4), n_seeds=2)
    Traceback (most recent call last):
    ...
    ValueError: ConnectivityStudy.levels = (2, 4) is out of range: must increase strictly, each an integer in [3, 4] (a connected graph on N > 2 clients has |A| >= 3 for a regular graph and |Ā| > 2 otherwise), and end at N = 4 (FL)
    """

    N: int
    d: int
    levels: tuple[int, ...]
    n_seeds: int
    c: int | None = None
    mask_ratio: float = MASK_RATIO
    transform: str = "subspace-rotation"
    rounds: int = 20
    local_steps: int = 5
    learning_rate: float = 0.1
    train_objectives: tuple[str, ...] = ALIGNMENT_OBJECTIVES
    fl_clients_per_round: int | None = None
    samples: tuple[str, ...] = ("n=d",)

    def __post_init__(self):
        def field(name, value):
            object.__setattr__(self, name, value)

        def integer(name, value, low, high=None, allowed=None):
            return checks.integer(f"ConnectivityStudy.{name}", value, minimum=low, maximum=high, allowed=allowed)

        N = integer("N", self.N, 2)
        field("N", N)
        # c in [2N, d] (the 2N class coordinates must fit, Section 3.3), so d >= 2N.
        d = integer("d", self.d, 2 * N, allowed=f">= 2N = {2 * N}")
        field("d", d)
        field("c", integer("c", 2 * N if self.c is None else self.c, 2 * N, d, allowed=f"in [2N, d] = [{2 * N}, {d}]"))
        field("mask_ratio", checks.real("ConnectivityStudy.mask_ratio", self.mask_ratio, low=0, high=1, closed=False))
        field("transform", checks.choice("ConnectivityStudy.transform", self.transform, TRANSFORMS))
        field("n_seeds", integer("n_seeds", self.n_seeds, 2))
        field("rounds", integer("rounds", self.rounds, 1))
        field("local_steps", integer("local_steps", self.local_steps, 1))
        field("learning_rate", checks.real("ConnectivityStudy.learning_rate", self.learning_rate, low=0, closed=False))
        if self.fl_clients_per_round is not None:
            field("fl_clients_per_round", integer("fl_clients_per_round", self.fl_clients_per_round, 1, N))
        # Assumption A.1 with a connected graph: N > 2 clients need |A_i| >= 3 on a regular graph,
        # and a spanning tree alone already gives |Ā| = 3 - 2/N > 2.
        low = 3 if N > 2 else 2
        levels_text = (f"must increase strictly, each an integer in [{low}, {N}] (a connected graph on N > 2 clients "
                       "has |A| >= 3 for a regular graph and |Ā| > 2 otherwise), and end at N = "
                       f"{N} (FL)")
        fail = ValueError(f"ConnectivityStudy.levels = {self.levels!r} is out of range: {levels_text}")
        if isinstance(self.levels, (str, bytes)) or not hasattr(self.levels, "__iter__"):
            raise fail
        try:
            levels = tuple(integer("levels", a, low, N, allowed=f"in [{low}, {N}]") for a in self.levels)
        except ValueError:
            raise fail from None
        if not levels or list(levels) != sorted(set(levels)) or levels[-1] != N:
            raise fail
        field("levels", levels)
        for name, choices in (("train_objectives", ALIGNMENT_OBJECTIVES), ("samples", tuple(SAMPLES))):
            value = getattr(self, name)
            if isinstance(value, str) or not hasattr(value, "__iter__"):
                raise ValueError(f"ConnectivityStudy.{name} = {value!r} is out of range: must be a non-empty tuple of "
                                 f"distinct names from {choices}")
            value = tuple(value)
            if not value or len(set(value)) != len(value) or not all(isinstance(v, str) and v in choices for v in value):
                raise ValueError(f"ConnectivityStudy.{name} = {value!r} is out of range: must be a non-empty tuple of "
                                 f"distinct names from {choices}")
            field(name, value)
        self.data()  # the data model's own checks, now rather than inside a jitted program

    def memory_bytes(self) -> int:
        """The memory `measure` needs, estimated from the sizes: per seed, the ``N`` clients'
        ``d x d`` second moments and those of every model fitted from them (FL, then Eq. 1 and
        each neighbourhood on each of the ``G`` graphs: ``1 + G (N + 1)``), and each model's
        eigenvectors, in float64."""
        graphs = len(TOPOLOGY_KINDS) * (len(self.levels) - 1) + 1
        return 8 * self.n_seeds * self.d * self.d * (self.N + 2 * (1 + graphs * (self.N + 1)))

    def check_memory(self, *, limit: float | None = None) -> None:
        """ValueError (naming the fields) if `memory_bytes` exceeds ``limit`` bytes (default:
        this machine's memory), before anything is allocated."""
        checks.memory(f"ConnectivityStudy(N = {self.N}, d = {self.d}, n_seeds = {self.n_seeds}, "
                      f"levels = {self.levels})", self.memory_bytes(), limit=limit,
                      formula="8 bytes x n_seeds d^2 (N + 2 (1 + G (N + 1))), G graphs")

    def data(self, samples: str = "n=d") -> sim.DataConfig:
        """The data model with ``n = d^beta`` main samples per client (``population``: the
        ``n = d`` configuration, whose expectation is taken)."""
        beta = SAMPLES[samples]
        if beta is None or beta == 1.0:
            return sim.DataConfig(d=self.d, N=self.N)
        n = round(self.d ** beta)
        return sim.DataConfig(d=self.d, N=self.N, n=n + n % 2)

    def train_config(self, clients_per_round: int | None = None) -> TrainConfig:
        return TrainConfig(rounds=self.rounds, local_steps=self.local_steps, batch_size=None,
                           learning_rate=self.learning_rate, clients_per_round=clients_per_round)


def _subkey(key: jax.Array, purpose: str) -> jax.Array:
    """The key of one purpose (data, graphs, ...): derived from its name, not from the order of
    the draws, so adding a purpose leaves the others' draws unchanged."""
    return jax.random.fold_in(key, zlib.crc32(purpose.encode()))


def _graph_key(key: jax.Array, *indices: int) -> jax.Array:
    """The key of one graph, from its seed and its (kind, level): not its position in a grid."""
    return _fold_in_path(key, jnp.asarray(indices, jnp.uint32))


@jax.jit  # one dispatch per key (a default sweep derives about 400), not one fold_in op each
def _fold_in_path(key, indices):
    for i in indices:
        key = jax.random.fold_in(key, i)
    return key


# ----------------------------------------------------------------------------- graphs


@dataclasses.dataclass(frozen=True)
class Graphs:
    """The graphs of one sweep: ``kinds[g]``, ``levels[g]`` (target ``|Ā|``), and per seed the
    realised ``|Ā|`` (seeds, G), ``|A_i|`` (seeds, G, N) and uniform mixing (seeds, G, N, N)."""

    kinds: tuple[str, ...]
    levels: tuple[int, ...]
    avg: np.ndarray
    sizes: np.ndarray
    weights: np.ndarray

    def index(self, kind: str) -> list[int]:
        """Graph indices of ``kind`` in increasing ``|Ā|`` (the complete graph included)."""
        return [g for g, k in enumerate(self.kinds) if k in (kind, "complete")]


def build_graphs(study: ConnectivityStudy, *, key: jax.Array) -> Graphs:
    """Per seed: one graph per (kind, level < N), plus the complete graph (level N, FL)."""
    kinds = [kind for kind in TOPOLOGY_KINDS for _ in study.levels[:-1]] + ["complete"]
    levels = [a for _ in TOPOLOGY_KINDS for a in study.levels[:-1]] + [study.N]
    kind_no = {kind: i for i, kind in enumerate([*TOPOLOGY_KINDS, "complete"])}
    tops = [[make_topology(TOPOLOGY_KINDS.get(kind, kind), study.N, avg_connectivity=a,
                           key=_graph_key(key, s, kind_no[kind], a))
             for kind, a in zip(kinds, levels)] for s in range(study.n_seeds)]
    return Graphs(tuple(kinds), tuple(levels),
                  np.array([[t.avg_connectivity for t in row] for row in tops]),
                  np.array([[t.neighbourhood_sizes for t in row] for row in tops]),
                  np.array([[mixing_matrix(t, "uniform").weights for t in row] for row in tops]))


# ----------------------------------------------------------------------------- jitted programs


def _second_moments(study: ConnectivityStudy, samples: str, key) -> jax.Array:
    """Every seed's client second moments (seeds, N, d, d) under the samples reading: exact
    draws at ``n = d^beta`` (one key per seed) or the population moments, shared by every seed."""
    data = study.data(samples)
    if SAMPLES[samples] is None:
        return jnp.broadcast_to(population_second_moments(data), (study.n_seeds, study.N, study.d, study.d))
    keys = jax.random.split(key, study.n_seeds)
    if SAMPLES[samples] == 1.0:  # n = d: drawing the samples is as cheap as the exact draw of S
        return _sampled_moments(keys, data=data)
    return jax.vmap(lambda k: sample_second_moments(data, key=k))(keys)


@functools.partial(xla.jit, static_argnames=("data",))  # loop emitters: `sim.engine.xla`
def _sampled_moments(keys, *, data):
    return jax.vmap(lambda k: sim.second_moment(sim.sample_clients(data, key=k)[0]))(keys)


@jax.jit
def _model_moments(S, W, fitted):
    """The moments of the closed-form models ``fitted`` (indices into (1 + G + G N); see
    `_distinct_models`), (seeds, len(fitted), d, d): model 0 is FL's mean, then Eq. 1's
    ``Σ_j π_j S_j`` per graph, then each client's neighbourhood average per graph."""
    n_seed, n_graph, n = W.shape[0], W.shape[1], W.shape[2]
    d = S.shape[-1]
    S_fl = jnp.mean(S, axis=1)[:, None]
    S_eq1 = jax.vmap(jax.vmap(eq1_moment, (None, 0)))(S, W)
    S_nb = jax.vmap(jax.vmap(neighbourhood_moments, (None, 0)))(S, W).reshape(n_seed, n_graph * n, d, d)
    return jnp.concatenate([S_fl, S_eq1, S_nb], axis=1)[:, fitted]  # selected here: no gather op by op


def _fit(M, H, *, objective, c, p):
    """``row(W)`` (d, c) at the stationary point fitted to the moment ``M``, the number of
    positive eigenvalues of the matrix it is the top-c eigenspace of (Assumption A.5 needs
    ``c``; -1 for Eq. 3, whose count is `_cross_moment_rank`'s), and the spread of each ``r_k``
    over the stationary points (`sim.linear.matrices.encoder_fit`; 0 where the top-c eigenspace is unique)."""
    scale = RANK_TOLERANCE * jnp.max(jnp.diagonal(M))
    fit = encoder_fit(M, objective, c, p=p, H=H, above=scale)
    count = fit.count if objective.kind != "regression" else jnp.asarray(-1, fit.count.dtype)
    return fit.subspace, count, fit.spread


def _distinct_models(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which models of `_model_moments` are fitted (``fitted``, indices into its model axis), and
    for every model the position in ``fitted`` whose fit it takes (``source``).

    A graph whose closed neighbourhoods all carry the same weights, in every seed (the complete
    graph, ``|A_i| = N``, under a mixing rule that treats clients alike) gives ``N`` copies of
    one moment ``Σ_j W_ij S_j`` (bitwise: identical weight rows, the same operations): it is
    fitted once and the fit shared (default sizes: 129 fits per seed and objective, not 148).
    Every other model is fitted on its own; FL's mean, the same matrix in exact arithmetic as the
    complete graph's neighbourhoods, is fitted separately as before (its rounding differs)."""
    n_graph, N = weights.shape[1], weights.shape[2]
    alike = np.all(weights == weights[:, :, :1, :], axis=(0, 2, 3))  # (G,)
    fitted, source = list(range(1 + n_graph)), list(range(1 + n_graph))
    for g in range(n_graph):
        first = 1 + n_graph + g * N
        rows = [first] if alike[g] else range(first, first + N)
        for row in rows:
            fitted.append(row)
            source.extend([len(fitted) - 1] * (N if alike[g] else 1))
    return np.asarray(fitted), np.asarray(source)


@functools.partial(xla.jit, static_argnames=("objective", "c", "p"))  # loop emitters: `sim.engine.xla`
def _closed_form(M, H, *, objective, c, p):
    """Representability (seeds, models, d), A.5 eigenvalue count (seeds, models) and spread of
    r_k over the stationary points (seeds, models, d) of every model of `_model_moments` (see
    `_fit`), H (seeds, d, d) one per seed.

    All moments go through ONE batched solver call: jaxlib 0.10's CPU LAPACK kernels split a
    batch over the intra-op thread pool and wait for it, so two independent LAPACK calls in
    flight at once can take every pool thread and deadlock (seen on 2 cores). One objective per
    program, one batch per program, keeps a single chain of LAPACK calls.
    """
    fit = functools.partial(_fit, objective=objective, c=c, p=p)
    V, count, spread = jax.vmap(lambda Ms, h: jax.vmap(lambda m: fit(m, h))(Ms))(M, H)
    return sim.representability(V), count, spread


@jax.jit
def _cross_moment_rank(M):
    """Rank of Eq. 3's cross-moment ``Σ_vu ∝ S - diag S`` per model (the reduced-rank
    regression's encoder has rank c only if it is >= c; Assumption A.5). A separate program:
    see `_closed_form` on LAPACK calls in flight."""
    off = M - jax.vmap(jax.vmap(lambda m: jnp.diag(jnp.diagonal(m))))(M)
    scale = RANK_TOLERANCE * jnp.max(jnp.diagonal(M, axis1=-2, axis2=-1), axis=-1)
    return eigenvalue_count(off, scale)  # |eigenvalue| > scale, without the eigenvectors (5x cheaper)


def _client_matrices(S, H, *, objective, p):
    """Client matrices ``X_i`` (seeds, N, d, d) of ``objective`` from second moments
    (seeds, N, d, d), with each seed's transform ``H`` (seeds, d, d)."""
    return jax.vmap(lambda Ss, h: jax.vmap(lambda m: sim.client_matrix(m, objective, p=p, H=h))(Ss))(S, H)


def _init(key, d, c):
    # One linear encoder shape serves every alignment objective (its loss is X-quadratic).
    return init_linear_params("cl-similar", d, c, key=key)


def _gossip(X, W, key, *, cfg, c, push_sum=False):
    """One D-PSGD run on the expected alignment losses ``X`` (N, d, d) with mixing ``W``:
    the global encoder and the losses (rounds, N)."""
    n, d = X.shape[0], X.shape[1]
    run = decl_program(_init(key, d, c), X, jnp.ones((n, d), dtype=bool), W, key, loss_fn=alignment_matrix_loss,
                       cfg=cfg, push_sum=push_sum)
    return run.global_params["encoder"], run.losses


def _diverged(losses, participation, r) -> np.ndarray:
    """Per run (leading axis): a non-finite loss of a participating client or a non-finite
    representability (the final encoder) — divergence, reported and never raised."""
    losses, r = np.asarray(losses), np.asarray(r)
    bad = ~np.isfinite(losses) & np.asarray(participation, dtype=bool)
    return bad.reshape(bad.shape[0], -1).any(axis=1) | ~np.isfinite(r).reshape(r.shape[0], -1).all(axis=1)


@functools.partial(xla.jit, static_argnames=("objectives", "cfg", "fl_cfg", "c", "p"))  # loop emitters: `sim.engine.xla`
def _train_measure(S, W, H, key, *, objectives, cfg, fl_cfg, c, p):
    """Gossip (every graph) and FedAvg (once per seed) on the expected losses of ``objectives``.

    Returns representabilities ``r_dec`` (objs, seeds, G, d), ``r_fl`` (objs, seeds, d), the
    closed-form FL model's ``r_ref`` (objs, seeds, d), the subspace distances of the
    complete-graph run and of FedAvg to the closed-form FL subspace (objs, seeds), the A.5
    positive-eigenvalue count of the clients' mean matrix (objs, seeds), and the loss /
    participation arrays for the divergence check. LAPACK calls form one chain (one batched
    eigh before training, one batched SVD after): see `_closed_form` for why.
    """
    n_obj, (n_seed, n, d) = len(objectives), S.shape[:3]
    n_graph = W.shape[1]
    X = jnp.stack([_client_matrices(S, H, objective=o, p=p) for o in objectives])
    lam, vecs = jnp.linalg.eigh(jnp.mean(X, axis=2))  # (objs, seeds, d), ascending
    scale = RANK_TOLERANCE * jnp.max(jnp.diagonal(jnp.mean(S, axis=1), axis1=-2, axis2=-1), axis=-1)  # (seeds,)
    positive = jnp.sum(lam > scale[None, :, None], axis=-1)
    V_ref = vecs[..., ::-1][..., :c]  # closed-form FL row space: top-c eigenspace of the mean X
    X = X / lam[..., -1][:, :, None, None, None]

    def fed(Xs, k_init, k_select):
        run = fedavg_program(_init(k_init, d, c), Xs, jnp.ones((n, d), dtype=bool), k_select,
                             loss_fn=alignment_matrix_loss, cfg=fl_cfg)
        return run.global_params["encoder"], run.losses, run.participation

    # Common random numbers: one initialisation per (objective, seed), shared by every graph and
    # by FedAvg, so that differences between graphs are the topology's, not the init's.
    k_init, k_select = jax.random.split(key)
    init_keys = jax.random.split(k_init, n_obj * n_seed)
    X_dec = jnp.broadcast_to(X[:, :, None], (n_obj, n_seed, n_graph, n, d, d)).reshape(-1, n, d, d)
    W_dec = jnp.broadcast_to(W[None], (n_obj,) + W.shape).reshape(-1, n, n)
    g_dec, loss_dec = jax.vmap(functools.partial(_gossip, cfg=cfg, c=c))(X_dec, W_dec, jnp.repeat(init_keys, n_graph, axis=0))
    g_fl, loss_fl, part_fl = jax.vmap(fed)(X.reshape(-1, n, d, d), init_keys, jax.random.split(k_select, n_obj * n_seed))
    # Row spaces of every trained encoder in one batched SVD; a diverged encoder is zeroed first
    # (its r is set to NaN from the flag) so that the SVD sees finite input.
    enc = jnp.concatenate([g_dec, g_fl])
    finite = jnp.all(jnp.isfinite(enc.reshape(enc.shape[0], -1)), axis=1)
    V = jax.vmap(encoder_row_space)(jnp.where(finite[:, None, None], enc, jnp.eye(c, d)[None]))
    r = jnp.where(finite[:, None], sim.representability(V), jnp.nan)
    V_dec = V[: g_dec.shape[0]].reshape(n_obj, n_seed, n_graph, d, c)
    V_fl = V[g_dec.shape[0]:].reshape(n_obj, n_seed, d, c)
    dist = jax.vmap(jax.vmap(sim.subspace_distance))
    return (r[: g_dec.shape[0]].reshape(n_obj, n_seed, n_graph, d), r[g_dec.shape[0]:].reshape(n_obj, n_seed, d),
            sim.representability(V_ref), dist(V_dec[:, :, -1], V_ref), dist(V_fl, V_ref), positive, loss_dec,
            loss_fl, part_fl)


@functools.partial(xla.jit, static_argnames=("objective", "cfg", "c", "p", "push_sum"))  # loop emitters: `sim.engine.xla`
def _consensus_train(S, W, H, keys, *, objective, cfg, c, p, push_sum):
    """Gossip runs (runs, N, d, d) x (runs, N, N), H (runs, d, d), on the normalised expected
    loss; returns the global models' representability (NaN for a non-finite encoder) and the losses."""
    X = _client_matrices(S, H, objective=objective, p=p)
    X = X / jnp.linalg.eigvalsh(jnp.mean(X, axis=1))[:, -1][:, None, None, None]
    enc, losses = jax.vmap(functools.partial(_gossip, cfg=cfg, c=c, push_sum=push_sum))(X, W, keys)
    finite = jnp.all(jnp.isfinite(enc.reshape(enc.shape[0], -1)), axis=1)
    V = jax.vmap(encoder_row_space)(jnp.where(finite[:, None, None], enc, jnp.eye(c, enc.shape[-1])[None]))
    return jnp.where(finite[:, None], sim.representability(V), jnp.nan), losses


@functools.partial(jax.jit, static_argnames=("N", "c"))
def _sensitivities(r, clients, *, N, c):
    """Every sensitivity variant of every representability vector: r (M, d), clients (M,)
    (-1 for a global model) -> (variants, M)."""
    return jnp.stack([
        jax.vmap(lambda v, i, var=var: sim.sensitivity(v, var, N=N, c=c, client=i))(r, clients)
        for var in SENSITIVITIES
    ])


def _transforms(study: ConnectivityStudy, key) -> jax.Array:
    """One dissimilar-augmentation ``H`` per seed (seeds, d, d), each the first draw from that
    seed's key that satisfies Assumption A.9 (``tr(P H_sym P) > 0``; a Haar rotation violates
    it about half the time), so A.9 holds on every trial by construction."""
    out = []
    for seed in range(study.n_seeds):
        for attempt in range(100):
            H, trace = _candidate_transform(key, seed, attempt, kind=study.transform, d=study.d, c=study.c)
            if float(trace) > 0:
                break
        else:
            sim.check_transform(H, study.c)  # raises with the library's message
        out.append(np.asarray(H))
    return jnp.asarray(np.stack(out))


@functools.partial(jax.jit, static_argnames=("kind", "d", "c"))
def _candidate_transform(key, seed, attempt, *, kind, d, c):
    """Candidate ``attempt`` of seed ``seed`` and its A.9 trace, in one dispatch (drawn op by op,
    a Haar rotation is about 30 dispatches and a default sweep draws 120)."""
    H = sim.make_transform(kind, d, key=jax.random.fold_in(jax.random.fold_in(key, seed), attempt), dim=c)
    return H, sim.transform_trace(H, c)


# ----------------------------------------------------------------------------- the sweep


@dataclasses.dataclass(frozen=True)
class Sweep:
    """Everything measured on one connectivity study (arrays; the leading axis is the seed).

    ``r[reading][objective]``: representability vectors — ``objective-eq1`` and ``gossip``
    (seeds, G, d) global models, ``per-neighbourhood`` (seeds, G, N, d); ``r_fl[objective]``
    (seeds, d) the closed-form FL model (closed-form sweeps).
    ``s[reading][objective][variant]``: the reading's sensitivity (seeds, G) (mean over clients
    for ``per-neighbourhood``). ``s_fl[reading][objective][variant]`` (seeds,): FL's — the
    closed-form FL model for the closed-form readings, the complete-graph run for ``gossip``.
    ``r_fedavg[objective]`` (seeds, d): FedAvg-trained (partial participation);
    ``fedavg_distance`` / ``gossip_distance``: (subspace distance, max class-coordinate
    ``|r - r_FL|``), each (seeds,), of FedAvg / of the complete-graph gossip run to the
    closed-form FL model. ``tr_H`` (seeds,): ``tr(P H_sym P)`` of each seed's transform
    (Assumption A.9); ``samples``: the samples reading of the moments; ``positive[reading]
    [objective]`` (the layout of ``r`` without its last axis) and ``positive_fl[objective]``
    (seeds,): the number of positive eigenvalues of the matrix each model is fitted to
    (Assumption A.5 needs ``c``; a trained model counts its clients' mean matrix);
    ``diverged[objective]`` (seeds, G) and ``fedavg_diverged[objective]`` (seeds,): trained runs
    that diverged (their ``r`` and ``s`` are NaN). ``spread[reading][objective]`` (the layout of
    ``r``, closed-form readings) and ``spread_fl[objective]`` (seeds, d): ``r_k^max - r_k^min``
    over the model's stationary points — 0 where its top-c eigenspace is unique; where it is
    not (a tie at c), ``r`` is the eigen-solver's choice among them (see `determined`).
    ``pi_deviation``
    (seeds, G): ``max_j |π_j - 1/N|`` of Eq. 1's weights; ``eq1_fl_difference[objective]``
    (seeds, G): ``max_k |r_k(Eq. 1) - r_k(FL)|``. ``trial_priority`` (seeds, G, N): a uniform
    draw per (graph, client), the order in which equally eligible trials are chosen when one
    trial per seed is tested.
    """

    study: ConnectivityStudy
    graphs: Graphs
    r: Mapping[str, Mapping[str, np.ndarray]]
    r_fl: Mapping[str, np.ndarray]
    s: Mapping[str, Mapping[str, Mapping[str, np.ndarray]]]
    s_fl: Mapping[str, Mapping[str, Mapping[str, np.ndarray]]]
    r_fedavg: Mapping[str, np.ndarray]
    fedavg_distance: Mapping[str, tuple[np.ndarray, np.ndarray]]
    gossip_distance: Mapping[str, tuple[np.ndarray, np.ndarray]]
    tr_H: np.ndarray
    pi_deviation: np.ndarray
    eq1_fl_difference: Mapping[str, np.ndarray]
    trial_priority: np.ndarray
    samples: str = "n=d"
    positive: Mapping[str, Mapping[str, np.ndarray]] = dataclasses.field(default_factory=dict)
    positive_fl: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
    diverged: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
    fedavg_diverged: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
    spread: Mapping[str, Mapping[str, np.ndarray]] = dataclasses.field(default_factory=dict)
    spread_fl: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def determined(self, reading: str, objective: str, coordinates: str) -> np.ndarray:
        """Whether the statistic of each model of ``reading`` (the layout of ``positive``) is the
        model's, not the eigen-solver's: every ``r_k`` it reads has a spread over the stationary
        points of at most `sim.linear.matrices.SUBSPACE_RESOLUTION` (1e-6, the scale the
        representabilities are compared at). ``coordinates``: a sensitivity variant of
        `SENSITIVITIES` (``"paper-c"`` reads ``k < c``, ``"class"`` ``k < N``, ``"proof"`` ``k < N``
        without a neighbourhood model's own client — also the coordinates of Theorems 4.2 / 4.3).
        A trained model (``gossip``) is one point: always True."""
        spread = self.spread.get(reading, {}).get(objective)
        if spread is None:
            return np.ones(self.positive[reading][objective].shape, bool)
        return _within_resolution(spread, coordinates, N=self.study.N, c=self.study.c,
                                  local=reading == "per-neighbourhood")

    def determined_fl(self, objective: str, coordinates: str) -> np.ndarray:
        """`determined` for the closed-form FL model (seeds,)."""
        spread = self.spread_fl.get(objective)
        if spread is None:
            return np.ones(self.positive_fl[objective].shape, bool)
        return _within_resolution(spread, coordinates, N=self.study.N, c=self.study.c, local=False)

    def sensitivity(self, reading: str, objective: str, variant: str) -> np.ndarray:
        """Sensitivity (seeds, G) of the DecL model under ``reading`` (mean over clients for
        ``per-neighbourhood``)."""
        return self.s[reading][objective][variant]

    def fl_sensitivity(self, reading: str, objective: str, variant: str) -> np.ndarray:
        """FL's sensitivity (seeds,) as ``reading`` sees it (see the class docstring)."""
        return self.s_fl[reading][objective][variant]


def _within_resolution(spread: np.ndarray, coordinates: str, *, N: int, c: int, local: bool) -> np.ndarray:
    """`Sweep.determined` on a spread array (..., d); ``local``: (..., N, d), client on the
    second-last axis, whose own coordinate ``"proof"`` leaves out."""
    if coordinates not in SENSITIVITIES:
        raise ValueError(f"coordinates = {coordinates!r} is unknown; choose one of {SENSITIVITIES}")
    block = np.asarray(spread)[..., : c if coordinates == "paper-c" else N]
    if coordinates == "proof" and local:
        block = np.where(np.eye(N, dtype=bool), 0.0, block)
    return np.all(block <= SUBSPACE_RESOLUTION, axis=-1)


def _all_sensitivities(study: ConnectivityStudy, r: dict, r_fl: dict):
    """Sensitivities of every model in one jitted call (one compile per sweep)."""
    N, d = study.N, study.d
    s: dict = {}
    s_fl: dict = {}
    parts, index = [], []

    def add(target, reading, obj, arr, local):
        clients = np.broadcast_to(np.arange(N), arr.shape[:-1]) if local else np.full(arr.shape[:-1], -1)
        parts.append((arr.reshape(-1, d), clients.reshape(-1)))
        index.append((target, reading, obj, arr.shape[:-1], local))

    for reading, by_obj in r.items():
        for obj, arr in by_obj.items():
            add(s, reading, obj, arr, reading == "per-neighbourhood")
    for obj, arr in r_fl.items():
        # FL as seen by the readings: a global model for objective-eq1; for per-neighbourhood the
        # same per-client sensitivity (own coordinate excluded under "proof"), averaged over clients.
        add(s_fl, "objective-eq1", obj, arr, False)
        add(s_fl, "per-neighbourhood", obj, np.broadcast_to(arr[:, None, :], (arr.shape[0], N, d)), True)
    if not parts:
        return s, s_fl
    flat = np.asarray(_sensitivities(jnp.asarray(np.concatenate([p[0] for p in parts])),
                                     jnp.asarray(np.concatenate([p[1] for p in parts]), dtype=int),
                                     N=N, c=study.c))
    start = 0
    for target, reading, obj, shape, local in index:
        size = int(np.prod(shape))
        block = flat[:, start:start + size].reshape((len(SENSITIVITIES),) + tuple(shape))
        start += size
        if local:
            block = block.mean(axis=-1)  # per-neighbourhood: mean over clients
        target.setdefault(reading, {})[obj] = {var: block[v] for v, var in enumerate(SENSITIVITIES)}
    if "gossip" in s:  # the complete-graph run is the gossip reading's FL
        s_fl["gossip"] = {obj: {var: val[:, -1] for var, val in by_var.items()} for obj, by_var in s["gossip"].items()}
    return s, s_fl


def _design(study: ConnectivityStudy, key: jax.Array) -> tuple[Graphs, jax.Array]:
    """The graphs and transforms of ``key``. The samples readings of one key share them (paired
    readings), so the design of the last (study, key) is cached (`_design_of`): the second
    reading does not rebuild 280 graphs and 40 conditioned draws of ``H`` (about 3 s at the
    default sizes). Its arrays are read-only."""
    typed = jnp.issubdtype(jnp.asarray(key).dtype, jax.dtypes.prng_key)
    data = np.asarray(jax.random.key_data(key) if typed else key)
    return _design_of(study, data.tobytes(), data.shape, str(data.dtype), jax.random.key_impl(key) if typed else None)


@functools.lru_cache(maxsize=1)
def _design_of(study: ConnectivityStudy, key_bytes: bytes, shape: tuple, dtype: str, impl) -> tuple[Graphs, jax.Array]:
    """`_design` of the key whose data is ``key_bytes`` (a typed key of ``impl``, or raw key
    data where ``impl`` is None): a pure function of hashable inputs."""
    data = np.frombuffer(key_bytes, dtype).reshape(shape)
    key = jax.random.wrap_key_data(data, impl=impl) if impl is not None else jnp.asarray(data)
    graphs = build_graphs(study, key=_subkey(key, "graphs"))
    for array in (graphs.avg, graphs.sizes, graphs.weights):
        array.flags.writeable = False
    return graphs, _transforms(study, _subkey(key, "transform"))


def measure(study: ConnectivityStudy, *, key: jax.Array, train: bool, samples: str = "n=d",
            progress: Progress | None = None, objectives=BUILTIN_OBJECTIVES) -> Sweep:
    """Closed-form readings (``objective-eq1``, ``per-neighbourhood``) for each of ``objectives``
    (`sim.linear.objective.Objective` values or names; default the five built-ins) under the
    samples reading ``samples``, or, with ``train``, the ``gossip`` reading and FedAvg for
    ``study.train_objectives`` (at ``n = d``). Graphs, transforms and trial order depend on
    ``key`` only, so the samples readings of one key are paired.

    >>> import jax
    >>> sw = measure(ConnectivityStudy(N=4, d=12, levels=(3, 4), n_seeds=2),
    ...              key=jax.random.key(0), train=False)
    >>> sw.sensitivity("objective-eq1", "mim-alignment", "class").shape
    (2, 3)
    """
    if samples not in SAMPLES:
        raise ValueError(f"samples = {samples!r} is out of range: must be one of {tuple(SAMPLES)}")
    if train and samples != "n=d":
        raise ValueError(f"samples = {samples!r} is out of range: the trained readings use 'n=d'")
    say = progress or (lambda message: None)
    study.check_memory()  # before the first allocation
    graphs, H = _design(study, key)
    S = _second_moments(study, samples, _subkey(key, "data" if samples == "n=d" else f"data {samples}"))
    W = jnp.asarray(graphs.weights)
    pi = graphs.weights.mean(axis=-2)  # Eq. 1 weights pi_j = (1/N) sum_i W_ij
    pi_dev = np.max(np.abs(pi - 1.0 / study.N), axis=-1)  # (seeds, G)
    priority = np.asarray(draws.uniform(_subkey(key, "trial-order"), graphs.sizes.shape))
    n_seed, n_graph, N = graphs.sizes.shape
    r: dict = {}
    positive: dict = {}
    spread: dict = {}
    spread_fl: dict = {}
    r_fl, positive_fl, eq1_fl, r_fedavg, fed_dist, gos_dist, diverged, fed_diverged = ({} for _ in range(8))
    if not train:
        r = {"objective-eq1": {}, "per-neighbourhood": {}}
        positive = {"objective-eq1": {}, "per-neighbourhood": {}}
        spread = {"objective-eq1": {}, "per-neighbourhood": {}}
        fitted, source = _distinct_models(graphs.weights)
        M = _model_moments(S, W, fitted)

        def split(a):  # model axis -> FL, Eq. 1 per graph, neighbourhoods per graph
            return a[:, 0], a[:, 1:1 + n_graph], a[:, 1 + n_graph:].reshape((n_seed, n_graph, N) + a.shape[2:])

        for objective in as_objectives(objectives):
            obj = objective.name
            rr, count, spread_ = (np.asarray(v)[:, source]
                                  for v in _closed_form(M, H, objective=objective, c=study.c, p=study.mask_ratio))
            if objective.kind == "regression":
                count = np.asarray(_cross_moment_rank(M))[:, source]
            r_fl[obj], r["objective-eq1"][obj], r["per-neighbourhood"][obj] = split(rr)
            positive_fl[obj], positive["objective-eq1"][obj], positive["per-neighbourhood"][obj] = split(count)
            spread_fl[obj], spread["objective-eq1"][obj], spread["per-neighbourhood"][obj] = split(spread_)
            eq1_fl[obj] = np.max(np.abs(r["objective-eq1"][obj] - r_fl[obj][:, None, :]), axis=-1)  # (seeds, G)
        say(f"connectivity: closed-form readings N={study.N} d={study.d} ({samples}), {study.n_seeds} seeds, "
            f"{len(graphs.kinds)} graphs")
    else:
        objectives = tuple(study.train_objectives)
        out = _train_measure(S, W, H, _subkey(key, "train"), objectives=objectives, cfg=study.train_config(),
                             fl_cfg=study.train_config(study.fl_clients_per_round), c=study.c,
                             p=study.mask_ratio)
        r_dec, r_fed, r_ref, d_gos, d_fed, count, loss_dec, loss_fl, part_fl = (np.asarray(v) for v in out)
        n_obj = len(objectives)
        bad_dec = _diverged(loss_dec, np.ones(loss_dec.shape, bool), r_dec.reshape(-1, study.d)).reshape(n_obj, n_seed, n_graph)
        bad_fed = _diverged(loss_fl, part_fl, r_fed.reshape(-1, study.d)).reshape(n_obj, n_seed)
        r_dec = np.where(bad_dec[..., None], np.nan, r_dec)
        r_fed = np.where(bad_fed[..., None], np.nan, r_fed)
        for o, obj in enumerate(objectives):
            r.setdefault("gossip", {})[obj] = r_dec[o]
            positive.setdefault("gossip", {})[obj] = np.broadcast_to(count[o][:, None], (n_seed, n_graph))
            positive_fl[obj] = count[o]
            diverged[obj], fed_diverged[obj] = bad_dec[o], bad_fed[o]
            r_fedavg[obj] = r_fed[o]
            fed_dist[obj] = (np.where(bad_fed[o], np.nan, d_fed[o]), np.max(np.abs(r_fed[o] - r_ref[o])[:, :N], axis=-1))
            gos_dist[obj] = (np.where(bad_dec[o][:, -1], np.nan, d_gos[o]),
                             np.max(np.abs(r_dec[o][:, -1] - r_ref[o])[:, :N], axis=-1))
        say(f"connectivity: gossip ({r_dec.shape[0] * r_dec.shape[1] * r_dec.shape[2]} runs, {int(bad_dec.sum())} "
            f"diverged) and FedAvg ({r_fed.shape[0] * r_fed.shape[1]} runs, {int(bad_fed.sum())} diverged) trained, "
            f"N={study.N} d={study.d}")
    s, s_fl = _all_sensitivities(study, r, r_fl)
    for obj, bad in diverged.items():  # a diverged run has no sensitivity (r is NaN)
        for var in SENSITIVITIES:
            s["gossip"][obj][var] = np.where(bad, np.nan, s["gossip"][obj][var])
            s_fl["gossip"][obj][var] = s["gossip"][obj][var][:, -1]
    tr_H = np.asarray(jax.vmap(lambda h: sim.transform_trace(h, study.c))(H))
    return Sweep(study, graphs, r, r_fl, s, s_fl, r_fedavg, fed_dist, gos_dist, tr_H, pi_dev, eq1_fl, priority,
                 samples, positive, positive_fl, diverged, fed_diverged, spread, spread_fl)


# ----------------------------------------------------------------------------- Table 6 analogue


@dataclasses.dataclass(frozen=True)
class ConsensusRow:
    """One consensus rule at one connectivity: sensitivities (seeds,) of the gossip-trained global
    model (``class`` and ``proof`` variants; NaN where the run diverged), the spectral gap of
    each seed's matrix, the realised ``|Ā|`` and which seeds' runs ``diverged``."""

    rule: str
    level: int
    s_class: np.ndarray
    s_proof: np.ndarray
    spectral_gap: np.ndarray
    avg_connectivity: np.ndarray
    diverged: np.ndarray


def _unequal_moments(study: ConnectivityStudy, key):
    """Second moments (seeds, N, d, d) and sample counts (seeds, N) of clients holding unequal
    amounts of data: each keeps a uniform fraction in [0.25, 1] of each of its two classes (and
    all its rare samples), so the data-size rule differs from the uniform one."""
    data, N, n_seeds = study.data(), study.N, study.n_seeds
    x, _ = jax.vmap(lambda k: sim.sample_clients(data, key=k))(jax.random.split(_subkey(key, "data"), n_seeds))
    half = data.n // 2
    keep = np.asarray(jnp.round(half * draws.uniform(_subkey(key, "keep"), (n_seeds, N), minval=0.25,
                                                          maxval=1.0))).astype(int)
    pos = np.arange(data.n_total)[None, None, :]
    kept = keep[..., None]
    mask = (pos < kept) | ((pos >= half) & (pos < half + kept)) | (pos >= data.n)
    sizes = mask.sum(axis=-1)
    xm = (np.asarray(x) * mask[..., None]).reshape(-1, data.n_total, study.d)
    S = np.einsum("snj,snk->sjk", xm, xm) / sizes.reshape(-1)[:, None, None]
    return jnp.asarray(S.reshape(n_seeds, N, study.d, study.d)), sizes


@dataclasses.dataclass(frozen=True)
class Consensus:
    """The Table 6 analogue: the study it was measured on and one row per (rule, |Ā|), FL
    (``rule="fl"``) last."""

    study: ConnectivityStudy
    rows: tuple[ConsensusRow, ...]


def consensus(study: ConnectivityStudy, *, key: jax.Array, objective="mim-alignment") -> Consensus:
    """Table 6 analogue: D-PSGD under each mixing rule of :data:`sim.MIXING_RULES` at the target
    ``|Ā|`` of ``study.levels[:-1]`` ("general" graphs), plus FL (``rule="fl"``, complete graph).
    Clients hold unequal amounts of data (see `_unequal_moments`). Trained on the exact expected
    loss of ``objective`` (normalised as in the gossip reading). Common random numbers: one
    graph per (seed, level) and one initialisation per seed, shared by all rules."""
    objective = get_objective(objective)
    if objective.kind == "regression":
        raise ValueError(f"objective={objective.name!r} is a regression (no alignment matrix to train on); choose "
                         f"one with an alignment matrix, e.g. one of {ALIGNMENT_OBJECTIVES}")
    N, d, n_seeds, levels = study.N, study.d, study.n_seeds, study.levels[:-1]
    S, sizes = _unequal_moments(study, key)
    H = _transforms(study, _subkey(key, "transform"))
    k_graphs = _subkey(key, "graphs")
    tops = {(s, a): make_topology(TOPOLOGY_KINDS["general"], N, avg_connectivity=a, key=_graph_key(k_graphs, s, a))
            for s in range(n_seeds) for a in levels}
    rows_meta, weights, push = [], [], []
    for rule in MIXING_RULES:
        for a in levels:
            for s in range(n_seeds):
                mixing = mixing_matrix(tops[s, a], rule, data_sizes=sizes[s])
                rows_meta.append((rule, a, s, mixing.spectral_gap, tops[s, a].avg_connectivity))
                weights.append(mixing.weights)
                push.append(mixing.push_sum)
    for s in range(n_seeds):
        rows_meta.append(("fl", N, s, 1.0, float(N)))
        weights.append(np.full((N, N), 1.0 / N))
        push.append(False)
    seeds = np.array([m[2] for m in rows_meta])
    push = np.array(push)
    # Per-run inputs gathered on the host (op by op, each gather compiles a program of its own).
    init_keys = jax.random.split(_subkey(key, "init"), n_seeds)
    S, H = np.asarray(S), np.asarray(H)
    r = np.zeros((len(rows_meta), d))
    bad = np.zeros(len(rows_meta), dtype=bool)
    for flag in (False, True):  # push-sum is a different (static) program
        sel = np.flatnonzero(push == flag)
        if sel.size == 0:
            continue
        r_sel, loss_sel = _consensus_train(S[seeds[sel]], np.stack(weights)[sel], H[seeds[sel]],
                                           draws.take_keys(init_keys, seeds[sel]), objective=objective,
                                           cfg=study.train_config(), c=study.c,
                                           p=study.mask_ratio, push_sum=bool(flag))
        r[sel] = np.asarray(r_sel)
        bad[sel] = _diverged(loss_sel, np.ones(loss_sel.shape, bool), r[sel])
    sens = np.asarray(_sensitivities(jnp.asarray(np.where(bad[:, None], 0.0, r)), jnp.full(r.shape[0], -1, dtype=int),
                                     N=N, c=study.c))
    sens = np.where(bad[None], np.nan, sens)
    table = []
    for rule in (*MIXING_RULES, "fl"):
        for a in (levels if rule != "fl" else (N,)):
            idx = [i for i, m in enumerate(rows_meta) if m[0] == rule and m[1] == a]
            table.append(ConsensusRow(rule, a, sens[SENSITIVITIES.index("class"), idx],
                                      sens[SENSITIVITIES.index("proof"), idx],
                                      np.array([rows_meta[i][3] for i in idx]), np.array([rows_meta[i][4] for i in idx]),
                                      bad[idx]))
    return Consensus(study, tuple(table))


__all__ = [
    "ALIGNMENT_OBJECTIVES",
    "ConnectivityStudy",
    "Consensus",
    "ConsensusRow",
    "Graphs",
    "SENSITIVITIES",
    "Sweep",
    "TOPOLOGY_KINDS",
    "build_graphs",
    "consensus",
    "measure",
]
