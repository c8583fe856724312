"""The linear study: closed-form stationary points of every objective for every client and for
FL's client-average objective (Theorems 4.2-4.4 at the client and objective level).

For each reading of the MIM objective and each CL augmentation, the encoder row space of every
client is the top-``c`` eigenspace of its client matrix (Eckart-Young; Eq. 3's reduced-rank
regression for the reconstruction reading), computed from sufficient statistics and vmapped
over clients and seeds.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from sim import checks
from sim.data import draws
from sim.data.config import DataConfig
from sim.data.masks import MASK_RATIO
from sim.data.model import sample_clients, second_moment
from sim.engine import xla
from sim.linear.matrices import TRANSFORMS, client_matrix, cluster_spread, make_transform, tied_at_c, transform_trace
from sim.linear.metrics import sensitivity
from sim.linear.objective import BUILTIN_OBJECTIVES, DrawPart, Objective, as_objectives
from sim.linear.suffstats import population_second_moments, sample_moments_at
from sim.linear.topc import DENSE_MAX_D as DENSE_CROSSOVER
from sim.linear.topc import top_eigenspace_matvec


#: The samples reading (reading 6): main samples per client ``n = d^beta`` (rounded up to even)
#: or the exact expectation ``E[S]`` at the ``n = d`` sizes.
SAMPLES: tuple[str, ...] = ("n=d", "n=d^1.5", "n=d^2", "population")
_BETA = {"n=d": 1.0, "n=d^1.5": 1.5, "n=d^2": 2.0}
#: The CL augmentation reading (reading 7): the matrix averaged over the Gaussian views, or one
#: sampled pair per sample as a finite batch sees it.
AUGMENTATIONS: tuple[str, ...] = ("expectation", "sampled")
#: Above this d the top-c eigenspace is computed matrix-free (`sim.linear.topc`), below by dense eigh.
DENSE_MAX_D = DENSE_CROSSOVER
#: Seeds per vmapped chunk: bounds the memory of the stacked client matrices.
SEED_CHUNK = 8


def samples_n(d: int, samples: str) -> int | None:
    """Main samples per client under the samples reading (None for ``population``)."""
    if samples not in SAMPLES:
        raise ValueError(f"samples={samples!r} must be one of {SAMPLES}")
    if samples == "population":
        return None
    n = math.ceil(d ** _BETA[samples] - 1e-9)
    return n + n % 2


@dataclasses.dataclass(frozen=True)
class LinearStudy:
    """What one linear study simulates: the data model, encoder width ``c``, the mask ratio
    ``mask_ratio`` (the paper's ``p``; default `sim.MASK_RATIO`),
    the dissimilar-augmentation transform ``H`` (kind and, for subspace rotations, its
    dimension; one draw per seed, conditioned on Assumption A.9), how many seeds, and the
    samples reading (``data.n`` is the ``n = d`` base; ``samples`` says how many are drawn)."""

    data: DataConfig
    c: int
    mask_ratio: float = MASK_RATIO
    transform: str = "subspace-rotation"
    transform_dim: int | None = None
    n_seeds: int = 64
    samples: str = "n=d"

    def __post_init__(self):
        if not isinstance(self.data, DataConfig):
            raise ValueError(f"LinearStudy.data = {self.data!r} is out of range: must be a sim.DataConfig")
        d, N = self.data.d, self.data.N
        field = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        field("c", checks.integer("LinearStudy.c", self.c, minimum=2 * N, maximum=d,
                                  allowed=f"with 2N <= c <= d, i.e. in [{2 * N}, {d}]"))
        field("mask_ratio", checks.real("LinearStudy.mask_ratio", self.mask_ratio, low=0, high=1, closed=False))
        field("transform", checks.choice("LinearStudy.transform", self.transform, TRANSFORMS))
        if self.transform_dim is not None:
            field("transform_dim", checks.integer("LinearStudy.transform_dim", self.transform_dim, minimum=1, maximum=d))
        field("n_seeds", checks.integer("LinearStudy.n_seeds", self.n_seeds, minimum=1))
        if not isinstance(self.samples, str):
            raise ValueError(f"LinearStudy.samples = {self.samples!r} is out of range: must be one of {SAMPLES}")
        samples_n(d, self.samples)  # validates the reading

    def memory_bytes(self, n_objectives: int = 5) -> int:
        """The memory `measure` needs, estimated from the sizes: per objective, a ``d x d``
        matrix and its eigenvectors for each client and the mean (``N + 1``) of the seed being
        solved, plus every seed's key and per-client results, in float64."""
        N, d = self.data.N, self.data.d
        return 8 * ((N + 1) * n_objectives * 2 * d * d + self.n_seeds * (2 + 8 * n_objectives * 8 * (N + 1)))

    def check_memory(self, *, limit: float | None = None, n_objectives: int = 5) -> None:
        """ValueError (naming the fields) if `memory_bytes` exceeds ``limit`` bytes (default:
        this machine's memory), before anything is allocated."""
        checks.memory(f"LinearStudy(d = {self.data.d}, N = {self.data.N}, n_seeds = {self.n_seeds})",
                      self.memory_bytes(n_objectives), limit=limit,
                      formula="8 bytes x (2 (N+1) d^2 per objective + ~64 (N+1) per seed and objective)")

    @property
    def n(self) -> int | None:
        """Main samples per client actually drawn (None: the population reading)."""
        return samples_n(self.data.d, self.samples) if self.samples != "n=d" else self.data.n


def theorem_study(d: int, *, n_seeds: int, mask_ratio: float = MASK_RATIO, N: int | None = None,
                  samples: str = "n=d") -> LinearStudy:
    """The theorem scalings at dimension ``d`` (``N = max(2, round(d^{1/20}))`` unless given),
    ``c = 2N``, ``H`` a rotation of the first ``2N`` coordinates, ``samples`` as reading 6."""
    data = DataConfig(d=d, N=N)
    return LinearStudy(data=data, c=2 * data.N, mask_ratio=mask_ratio, transform="subspace-rotation",
                       transform_dim=2 * data.N, n_seeds=n_seeds, samples=samples)


@dataclasses.dataclass(frozen=True)
class Models:
    """The models of one objective under one augmentation reading: representability vectors
    ``local`` ``(seeds, N, d)`` and ``global_`` ``(seeds, d)`` (FL's client average); per model the
    count of positive eigenvalues of the matrix its row space is the top-``c`` eigenspace of
    (Eq. 3: of the regression matrix; Assumption A.5 needs ``c``) and the eigen-gap
    ``lam_c - lam_{c+1}`` (``positive_*``, ``gap_*``); per ``r_k`` its spread over the stationary
    points (``spread_*``, see `LinearMeasurement.spread`); and, where the objective has an
    alignment matrix (SPEC reading 2), the corrected-bound margin ``min_k (r_k - lower_k)`` and the
    largest corrected bound ``max_k lower_k`` per seed and client (None otherwise)."""

    local: np.ndarray
    global_: np.ndarray
    spread_local: np.ndarray
    spread_global: np.ndarray
    positive_local: np.ndarray
    positive_global: np.ndarray
    gap_local: np.ndarray
    gap_global: np.ndarray
    corrected_margin: np.ndarray | None = None
    corrected_max: np.ndarray | None = None


def _name(objective: Objective | str) -> str:
    return objective.name if isinstance(objective, Objective) else objective


@dataclasses.dataclass(frozen=True)
class LinearMeasurement:
    """Every measured model: ``models[(objective name, augmentation)]`` (`Models`), the
    augmentation ``"expectation"`` for every objective and ``"sampled"`` (SPEC reading 7, one
    augmentation pair per sample) for those that have it at finite ``n``
    (`augmentations`); ``trace_H`` = ``tr(P H_sym P)`` per seed (Assumption A.9; one ``H`` per
    seed) and ``full_trace_H`` = ``tr(H)``; ``objectives`` the objectives measured.

    The tables ``local``, ``global_``, ``spread_*``, ``positive_*``, ``gap_*``,
    ``corrected_margin`` and ``corrected_max`` are the ``"expectation"`` models' fields keyed by
    objective name (``corrected_*`` only where there is an alignment matrix), in name order."""

    study: LinearStudy
    models: Mapping[tuple[str, str], Models]
    trace_H: np.ndarray
    full_trace_H: np.ndarray
    objectives: tuple[Objective, ...] = BUILTIN_OBJECTIVES

    def augmentations(self, objective: Objective | str) -> tuple[str, ...]:
        """The augmentation readings measured for ``objective``: ``("expectation",)`` for one
        without a sampled reading and at ``population``, ``("expectation", "sampled")`` otherwise."""
        return tuple(a for a in AUGMENTATIONS if (_name(objective), a) in self.models)

    def _table(self, field: str, augmentation: str = "expectation") -> dict[str, np.ndarray]:
        return {name: getattr(models, field) for (name, a), models in sorted(self.models.items())
                if a == augmentation and getattr(models, field) is not None}

    local = property(lambda self: self._table("local"), doc="``r`` (seeds, N, d) of every objective's client models.")
    global_ = property(lambda self: self._table("global_"), doc="``r`` (seeds, d) of every objective's FL model.")
    spread_local = property(lambda self: self._table("spread_local"))
    spread_global = property(lambda self: self._table("spread_global"))
    positive_local = property(lambda self: self._table("positive_local"))
    positive_global = property(lambda self: self._table("positive_global"))
    gap_local = property(lambda self: self._table("gap_local"))
    gap_global = property(lambda self: self._table("gap_global"))
    corrected_margin = property(lambda self: self._table("corrected_margin"))
    corrected_max = property(lambda self: self._table("corrected_max"))

    def _models(self, objective: Objective | str, augmentation: str) -> Models:
        if augmentation not in AUGMENTATIONS:
            raise ValueError(f"augmentation={augmentation!r} must be one of {AUGMENTATIONS}")
        name = _name(objective)
        if (name, augmentation) not in self.models:
            measured = sorted(n for n, a in self.models if a == augmentation)
            raise ValueError(f"objective={name!r} has no {augmentation} representabilities here ({measured})")
        return self.models[name, augmentation]

    def spread(self, objective: Objective | str, scope: str, augmentation: str = "expectation") -> np.ndarray:
        """How far each ``r_k`` of `representabilities` is from being determined: its range over
        the stationary points (0 where the top-c eigenspace is unique; a tie at c makes them a
        family, `sim.linear.matrices.tied_at_c`), the same shape."""
        models = self._models(objective, augmentation)
        return models.spread_local if scope == "local" else models.spread_global

    def representabilities(self, objective: Objective | str, scope: str, augmentation: str = "expectation") -> np.ndarray:
        """``r`` of every model: ``(seeds, N, d)`` local, ``(seeds, d)`` global."""
        models = self._models(objective, augmentation)
        return models.local if scope == "local" else models.global_

    def sensitivities(self, objective: Objective | str, variant: str, scope: str,
                      augmentation: str = "expectation") -> np.ndarray:
        """Sensitivity ``s`` of every trial: ``(seeds, N)`` for the local models (client ``i``'s
        own coordinate excluded where the variant says so), ``(seeds,)`` for the global one."""
        N, c, d = self.study.data.N, self.study.c, self.study.data.d
        r = self.representabilities(objective, scope, augmentation)
        if scope == "local":
            clients = np.broadcast_to(np.arange(N), r.shape[:-1])
            return np.asarray(_local_sensitivity(jnp.asarray(r.reshape(-1, d)), jnp.asarray(clients.reshape(-1)),
                                                 variant=variant, N=N, c=c)).reshape(r.shape[:-1])
        return np.asarray(_global_sensitivity(jnp.asarray(r), variant=variant, N=N, c=c))


@functools.partial(jax.jit, static_argnames=("variant", "N", "c"))
def _local_sensitivity(r, clients, *, variant, N, c):
    return jax.vmap(lambda rr, i: sensitivity(rr, variant, N=N, c=c, client=i))(r, clients)


@functools.partial(jax.jit, static_argnames=("variant", "N", "c"))
def _global_sensitivity(r, *, variant, N, c):
    return jax.vmap(lambda rr: sensitivity(rr, variant, N=N, c=c))(r)


def _draw_transform(study: LinearStudy, key, attempts: int = 32):
    """One ``H`` per seed (reading 8), drawn conditionally on Assumption A.9
    (``tr(P H_sym P) > 0``): a Haar rotation of a subspace violates it about half the time, and
    the theorem says nothing about such ``H``. The first of ``attempts`` candidates that satisfies
    it (all fail with probability about ``2^-attempts``; the record then says A.9 fails). Returns
    ``H`` and ``tr(P H_sym P)``."""
    d, c = study.data.d, study.c
    draw = lambda i: make_transform(study.transform, d, key=jax.random.fold_in(key, i), dim=study.transform_dim)  # noqa: E731

    def next_candidate(state):
        i, _, _ = state
        H = draw(i + 1)
        return i + 1, H, transform_trace(H, c)

    # A loop, not `attempts` candidates at once: d x d each, and the first usually satisfies A.9.
    # It starts at i = -1, so its first pass draws candidate 0: a candidate drawn before the loop
    # would put a second copy of the draw and its QR in the program (0.2 s more XLA compilation of
    # this function alone, 1.0 s against 0.8 s; jax 0.9.2, 2 cores).
    blank = jax.eval_shape(lambda: draw(0))
    start = (-1, jnp.zeros(blank.shape, blank.dtype), jnp.zeros((), blank.dtype))
    _, H, trace = jax.lax.while_loop(lambda s: (s[0] < 0) | ((s[2] <= 0) & (s[0] < attempts - 1)), next_candidate,
                                     start)
    return H, trace


def _spectra(X, c: int, key):
    """Top-``c`` eigenvectors ``(B, d, c)`` of a stack of symmetric matrices ``(B, d, d)`` with,
    per matrix, the positive-eigenvalue count (at most ``c + oversample`` counted above the dense
    threshold, enough for Assumption A.5's ``>= c``), the gap ``lam_c - lam_{c+1}``, the
    corrected lower bound ``(X_kk - lam_{c+1}) / (lam_1 - lam_{c+1})`` of reading 2, and the
    tie at ``c`` (`sim.linear.matrices.tied_at_c`): with the dense solver the cluster mask ``(B, d)``
    and every eigenvector ``(B, d, d)``, descending, so that ``r_k``'s spread over the
    stationary points is known; matrix-free, where only the top of the spectrum is computed,
    the mask is True on every coordinate of a tied matrix and the basis ``None`` (r_k is in
    [0, 1], so a spread of 1 bounds it)."""
    B, d, _ = X.shape
    X = (X + jnp.swapaxes(X, 1, 2)) / 2
    scale = jnp.max(jnp.abs(X), axis=(1, 2))
    norm = jnp.linalg.norm(X, axis=(1, 2))
    if d <= DENSE_MAX_D:
        lam, U = jnp.linalg.eigh(X)
        lam, U = lam[:, ::-1], U[:, :, ::-1]
        V = U[:, :, :c]
        tie = tied_at_c(lam, c, norm)[0], U
    else:
        # lax.map, not vmap: a vmapped solve runs every matrix until the slowest converges (and
        # its restarts make batched QR calls, which jaxlib 0.10.x spread over XLA's thread pool).
        res = jax.lax.map(lambda a: top_eigenspace_matvec(lambda W: a[0] @ W, d, c, key=a[1], dtype=X.dtype),
                          (X, jax.random.split(key, B)))
        lam, V = res.values, res.vectors
        tied = jnp.any(tied_at_c(lam, c, norm)[0], axis=1)  # the values are the top c + oversample
        tie = jnp.broadcast_to(tied[:, None], (B, d)), None
    tol = 1e3 * jnp.finfo(X.dtype).eps * d * scale
    positive = jnp.sum(lam > tol[:, None], axis=1)
    return V, positive, lam[:, c - 1] - lam[:, c], _corrected(jnp.diagonal(X, axis1=1, axis2=2), lam, c), tie


def _spread(mask, basis, dtype):
    """``r_k``'s spread over the stationary points (B, d) from `_spectra`'s ``tie`` (a basis in
    place of its eigenvectors for Eq. 3); matrix-free (no basis): the mask itself, an upper bound."""
    return mask.astype(dtype) if basis is None else cluster_spread(basis, mask)


def _corrected(diag, lam, c: int):
    # Below rounding level the spread lam_1 - lam_(c+1) carries no information: trivial bound 0.
    spread = lam[:, 0] - lam[:, c]
    resolved = spread > 64 * jnp.finfo(diag.dtype).eps * diag.shape[-1] * jnp.max(jnp.abs(lam), axis=1)
    return jnp.where(resolved[:, None], (diag - lam[:, c, None]) / jnp.where(resolved, spread, 1)[:, None], 0)


def _diagonal(x, c: int):
    """Diagonal client matrices, given by their diagonals ``x (B, d)`` (the paper's surrogate, Eq. 17): the
    top-``c`` eigenvectors are the axes of its largest entries and every ``r_k`` is exactly 0 or 1."""
    lam, top = jax.lax.top_k(x, c + 1)
    r = jnp.sum(jax.nn.one_hot(top[:, :c], x.shape[-1], dtype=x.dtype), axis=1)
    tied = tied_at_c(x, c, jnp.linalg.norm(x, axis=1))[0]  # its eigenvectors are the axes: spread = the tie
    return dict(r=r, positive=jnp.sum(x > 0, axis=1), gap=lam[:, c - 1] - lam[:, c], lower=_corrected(x, lam, c),
                spread=tied.astype(x.dtype))


def _one_seed(study: LinearStudy, key, n, population, augment: bool, objectives: tuple[Objective, ...]):
    """Every model of one seed: ``N`` clients and FL's client average (its objective is linear
    in ``S``, so its minimiser uses the mean), each objective, and with ``augment`` the sampled
    augmentation of those that have one; one stacked eigen-solve for every dense matrix
    (``expectation`` blocks in the order of ``objectives``, then the ``sampled`` ones).
    ``population`` (traced) replaces the draw by ``E[S]``, so one compiled program serves every
    samples reading. Returns ``{augmentation: {objective name: fields}}``."""
    data, c, p = study.data, study.c, study.mask_ratio  # p: the mask ratio in the paper's notation
    h_key, data_key, aug_key, solve_key = jax.random.split(key, 4)
    H, trace = _draw_transform(study, h_key)
    S = jnp.where(population, population_second_moments(data), sample_moments_at(data, n, key=data_key, n_max=samples_n(data.d, "n=d^2")))
    S = jnp.concatenate([S, jnp.mean(S, axis=0, keepdims=True)])  # N clients, then FL
    M = S.shape[0]

    def matrices(objective):
        return jax.vmap(lambda s: objective.matrix(s, p=p, H=H))(S)

    dense = [(o, "expectation") for o in objectives if o.kind != "diagonal"]
    blocks = [matrices(o) for o, _ in dense]
    sampled = [o for o in objectives if augment and o.sampled is not None]
    if sampled:
        keys = jax.random.split(aug_key, data.N)
        pairs = jax.lax.map(lambda a: _sampled(sampled, a[0], n + data.n_rare, H, key=a[1]), (S[:-1], keys))
        dense += [(o, "sampled") for o in sampled]
        blocks += [jnp.concatenate([X, X.mean(0, keepdims=True)]) for X in pairs]
    out = {"expectation": {}, "sampled": {}}
    if blocks:
        V, positive, gap, lower, tie = _spectra(jnp.concatenate(blocks), c, solve_key)
        spread = _spread(*tie, V.dtype)
    for j, (objective, augmentation) in enumerate(dense):
        part = slice(j * M, (j + 1) * M)
        fields = dict(r=jnp.sum(V[part] ** 2, axis=-1), positive=positive[part], gap=gap[part], lower=lower[part],
                      spread=spread[part])
        if objective.kind == "regression":
            fields["r"], fields["spread"] = _regression(objective, S, V[part], tie, part, fields["spread"], c=c, p=p, H=H)
            del fields["lower"]  # the corrected bound needs an alignment matrix
        out[augmentation][objective.name] = fields
    for objective in objectives:
        if objective.kind == "diagonal":
            out["expectation"][objective.name] = _diagonal(matrices(objective), c)
    return out, trace, jnp.trace(H)


def _sampled(objectives: list[Objective], S, n_total, H, *, key) -> tuple:
    """Each objective's sampled matrix of one client, a joint draw (`DrawPart`) called once for
    all the objectives that share it."""
    joint = {}
    for o in objectives:
        if isinstance(o.sampled, DrawPart) and o.sampled.draw not in joint:
            joint[o.sampled.draw] = o.sampled.draw(S, n_total, H, key=key)
    return tuple(joint[o.sampled.draw][o.sampled.index] if isinstance(o.sampled, DrawPart)
                 else o.sampled(S, n_total, H, key=key) for o in objectives)


def _regression(objective: Objective, S, V, tie, part, spread, *, c: int, p, H):
    """``r`` and its spread for a reduced-rank regression (Eq. 3): its row space is
    ``objective.basis`` of the top-``c`` eigenvectors ``V`` of its matrix, orthonormalised."""
    basis = jax.vmap(lambda s, z: objective.basis(s, z, p=p, H=H))

    def top_c(_):
        return jnp.sum(jnp.linalg.qr(basis(S, V))[0] ** 2, axis=-1), spread

    def every_column(_):
        # The first m columns of Q span row(W) from the top m eigenpairs, for every m, so Q is
        # the basis of the spread (`sim.linear.matrices.encoder_fit`); d x d instead of d x c, so
        # only where a tie needs it (d = 1024: 18 QRs of 1024 x 1024 would cost seconds).
        Q = jnp.linalg.qr(basis(S, tie[1][part]))[0]
        return jnp.sum(Q[:, :, :c] ** 2, axis=-1), cluster_spread(Q, tie[0][part])

    return top_c(None) if tie[1] is None else jax.lax.cond(jnp.any(tie[0][part]), every_column, top_c, None)


def _seeds(keys, n, population, *, study, augment, objectives):
    """A chunk of seeds in one program (``n`` and ``population`` traced: one compile per shape
    serves every samples reading and every seed count)."""
    return jax.lax.map(lambda k: _one_seed(study, k, n, population, augment, objectives), keys)


_STATIC = ("study", "augment", "objectives")
_chunk = xla.jit(_seeds, static_argnames=_STATIC)  # loop emitters: `sim.engine.xla`
# XLA -O0 as well, for a small program run once: it compiles in about half the time and runs
# about 1.4x slower (jax 0.9.2, 2 cores, 6 seeds; d = 128: compile 5.1 -> 2.6 s, run 0.20 -> 0.32 s;
# d = 256: 5.0 -> 3.2 s, 0.89 -> 1.19 s; but d = 1024: 6.5 -> 3.3 s, 14.1 -> 19.5 s).
_chunk_once = xla.jit(_seeds, static_argnames=_STATIC, options=(*xla.LOOP_EMITTERS, ("xla_backend_optimization_level", 0)))
#: Up to this many seeds x d^3 (over every call of one program) it compiles at -O0: d = 256 with
#: up to 8 seeds; at d = 64, up to 512 seeds (the main default study's 640 do not).
ONCE_WORK = 2**27


def _program(keys, n, population, *, study, augment, objectives, chunk=SEED_CHUNK, optimise=True):
    # Seeds padded to whole chunks: the compiled program never depends on the seed count.
    pad = -len(keys) % chunk
    padded = jnp.concatenate([keys] + [keys[:1]] * pad) if pad else keys
    program = _chunk if optimise else _chunk_once
    parts = [program(padded[i:i + chunk], n, population, study=study, augment=augment, objectives=objectives)
             for i in range(0, len(padded), chunk)]
    return jax.tree_util.tree_map(lambda *xs: np.concatenate([np.asarray(x) for x in xs])[:len(keys)], *parts)


def measure(study: LinearStudy, *, key, augment: bool = True, chunk: int = SEED_CHUNK, optimise: bool = True,
            objectives=BUILTIN_OBJECTIVES) -> LinearMeasurement:
    """Closed-form stationary points for each of ``objectives`` (`sim.linear.objective.Objective`
    values or names; default the five built-ins), every seed and client, under the study's
    samples reading (exact sufficient statistics: cost independent of ``n``), and with
    ``augment`` (finite ``n`` only) under the sampled augmentation of those that have one;
    ``chunk`` seeds per compiled call (the seed count is padded to a multiple of it).
    ``optimise=False`` compiles at XLA -O0 (faster to compile, slower to run: for a small
    program used once). One program per (sizes, objectives): an equal tuple reuses it.

    Raises FloatingPointError if any representability is non-finite."""
    objectives = as_objectives(objectives)
    study.check_memory(n_objectives=len(objectives))  # before the first allocation
    base = dataclasses.replace(study, samples="n=d", n_seeds=1)  # the program's static shape
    n = study.n
    out, trace, full = _program(jax.random.split(key, study.n_seeds),
                                jnp.asarray(n or study.data.n, jnp.result_type(float)), jnp.asarray(n is None),
                                study=base, augment=augment, objectives=objectives, chunk=chunk, optimise=optimise)
    if n is None:  # the sampled augmentation averages out at population (its mean is S)
        out = {"expectation": out["expectation"]}
    N = study.data.N
    models = {}
    for augmentation, by_name in out.items():
        for name, fields in by_name.items():
            split = lambda field: (np.asarray(fields[field][:, :N]), np.asarray(fields[field][:, N]))  # noqa: E731
            local, global_ = split("r")
            margin = top = None
            if "lower" in fields:
                lower = np.asarray(fields["lower"][:, :N])
                margin, top = np.min(local - lower, axis=-1), np.max(lower, axis=-1)
            models[name, augmentation] = Models(local, global_, *split("spread"), *split("positive"), *split("gap"),
                                                corrected_margin=margin, corrected_max=top)
            for value in (local, global_) if augmentation == "sampled" else (local, global_, margin):
                if value is not None and not np.all(np.isfinite(value)):
                    raise FloatingPointError(f"non-finite representability for {name} at {study}")
    return LinearMeasurement(study=study, models=models, trace_H=np.asarray(trace), full_trace_H=np.asarray(full),
                             objectives=objectives)


def sweep(d_values, *, n_seeds: int, key, mask_ratio: float = MASK_RATIO, samples: str = "n=d", progress=None,
          objectives=BUILTIN_OBJECTIVES) -> list[LinearMeasurement]:
    """One measurement per dimension ``d`` at the theorem scalings, each with its own key."""
    say = progress or (lambda message: None)
    out = []
    for d, k in zip(d_values, jax.random.split(key, len(d_values))):
        # The orders and constants need no augmentation reading: a smaller program per d, used
        # once, so its chunk is the seed count (no padded seeds; at d = 1024 a seed costs seconds).
        out.append(measure(theorem_study(int(d), n_seeds=n_seeds, mask_ratio=mask_ratio, samples=samples), key=k,
                           augment=False, chunk=min(SEED_CHUNK, n_seeds), optimise=n_seeds * int(d) ** 3 > ONCE_WORK,
                           objectives=objectives))
        say(f"linear: sweep d={d}")
    return out


@dataclasses.dataclass(frozen=True)
class MaskAverage:
    """The symmetrised Eq. 4 cross-moment averaged over ``n_masks`` sampled masks (``mc``),
    its Monte-Carlo standard error (``se``) and the exact mask average ``p(1-p)(S - diag S)`` at
    the mask ratio ``p`` = ``mask_ratio``."""

    mc: np.ndarray
    se: np.ndarray
    exact: np.ndarray
    n_masks: int
    mask_ratio: float


def mask_average(study: LinearStudy, *, key, n_masks: int) -> MaskAverage:
    """Average Eq. 4's symmetrised cross-moment of one client over sampled Bernoulli masks."""
    mc, se, exact = _mask_average(key, data=study.data, p=study.mask_ratio, n_masks=n_masks)
    return MaskAverage(np.asarray(mc), np.asarray(se), np.asarray(exact), n_masks, study.mask_ratio)


@functools.partial(jax.jit, static_argnames=("data", "p", "n_masks"))
def _mask_average(key, *, data, p, n_masks):
    # One program: op by op, the draws, products and moments compiled about a dozen programs (4 s).
    data_key, mask_key = jax.random.split(key)
    x = sample_clients(data, key=data_key)[0][0]
    keep = draws.bernoulli(mask_key, 1 - p, (n_masks, *x.shape)).astype(x.dtype)  # m = 1: visible
    visible, hidden = x[None] * keep, x[None] * (1 - keep)
    cross = jnp.einsum("mjk,mjl->mkl", visible, hidden) / x.shape[0]
    cross = (cross + jnp.swapaxes(cross, 1, 2)) / 2
    exact = client_matrix(second_moment(x), "mim-alignment", p=p)
    return cross.mean(0), cross.std(0) / math.sqrt(n_masks), exact
