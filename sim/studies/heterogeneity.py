"""Heterogeneity map: where non-IID client data costs a federated SSL encoder probe accuracy.

Measurement only. The paper's experiments (Table 1, Fig. 2b) are about one phenomenon: label
skew lowers the downstream accuracy of a federated encoder, some methods less than others. This
study sweeps what makes label skew matter, on the latent data model of ``sim.data.latent``
(``2N`` classes in a ``k``-dimensional latent space, one draw of ``U`` and the class means per
seed):

- local drift: ``local_steps`` x ``learning_rate`` (each client moves further towards its own
  optimum before FedAvg averages);
- label skew: the balanced class-wise Dirichlet split at each ``alpha`` (and, optionally, the
  pathological split with ``pathological`` classes per client), against the IID split;
- ``rounds``;
- a representation bottleneck: ``c`` features below the latent dimension ``k``, so that
  clients holding different classes prefer different directions of the latent space.

A ``Regime`` is one (``c``, ``local_steps``, ``learning_rate``, ``rounds``) cell; every regime
trains MIM (MAE), CL (SimSiam, Gaussian-noise views) and MAR (FedMAR, Eq. 7's cosine schedule,
A-MMD with the mean bandwidth) with FedAvg at full participation on every split, and probes the
global encoder on held-out IID data (``sim.models.probe``) beside the untrained encoder of each
seed. Within a seed every split, method and regime shares the latent model and the probe set,
and the splits of one regime share the initialisation and the training keys, so drops
(``acc(iid) - acc(split)``) and method differences are paired per seed.

One compiled program per regime (the regime's fields are shapes or static settings): MIM and
MAR are one vmapped FedMAR run at ``gamma = 0`` and at the schedule, CL the FedAvg run, all
seeds x splits on one run axis.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from sim import checks
from sim.data import draws
from sim.data import partition as part
from sim.data.latent import LatentConfig, make_latent_model
from sim.data.masks import MASK_RATIO
from sim.engine import xla
from sim.engine.train import TrainConfig, fedavg_program
from sim.models.diagnostics import effective_rank
from sim.models.mar import GAMMA_MAX, GAMMA_MIN
from sim.models.mar_train import MixedMARLoss, fedmar_program, metric_weights
from sim.models.probe import linear_probe
from sim.models.shallow import MODELS, ShallowConfig, ShallowLoss, encode, init_params
from sim.studies.mar import PAPER_METRIC, dirichlet_split

#: The methods of the map: the paper's MIM and CL stand-ins and MAR (Section 5).
MAP_METHODS: tuple[str, ...] = ("MIM", "CL", "MAR")
PROBE_METHOD = "logistic"
IID = "iid"


@dataclasses.dataclass(frozen=True)
class Regime:
    """One cell of the map: ``c`` features, ``local_steps`` x ``learning_rate`` of local drift
    per round, ``rounds`` FedAvg rounds."""

    c: int
    local_steps: int
    learning_rate: float
    rounds: int

    def __post_init__(self):
        checks.integer("Regime.c", self.c, minimum=1)
        checks.integer("Regime.local_steps", self.local_steps, minimum=1)
        checks.real("Regime.learning_rate", self.learning_rate, low=0, closed=False)
        checks.integer("Regime.rounds", self.rounds, minimum=1)

    @property
    def cost(self) -> int:
        """Local steps per client over the run, ``rounds * local_steps`` (the training cost)."""
        return self.rounds * self.local_steps

    @property
    def drift(self) -> float:
        """``local_steps * learning_rate``: how far a client may move from the global model in a round."""
        return self.local_steps * self.learning_rate

    def label(self) -> str:
        return f"c={self.c}, E={self.local_steps}, lr={self.learning_rate:g}, T={self.rounds}"


@dataclasses.dataclass(frozen=True)
class HeterogeneityStudy:
    """Sizes of the map: the latent model ``LatentConfig(d, latent_k, 2N, latent_noise,
    latent_separation)`` split over ``n_clients`` clients of ``samples_per_client``; the
    ``regimes``; the Dirichlet ``alphas`` (and ``pathological`` classes per client, or None);
    ``n_seeds`` paired seeds; ``probe_samples`` IID samples to fit the probe and as many to
    test it; a ``model`` (``linear`` or ``two-layer``) encoder of ``hidden`` units."""

    d: int
    N: int
    n_clients: int
    samples_per_client: int
    batch_size: int
    n_seeds: int
    probe_samples: int
    regimes: tuple[Regime, ...]
    alphas: tuple[float, ...] = (1.0, 0.1)
    pathological: int | None = None
    model: str = "linear"
    hidden: int = 16
    mask_ratio: float = MASK_RATIO
    aug_strength: float = 0.5
    optimizer: str = "adam"
    latent_k: int = 4
    latent_noise: float = 0.5
    latent_separation: float = 2.0
    fast_compile: bool = False

    def __post_init__(self):
        checks.check_fields(self, {
            **{name: checks.count(1) for name in ("d", "N", "n_clients", "samples_per_client", "batch_size",
                                                  "probe_samples", "hidden")},
            "n_seeds": checks.count(2),  # drops are judged by intervals over seeds
            "mask_ratio": checks.positive(high=1),
            "aug_strength": checks.positive(closed=True),
            "model": checks.one_of(MODELS),
            "fast_compile": checks.flag,
        })
        if not self.regimes or not all(isinstance(r, Regime) for r in self.regimes) \
                or len(set(self.regimes)) != len(self.regimes):
            raise ValueError(f"HeterogeneityStudy.regimes = {self.regimes!r} must be a non-empty tuple of "
                             "distinct Regime values")
        for alpha in self.alphas:
            checks.real("HeterogeneityStudy.alphas[i]", alpha, low=0, closed=False)
        if self.pathological is not None:
            checks.integer("HeterogeneityStudy.pathological", self.pathological, minimum=1, maximum=2 * self.N)
        if not self.splits[1:]:
            raise ValueError("HeterogeneityStudy: alphas is empty and pathological is None: no non-IID split")
        self.latent_config()
        for r in self.regimes:
            self.shallow("mae", r.c)

    @property
    def splits(self) -> tuple[str, ...]:
        """``"iid"``, then one name per non-IID split (``"alpha=0.1"``, ``"1 class/client"``)."""
        names = [IID] + [f"alpha={a:g}" for a in self.alphas]
        return tuple(names + ([f"{self.pathological} class/client"] if self.pathological else []))

    def latent_config(self) -> LatentConfig:
        return LatentConfig(d=self.d, k=self.latent_k, n_classes=2 * self.N, noise=self.latent_noise,
                            separation=self.latent_separation)

    def shallow(self, loss: str, c: int) -> ShallowConfig:
        return ShallowConfig(d=self.d, c=c, model=self.model, loss=loss, hidden=self.hidden,
                             mask_ratio=self.mask_ratio, augmentation="noise", aug_strength=self.aug_strength)

    def train_config(self, regime: Regime) -> TrainConfig:
        return TrainConfig(rounds=regime.rounds, local_steps=regime.local_steps, batch_size=self.batch_size,
                           learning_rate=regime.learning_rate, optimizer=self.optimizer)

    def as_params(self) -> dict:
        return dataclasses.asdict(self) | {"data_model": "latent", "algorithm": "fedavg (full participation)",
                                           "mim_loss": "mae", "cl_loss": "simsiam", "mar": "cosine 0.1->0.001, "
                                           "a-mmd-mean", "probe": PROBE_METHOD}


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["key", "accuracy", "untrained", "rank", "diverged", "heterogeneity"],
                   meta_fields=["study"])
@dataclasses.dataclass(frozen=True, eq=False)
class HeterogeneityMap:
    """What the map measured. ``accuracy[(regime, method, split)]`` ``(n_seeds,)`` (NaN for a
    diverged run); ``rank[(regime, method, split)]`` the effective rank of the global encoder's
    features on the probe set (``sim.models.diagnostics.effective_rank``: a collapsed
    representation reads near 1); ``untrained[regime]`` each seed's initial encoder;
    ``diverged[(regime, method)]`` the count of diverged runs; ``heterogeneity[split]`` the
    measured heterogeneity of the splits (means over clients and seeds)."""

    study: HeterogeneityStudy
    key: jax.Array
    accuracy: dict
    untrained: dict
    rank: dict
    diverged: dict
    heterogeneity: dict

    def drop(self, regime: Regime, method: str, split: str) -> np.ndarray:
        """``acc(iid) - acc(split)`` per seed."""
        return self.accuracy[(regime, method, IID)] - self.accuracy[(regime, method, split)]

    def pooled_drop(self, regime: Regime, split: str) -> np.ndarray:
        """The methods' mean drop per seed (the regime-selection statistic, blind to which method wins)."""
        return np.mean([self.drop(regime, m, split) for m in MAP_METHODS], axis=0)


def _splits(st: HeterogeneityStudy, key) -> list[part.Partition]:
    C, K, n = 2 * st.N, st.n_clients, st.samples_per_client
    ks = jax.random.split(key, len(st.splits))
    out = [part.iid(C, K, n, key=ks[0])]
    out += [dirichlet_split(C, K, n, a, key=k)[0] for a, k in zip(st.alphas, ks[1:])]
    if st.pathological:
        out.append(part.pathological(C, K, n, st.pathological, key=ks[-1]))
    return out


def _draw(st: HeterogeneityStudy, data_key):
    """Per seed: the latent model, every split's client data (one padded width), the IID probe set."""
    k_split, k_model, k_data, k_probe = jax.random.split(data_key, 4)
    splits = [_splits(st, jax.random.fold_in(k_split, s)) for s in range(st.n_seeds)]
    width = max(int(p.sizes.max()) for row in splits for p in row)
    xs, masks, px, py = [], [], [], []
    for s, row in enumerate(splits):
        model = make_latent_model(st.latent_config(), key=jax.random.fold_in(k_model, s))
        data = part.client_data(model, row, key=jax.random.fold_in(k_data, s), n_max=width)
        x, y = part.global_sample(model, 2 * st.probe_samples, key=jax.random.fold_in(k_probe, s))
        xs.append(np.asarray(data.x))
        masks.append(np.asarray(data.mask))
        px.append(np.asarray(x))
        py.append(np.asarray(y))
    het = {name: {k: float(np.mean([part.heterogeneity(row[j].counts).summary()[k] for row in splits]))
                  for k in ("classes_per_client", "tv_distance")} for j, name in enumerate(st.splits)}
    # (S * splits, K, n_max, d) on the run axis ordered (seed, split); probe sets (S, 2P, d), (S, 2P)
    return (np.concatenate(xs), np.concatenate(masks), np.stack(px), np.stack(py), het)


@functools.lru_cache(maxsize=None)
def _program(st: HeterogeneityStudy, regime: Regime):
    """ONE compiled program per regime: MIM and MAR (FedMAR at gamma 0 and at the schedule) and
    CL (FedAvg) over every (seed, split) run; features and their effective rank on the probe set."""
    mae, cl = st.shallow("mae", regime.c), st.shallow("simsiam", regime.c)
    cfg = st.train_config(regime)
    mar_loss = MixedMARLoss(mae, metrics=(PAPER_METRIC,))
    runs = len(st.splits)
    per_run = lambda a: jnp.repeat(a, runs, axis=0)  # noqa: E731  (seed axis -> (seed, split) run axis)

    def features(sc, enc, probe_x):
        f = encode(sc, enc, probe_x)
        return f, effective_rank(f)

    def program(init_keys, train_keys, x, mask, probe_x):
        init_m = jax.vmap(lambda k: init_params(mae, key=k))(init_keys)
        init_c = jax.vmap(lambda k: init_params(cl, key=k))(init_keys)
        p0, keys, px = jax.tree_util.tree_map(per_run, init_m), per_run(train_keys), per_run(probe_x)
        one_hot = metric_weights(PAPER_METRIC, (PAPER_METRIC,))

        # MIM (gamma = 0) and MAR on one run axis: one copy of the FedMAR loop in the program.
        twice = lambda a: jnp.concatenate([a, a])  # noqa: E731
        n = x.shape[0]
        gmax = jnp.repeat(jnp.asarray([0.0, GAMMA_MAX], x.dtype), n)
        gmin = jnp.repeat(jnp.asarray([0.0, GAMMA_MIN], x.dtype), n)
        both = jax.vmap(lambda p, xi, mi, k, a, b: fedmar_program(p, xi, mi, k, a, b, one_hot, loss_fn=mar_loss,
                                                                  cfg=cfg))(
            jax.tree_util.tree_map(twice, p0), twice(x), twice(mask), twice(keys), gmax, gmin)
        results = {"MIM": jax.tree_util.tree_map(lambda a: a[:n], both),
                   "MAR": jax.tree_util.tree_map(lambda a: a[n:], both),
                   "CL": jax.vmap(functools.partial(fedavg_program, loss_fn=ShallowLoss(cl), cfg=cfg))(
                       jax.tree_util.tree_map(per_run, init_c), x, mask, keys)}
        out = {}
        for method, result in results.items():
            sc = cl if method == "CL" else mae
            f, rank = jax.vmap(functools.partial(features, sc))(result.global_params["encoder"], px)
            finite = jnp.all(jnp.where(result.participation, jnp.isfinite(result.losses), True), axis=(1, 2))
            out[method] = (f, rank, finite & jnp.all(jnp.isfinite(f), axis=(1, 2)))
        untrained = jax.vmap(functools.partial(encode, mae))(init_m["encoder"], probe_x)
        return out, untrained

    level = 0 if st.fast_compile else 1
    return xla.jit(program, options=(*xla.LOOP_EMITTERS, ("xla_backend_optimization_level", level)))


def _pad(f: np.ndarray, width: int) -> np.ndarray:
    """Features padded with zero columns to ``width`` (a constant column adds nothing to a
    standardised linear probe), so every regime's encoders are probed in one call."""
    return np.pad(f, [(0, 0)] * (f.ndim - 1) + [(0, width - f.shape[-1])])


def measure(study: HeterogeneityStudy, *, key: jax.Array, progress=None) -> HeterogeneityMap:
    """Train and probe every (regime, method, split, seed) of ``study``; all randomness from ``key``."""
    if not isinstance(study, HeterogeneityStudy):
        raise ValueError(f"study = {study!r} must be a HeterogeneityStudy")
    if not (isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) and key.shape == ()):
        raise ValueError(f"key = {key!r} must be a single typed JAX key (jax.random.key)")
    st, S, P, runs = study, study.n_seeds, study.probe_samples, len(study.splits)
    data_key, train_key = jax.random.split(key)
    x, mask, probe_x, probe_y, het = _draw(st, data_key)
    k_init, k_train = jax.random.split(train_key)
    init_keys, train_keys = jax.random.split(k_init, S), jax.random.split(k_train, S)
    width = max(r.c for r in st.regimes)
    # Blocks of encoders probed in one call: (regime, method or None for the untrained encoder, features,
    # labels, finite). Diverged runs are probed on zeros; their accuracy is NaN below.
    blocks, ranks, diverged = [], {}, {}
    for j, regime in enumerate(st.regimes):
        if progress is not None:
            progress(f"heterogeneity map: regime {j + 1}/{len(st.regimes)} ({regime.label()}), "
                     f"{len(MAP_METHODS)} methods x {S * runs} runs")
        out, f0 = _program(st, regime)(init_keys, train_keys, x, mask, probe_x)
        for method in MAP_METHODS:
            f, rank, finite = (np.asarray(a) for a in out[method])
            blocks.append((regime, method, np.where(finite[:, None, None], f, 0.0), np.repeat(probe_y, runs, axis=0),
                           finite))
            diverged[(regime, method)] = int(np.sum(~finite))
            for i, split in enumerate(st.splits):
                ranks[(regime, method, split)] = np.where(finite, rank, np.nan).reshape(S, runs)[:, i]
        blocks.append((regime, None, np.asarray(f0), probe_y, np.ones(S, bool)))
    width = max(r.c for r in st.regimes)
    f = np.concatenate([_pad(b[2], width) for b in blocks])
    y = np.concatenate([b[3] for b in blocks])
    acc = np.asarray(linear_probe(f[:, :P], y[:, :P], f[:, P:], y[:, P:], n_classes=2 * st.N, method=PROBE_METHOD))
    accuracy, untrained, start = {}, {}, 0
    for regime, method, feats, _, finite in blocks:
        a = np.where(finite, acc[start:start + len(feats)], np.nan)
        start += len(feats)
        if method is None:
            untrained[regime] = a
            continue
        for i, split in enumerate(st.splits):
            accuracy[(regime, method, split)] = a.reshape(S, runs)[:, i]
    return HeterogeneityMap(study=st, key=key, accuracy=accuracy, untrained=untrained, rank=ranks,
                            diverged=diverged, heterogeneity=het)


# ----------------------------------------------------------------------------- summaries and the regime rule

#: A two-sided interval rule: values -> (mean, (lo, hi)), e.g. ``bounds.judging.rules.mean_ci``
#: (passed in, so the study stays free of the judging layer).
Interval = Callable[[np.ndarray], tuple[float, tuple[float, float]]]


def map_table(exp: HeterogeneityMap, interval: Interval) -> list[dict]:
    """One row per (regime, non-IID split): the untrained encoder's accuracy, each method's IID
    accuracy, drop and feature effective rank on the split, and the pooled drop (each a
    ``(mean, (lo, hi))`` of ``interval``)."""
    rows = []
    for regime in exp.study.regimes:
        for split in exp.study.splits[1:]:
            row = {"regime": regime, "split": split, "heterogeneity": exp.heterogeneity[split],
                   "untrained": interval(exp.untrained[regime]),
                   "pooled_drop": interval(exp.pooled_drop(regime, split))}
            for m in MAP_METHODS:
                row[m] = {"iid": interval(exp.accuracy[(regime, m, IID)]), "drop": interval(exp.drop(regime, m, split)),
                          "rank": float(np.nanmean(exp.rank[(regime, m, split)])),
                          "diverged": exp.diverged[(regime, m)]}
            rows.append(row)
    return rows


def selection_split(exp: HeterogeneityMap) -> str:
    """The split the regime rule reads: the most skewed Dirichlet split (the pathological one
    when the map has no Dirichlet split)."""
    st = exp.study
    return f"alpha={min(st.alphas):g}" if st.alphas else st.splits[-1]


def select_regime(exp: HeterogeneityMap, interval: Interval) -> Regime | None:
    """The regime the analogues run in, by a rule fixed before any method is compared: the
    cheapest regime (fewest local steps per client, ``Regime.cost``; then the larger ``c``, then
    the smaller drift) whose pooled drop (``HeterogeneityMap.pooled_drop``: the mean over MIM, CL
    and MAR of ``acc(iid) - acc(split)`` per seed, blind to which method loses less) at
    :func:`selection_split` has an ``interval`` above 0, among the regimes where every method
    learned: its IID accuracy's paired gain over the seed's untrained encoder has an ``interval``
    above 0 (a method that learned nothing has nothing to lose to heterogeneity, so a drop
    compared against it says nothing about robustness — e.g. SimSiam at ``c = 1``, whose cosine
    between two scalars is constant; the condition is the same for every method, blind to which
    loses less). None when no regime qualifies."""
    split = selection_split(exp)

    def above_zero(values) -> bool:
        lo = interval(values)[1][0]
        return bool(np.isfinite(lo) and lo > 0)

    for regime in sorted(exp.study.regimes, key=lambda r: (r.cost, -r.c, r.drift)):
        learned = all(above_zero(exp.accuracy[(regime, m, IID)] - exp.untrained[regime]) for m in MAP_METHODS)
        if learned and above_zero(exp.pooled_drop(regime, split)):
            return regime
    return None


__all__ = ["IID", "MAP_METHODS", "PROBE_METHOD", "HeterogeneityMap", "HeterogeneityStudy", "Interval", "Regime",
           "map_table", "measure", "select_regime", "selection_split"]
