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

import jax
import jax.numpy as jnp
import numpy as np

from sim.config import DataConfig
from sim.data import sample_clients, second_moment
from sim.matrices import OBJECTIVES, check_transform, client_matrix, encoder_subspace, make_transform, transform_trace
from sim.metrics import corrected_lower_bound, representability, sensitivity


@dataclasses.dataclass(frozen=True)
class LinearStudy:
    """What one linear study simulates: the data model, encoder width ``c``, mask ratio ``p``,
    the dissimilar-augmentation transform ``H`` (kind and, for subspace rotations, its
    dimension), and how many seeds."""

    data: DataConfig
    c: int
    p: float = 0.75
    transform: str = "subspace-rotation"
    transform_dim: int | None = None
    n_seeds: int = 64

    def __post_init__(self):
        d, N = self.data.d, self.data.N
        if isinstance(self.c, bool) or not (isinstance(self.c, int) and 2 * N <= self.c <= d):
            raise ValueError(f"c={self.c!r} must be an integer with 2N <= c <= d, i.e. in [{2 * N}, {d}]")
        if not (0 < self.p < 1):
            raise ValueError(f"p={self.p!r} (mask ratio) must be in (0, 1)")
        if isinstance(self.n_seeds, bool) or not (isinstance(self.n_seeds, int) and self.n_seeds >= 1):
            raise ValueError(f"n_seeds={self.n_seeds!r} must be a positive integer")


def theorem_study(d: int, *, n_seeds: int, p: float = 0.75, N: int | None = None) -> LinearStudy:
    """The theorem scalings at dimension ``d`` (``N = max(2, round(d^{1/20}))`` unless given),
    ``c = 2N``, ``H`` a rotation of the first ``2N`` coordinates."""
    data = DataConfig(d=d, N=N)
    return LinearStudy(data=data, c=2 * data.N, p=p, transform="subspace-rotation", transform_dim=2 * data.N,
                       n_seeds=n_seeds)


@dataclasses.dataclass(frozen=True)
class LinearMeasurement:
    """Representability vectors of every objective, local ``(seeds, N, d)`` and global
    ``(seeds, d)``; the corrected-bound margins ``min_k (r_k - lower_k)`` per seed and client
    (alignment objectives); ``trace_H = tr(P H_sym P)`` (Assumption A.9) and the full trace."""

    study: LinearStudy
    local: dict[str, np.ndarray]
    global_: dict[str, np.ndarray]
    corrected_margin: dict[str, np.ndarray]
    trace_H: float
    full_trace_H: float

    def sensitivities(self, objective: str, variant: str, scope: str) -> np.ndarray:
        """Sensitivity ``s`` of every trial: ``(seeds, N)`` for the local models (client ``i``'s
        own coordinate excluded where the variant says so), ``(seeds,)`` for the global one."""
        N, c, d = self.study.data.N, self.study.c, self.study.data.d
        if scope == "local":
            r = self.local[objective]
            clients = np.broadcast_to(np.arange(N), r.shape[:-1])
            fn = jax.vmap(lambda rr, i: sensitivity(rr, variant, N=N, c=c, client=i))
            return np.asarray(fn(r.reshape(-1, d), clients.reshape(-1))).reshape(r.shape[:-1])
        return np.asarray(jax.vmap(lambda rr: sensitivity(rr, variant, N=N, c=c))(self.global_[objective]))


def transform_for(study: LinearStudy, *, key, max_draws: int = 64) -> jax.Array:
    """The dissimilar-augmentation ``H``, drawn conditionally on Assumption A.9
    (``tr(P H_sym P) > 0``): a Haar rotation of a subspace violates it about half the time, and
    the theorem says nothing about such ``H``. Raises if ``max_draws`` draws all violate it."""
    for i in range(max_draws):
        H = make_transform(study.transform, study.data.d, key=jax.random.fold_in(key, i), dim=study.transform_dim)
        if float(transform_trace(H, study.c)) > 0:
            return H
    check_transform(H, study.c)  # raises, naming H and the requirement
    return H


@functools.partial(jax.jit, static_argnames="data")
def _second_moments(keys, *, data):
    """(seeds, N, d, d): linear models need only the clients' second moments."""
    return jax.vmap(lambda key: second_moment(sample_clients(data, key=key)[0]))(keys)


def _closed_forms(S_all, H, *, c, p):
    # Deliberately not jitted as a whole: XLA's CPU compile of this program (15 batched
    # eigendecompositions) took minutes, while op-by-op dispatch of the same vmapped code runs
    # a d = 384 point in seconds.
    def one_seed(S):
        S_global = jnp.mean(S, axis=0)  # FL's objective is linear in S: its minimiser uses the mean
        local, global_, margin = {}, {}, {}
        for objective in OBJECTIVES:
            subspace = functools.partial(encoder_subspace, objective=objective, c=c, p=p, H=H)
            local[objective] = jax.vmap(lambda s: representability(subspace(s)))(S)
            global_[objective] = representability(subspace(S_global))
            if objective != "mim-reconstruction":  # the corrected bound needs an alignment matrix
                lower = jax.vmap(lambda s: corrected_lower_bound(client_matrix(s, objective, p=p, H=H), c))(S)
                margin[objective] = jnp.min(local[objective] - lower, axis=-1)
        return local, global_, margin

    return jax.vmap(one_seed)(S_all)


def measure(study: LinearStudy, *, key) -> LinearMeasurement:
    """Closed-form stationary points for every objective, vmapped over seeds and clients.

    Raises FloatingPointError if any representability is non-finite."""
    h_key, data_key = jax.random.split(key)
    H = transform_for(study, key=h_key)
    S_all = _second_moments(jax.random.split(data_key, study.n_seeds), data=study.data)
    local, global_, margin = _closed_forms(S_all, H, c=study.c, p=study.p)
    to_np = lambda tree: {k: np.asarray(v) for k, v in tree.items()}  # noqa: E731
    out = LinearMeasurement(study, to_np(local), to_np(global_), to_np(margin),
                            float(transform_trace(H, study.c)), float(jnp.trace(H)))
    for name, tree in (("local", out.local), ("global", out.global_), ("corrected margin", out.corrected_margin)):
        for objective, value in tree.items():
            if not np.all(np.isfinite(value)):
                raise FloatingPointError(f"non-finite {name} representability for {objective} at {study}")
    return out


def sweep(d_values, *, n_seeds: int, key, p: float = 0.75, progress=None) -> list[LinearMeasurement]:
    """One measurement per dimension ``d`` at the theorem scalings, each with its own key."""
    say = progress or (lambda message: None)
    out = []
    for d, k in zip(d_values, jax.random.split(key, len(d_values))):
        out.append(measure(theorem_study(int(d), n_seeds=n_seeds, p=p), key=k))
        say(f"linear: sweep d={d}")
    return out


@dataclasses.dataclass(frozen=True)
class MaskAverage:
    """The symmetrised Eq. 4 cross-moment averaged over ``n_masks`` sampled masks (``mc``),
    its Monte-Carlo standard error (``se``) and the exact mask average ``p(1-p)(S - diag S)``."""

    mc: np.ndarray
    se: np.ndarray
    exact: np.ndarray
    n_masks: int
    p: float


def mask_average(study: LinearStudy, *, key, n_masks: int) -> MaskAverage:
    """Average Eq. 4's symmetrised cross-moment of one client over sampled Bernoulli masks."""
    data_key, mask_key = jax.random.split(key)
    x = sample_clients(study.data, key=data_key)[0][0]
    keep = jax.random.bernoulli(mask_key, 1 - study.p, (n_masks, *x.shape)).astype(x.dtype)  # m = 1: visible
    visible, hidden = x[None] * keep, x[None] * (1 - keep)
    cross = jnp.einsum("mjk,mjl->mkl", visible, hidden) / x.shape[0]
    cross = (cross + jnp.swapaxes(cross, 1, 2)) / 2
    exact = client_matrix(second_moment(x), "mim-alignment", p=study.p)
    return MaskAverage(np.asarray(cross.mean(0)), np.asarray(cross.std(0) / math.sqrt(n_masks)), np.asarray(exact),
                       n_masks, study.p)
