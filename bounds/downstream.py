"""Downstream accuracy under heterogeneity: the Table 1 and Table 5 analogues (SPEC 4, issue 4).

The paper measures robustness to non-IID data as downstream accuracy of deep MAE (MIM) and
SimSiam (CL) models. This module runs the same experiment where the theorems do not reach:
shallow models (``sim.shallow``: linear and two-layer ReLU encoders) trained with FedAvg
(``sim.train.fedavg_program``) on the SPEC 1.2 data model split over clients three ways
(``sim.partition``):

- ``iid``: stratified split;
- ``label``: class-wise Dirichlet label skew, balanced as in the reference code;
- ``feature``: the IID split seen through a fixed per-client rotation (feature skew).

The global model's encoder is frozen and probed with multinomial logistic regression
(``sim.probe``, method ``"logistic"``) on a held-out IID sample; the test accuracy is the
downstream accuracy and ``drop = acc(iid) - acc(skew)``.

Design: every seed draws its own partitions, client data, probe sets, initialisation and
training keys; within a seed the three splits share the initialisation, the training keys and
the probe sets (and MIM and CL share the encoder initialisation), so drops and MIM-vs-CL
differences are paired. SimSiam's views are Gaussian-noise augmentations; MAE masks with ratio
``p``. One compiled program trains every (method, model) pair over all seeds x splits at once
(``vmap`` over runs, clients vmapped inside the engine); one compiled probe serves every run,
including each seed's untrained encoder (the baseline a model must beat to have learned
anything).

Records (verdict rules below; ``ALPHA`` from ``bounds.records``):

- ``table1-mim-drop-le-cl-drop`` (simulation, per model x skew): the paired per-seed
  differences ``D_s = drop_CL - drop_MIM``; two-sided ``1 - ALPHA`` Student-t interval of their
  mean. ``holds`` if it lies above 0, ``fails`` if below 0, else ``inconclusive`` (the drops
  are equal within the noise of the seeds). ``holds`` becomes ``holds-trivially`` when the MIM
  model learned nothing the probe can use: the same interval for
  ``acc_MIM(iid) - acc(untrained MIM encoder)`` does not lie above 0 (a model at chance
  level has nothing to lose). A cell with a diverged run is ``inconclusive``.
- ``table1-mim-drop-le-cl-drop`` (reported, per dataset x backbone x skew): the paper's means
  compared directly (``holds`` iff MAE's drop <= SimSiam's); no error bars were reported, so
  the note says the margin's significance is unknown.
- ``table5-mim-divergence-le-cl-divergence`` (simulation, per model x skew x distance): the
  encoder's summed layer-wise l2 distances between the final local models (local vs local,
  local vs global), the paper's measure (MIM and CL share the encoder architecture and the
  initialisation); ``D_s = dist_CL - dist_MIM``, same t-interval rule. The distances relative
  to the global encoder's norm are reported alongside. Reported level: the paper's Table 5
  columns, MAE vs SimSiam.
- ``sensitivity-predicts-accuracy`` (simulation, per sensitivity variant): Spearman rank
  correlation, over all trained runs, between the global model's sensitivity (SPEC 1.4,
  representability of ``sim.shallow.input_subspace``) and its probe accuracy. ``holds`` if
  the correlation is negative with one-sided p < ALPHA, ``fails`` if positive with
  one-sided p < ALPHA, else ``inconclusive``.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import json
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from bounds.records import ALPHA, Record, sign_test_verdict
from bounds.suites import check_suite
from sim import partition as part
from sim.config import DataConfig
from sim.metrics import SENSITIVITY_VARIANTS, representability, sensitivity
from sim.probe import linear_probe
from sim.shallow import MODELS, ShallowConfig, ShallowLoss, client_distances, encode, init_params, input_subspace
from sim.train import TrainConfig, fedavg_program

#: The paper's two families and the loss that stands for each (Table 1: MAE vs SimSiam).
METHODS: tuple[str, ...] = ("MIM", "CL")
LOSS_OF: dict[str, str] = {"MIM": "mae", "CL": "simsiam"}
SKEWS: tuple[str, ...] = ("iid", "label", "feature")
DISTANCES: tuple[str, ...] = ("local-vs-local", "local-vs-global")
PROBE_METHOD = "logistic"

Progress = Callable[[str], None] | None


@dataclasses.dataclass(frozen=True)
class DownstreamSettings:
    """Sizes of one suite. Data model ``DataConfig(d, N)`` (tau, mu from the scalings), ``2N``
    classes over ``n_clients`` clients of ``samples_per_client``; FedAvg with full
    participation; ``c``-dimensional features; ``n_seeds`` paired seeds; ``probe_samples``
    IID samples to fit the probe and as many to test it."""

    d: int
    N: int
    n_clients: int
    samples_per_client: int
    rounds: int
    local_steps: int
    batch_size: int
    learning_rate: float
    c: int
    hidden: int
    n_seeds: int
    probe_samples: int
    alpha: float = 0.1
    feature_transform: str = "rotation"
    feature_strength: float = 1.0
    mask_ratio: float = 0.75
    aug_strength: float = 0.5
    optimizer: str = "adam"
    models: tuple[str, ...] = MODELS
    #: Compile with XLA's backend optimisations off: about half the compile time, slower
    #: execution -- the better trade when the runs themselves are tiny (smoke).
    fast_compile: bool = False

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """The (method, model) pairs trained."""
        return tuple((method, model) for method in METHODS for model in self.models)

    def data_config(self) -> DataConfig:
        return DataConfig(d=self.d, N=self.N)

    def shallow(self, method: str, model: str) -> ShallowConfig:
        return ShallowConfig(d=self.d, c=self.c, model=model, loss=LOSS_OF[method], hidden=self.hidden,
                             mask_ratio=self.mask_ratio, augmentation="noise", aug_strength=self.aug_strength)

    def train_config(self) -> TrainConfig:
        return TrainConfig(rounds=self.rounds, local_steps=self.local_steps, batch_size=self.batch_size,
                           learning_rate=self.learning_rate, optimizer=self.optimizer)

    def as_params(self) -> dict:
        return dataclasses.asdict(self) | {"algorithm": "fedavg", "mim_loss": "mae", "cl_loss": "simsiam",
                                           "cl_augmentation": "noise", "probe": PROBE_METHOD,
                                           "label_skew": f"dirichlet(alpha={self.alpha:g}, balanced)",
                                           "feature_skew": f"{self.feature_transform}(strength={self.feature_strength:g})"}


SETTINGS: dict[str, DownstreamSettings] = {
    # smoke: linear models only, fast compilation -- compiling dominates at these sizes.
    "smoke": DownstreamSettings(d=16, N=2, n_clients=4, samples_per_client=32, rounds=4, local_steps=2,
                                batch_size=16, learning_rate=3e-2, c=4, hidden=16, n_seeds=3, probe_samples=128,
                                models=("linear",), fast_compile=True),
    "default": DownstreamSettings(d=32, N=4, n_clients=8, samples_per_client=64, rounds=20, local_steps=5,
                                  batch_size=32, learning_rate=3e-2, c=8, hidden=64, n_seeds=8, probe_samples=512),
    "full": DownstreamSettings(d=64, N=4, n_clients=16, samples_per_client=128, rounds=50, local_steps=5,
                               batch_size=64, learning_rate=1e-2, c=8, hidden=128, n_seeds=16, probe_samples=2048),
}


@dataclasses.dataclass(frozen=True, eq=False)
class Experiment:
    """Everything measured by one run of the downstream experiment.

    Per-seed arrays have shape ``(n_seeds,)``; keys are ``(method, model, skew)`` or
    ``(method, model)``. ``accuracy`` is NaN for a diverged run. ``untrained`` is the probe
    accuracy of the initial (random) encoder of each seed. ``distances[...]`` is
    ``(n_seeds, 3)``: the encoder's local-vs-local and local-vs-global summed layer-wise l2
    distances and the global encoder's summed layer norms (``sim.shallow.client_distances``).
    ``sensitivity[...][variant]`` is ``(n_seeds,)``. ``heterogeneity[skew]`` holds the measured
    heterogeneity (means over clients and seeds). ``models[(method, model)]`` holds the trained
    ``(global_params, client_params)`` of every run, leading axis ordered (seed, skew).
    ``probe_x``/``probe_y``: the seed-0 IID test set.
    """

    suite: str
    seed: int
    settings: DownstreamSettings
    accuracy: dict
    untrained: dict
    distances: dict
    sensitivity: dict
    diverged: dict
    heterogeneity: dict
    models: dict
    probe_x: np.ndarray
    probe_y: np.ndarray

    def drop(self, method: str, model: str, skew: str) -> np.ndarray:
        """``acc(iid) - acc(skew)`` per seed."""
        return self.accuracy[(method, model, "iid")] - self.accuracy[(method, model, skew)]

    def run_index(self, seed_index: int, skew: str) -> int:
        """Index of (seed, skew) on the leading axis of ``models``."""
        return seed_index * len(SKEWS) + SKEWS.index(skew)


# ----------------------------------------------------------------------------- compiled programs

def _analysis(cfg: ShallowConfig, N: int, global_params, client_params, x):
    """One run: probe features of the global encoder, the client distances (local vs local,
    local vs global) and the global encoder's summed layer norms, and the global model's
    sensitivities."""
    enc = global_params["encoder"]
    norm = sum(jnp.linalg.norm(leaf.ravel()) for leaf in jax.tree_util.tree_leaves(enc))
    dist = jnp.stack(client_distances(client_params["encoder"], enc) + (norm,))
    r = representability(input_subspace(cfg, enc))
    sens = jnp.stack([sensitivity(r, v, N=N, c=cfg.c) for v in SENSITIVITY_VARIANTS])
    return encode(cfg, enc, x), dist, sens


@functools.lru_cache(maxsize=None)
def _experiment_program(st: DownstreamSettings):
    """ONE compiled program for all (method, model) pairs: initialisation per seed, FedAvg over
    every run (vmap over the (seed, skew) axis; the three splits of a seed share the
    initialisation and the training keys), and the per-run analysis. XLA's cost per
    compilation dominates at these sizes, so one program compiles about twice as fast as one
    per pair, and nothing outside it is traced op by op."""
    N, runs = st.data_config().N, len(SKEWS)
    per_run = lambda a: jnp.repeat(a, runs, axis=0)  # noqa: E731  (seed axis -> (seed, skew) run axis)

    def program(init_keys, train_keys, x, mask, probe_x):
        out = []
        for method, model in st.pairs:
            sc = st.shallow(method, model)
            init = jax.vmap(lambda k: init_params(sc, key=k))(init_keys)
            train = jax.vmap(functools.partial(fedavg_program, loss_fn=ShallowLoss(sc), cfg=st.train_config()))
            g, clients, losses, participation = train(jax.tree_util.tree_map(per_run, init), x, mask, per_run(train_keys))
            f, dist, sens = jax.vmap(functools.partial(_analysis, sc, N))(g, clients, per_run(probe_x))
            untrained = jax.vmap(functools.partial(encode, sc))(init["encoder"], probe_x)
            out.append((g, clients, losses, participation, f, untrained, dist, sens))
        return out

    return jax.jit(program, compiler_options={"xla_backend_optimization_level": 0} if st.fast_compile else None)


# ----------------------------------------------------------------------------- the experiment

_CACHE: dict[tuple[str, int], Experiment] = {}
_CACHE_SIZE = 4


def _say(progress: Progress, message: str) -> None:
    if progress is not None:
        progress(message)


def run_experiment(suite: str = "default", *, seed: int = 0, progress: Progress = None) -> Experiment:
    """Train and probe every (method, model, skew, seed) of ``suite``; cached per (suite, seed)."""
    check_suite(suite)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    if (suite, int(seed)) in _CACHE:
        return _CACHE[(suite, int(seed))]
    st = SETTINGS[suite]
    cfg = st.data_config()
    C, S, P = 2 * cfg.N, st.n_seeds, st.probe_samples
    _say(progress, f"downstream: drawing {S} seeds x {len(SKEWS)} splits")
    k_seeds, k_data, k_probe = jax.random.split(jax.random.key(int(seed)), 3)
    seed_keys = [jax.random.split(jax.random.fold_in(k_seeds, s), 3) for s in range(S)]
    splits, het = [], {skew: [] for skew in SKEWS}
    for ks in seed_keys:
        row = {"iid": part.iid(C, st.n_clients, st.samples_per_client, key=ks[0]),
               "label": part.dirichlet(C, st.n_clients, st.samples_per_client, st.alpha, balanced=True, key=ks[1]),
               "feature": part.feature_skew(C, st.n_clients, st.samples_per_client, st.d, st.feature_transform,
                                            st.feature_strength, key=ks[2])}
        splits.append(row)
        for skew in SKEWS:
            het[skew].append(part.heterogeneity(row[skew].counts).summary())
    clients = part.client_data(cfg, [row[skew] for row in splits for skew in SKEWS], key=k_data)
    x, mask = clients.x, clients.mask  # (S * 3, K, n_max, d), run axis ordered (seed, skew)
    # The IID probe sets, drawn in one call: per seed, the first P samples fit the probe, the last P test it.
    probe_x, probe_y = part.global_sample(cfg, 2 * P * S, key=k_probe)
    probe_x, probe_y = probe_x.reshape(S, 2 * P, cfg.d), probe_y.reshape(S, 2 * P)
    runs = len(SKEWS)
    # Initialisation and training randomness (minibatches, masks, augmentations) use the "rbg"
    # key implementation: XLA's random-bit generator compiles much faster than threefry inside
    # the compiled program. Its streams are reproducible on one backend, not across CPU and GPU.
    k_init, k_train = jax.random.split(jax.random.key(int(seed), impl="rbg"))
    init_keys, train_keys = jax.random.split(k_init, S), jax.random.split(k_train, S)
    _say(progress, f"downstream: training {len(st.pairs)} (method, model) pairs x {S * runs} FedAvg runs "
                   f"({st.rounds} rounds x {st.local_steps} local steps, {st.n_clients} clients)")
    results = _experiment_program(st)(init_keys, train_keys, x, mask, probe_x)
    feats, untrained_feats, outputs = [], [], {}
    for pair, (g, client_params, losses, participation, f, f0, dist, sens) in zip(st.pairs, results):
        finite = np.isfinite(np.where(np.asarray(participation), np.asarray(losses), 0.0)).all(axis=(1, 2))
        finite &= np.isfinite(np.asarray(f)).all(axis=(1, 2))
        feats.append(jnp.where(jnp.asarray(finite)[:, None, None], f, 0.0))
        untrained_feats.append(f0)
        outputs[pair] = (g, client_params, finite, np.asarray(dist), np.asarray(sens))

    _say(progress, f"downstream: {PROBE_METHOD} probes on {len(feats) * S * (runs + 1)} encoders")
    allf = jnp.concatenate(feats + untrained_feats)
    ally = jnp.concatenate([jnp.repeat(probe_y, runs, axis=0)] * len(feats) + [probe_y] * len(untrained_feats))
    acc = np.asarray(linear_probe(allf[:, :P], ally[:, :P], allf[:, P:], ally[:, P:], n_classes=C, method=PROBE_METHOD))
    n_trained = len(feats) * S * runs

    accuracy, untrained, distances, sens_out, diverged, models = {}, {}, {}, {}, {}, {}
    for j, (key, (g, clients, finite, dist, sens)) in enumerate(outputs.items()):
        a = np.where(finite, acc[j * S * runs:(j + 1) * S * runs], np.nan).reshape(S, runs)
        untrained[key] = acc[n_trained + j * S: n_trained + (j + 1) * S]
        models[key] = (g, clients)
        for i, skew in enumerate(SKEWS):
            cell = key + (skew,)
            accuracy[cell] = a[:, i]
            distances[cell] = dist.reshape(S, runs, 3)[:, i]
            sens_out[cell] = {v: sens.reshape(S, runs, -1)[:, i, k] for k, v in enumerate(SENSITIVITY_VARIANTS)}
            diverged[cell] = int(np.sum(~finite.reshape(S, runs)[:, i]))
    heterogeneity = {skew: {name: float(np.mean([h[name] for h in het[skew]])) for name in het[skew][0]} for skew in SKEWS}
    exp = Experiment(suite, int(seed), st, accuracy, untrained, distances, sens_out, diverged, heterogeneity, models,
                     np.asarray(probe_x[0, P:]), np.asarray(probe_y[0, P:]))
    if len(_CACHE) >= _CACHE_SIZE:  # keep the most recent experiments only (figures reuse the ledger's)
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[(suite, int(seed))] = exp
    return exp


# ----------------------------------------------------------------------------- statistics

def mean_ci(values, *, alpha: float = ALPHA) -> tuple[float, tuple[float, float]]:
    """Mean and two-sided ``1 - alpha`` Student-t interval of finite ``values`` (NaNs dropped;
    the interval is infinite with fewer than two values)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, (math.nan, math.nan)
    mean = float(v.mean())
    if v.size < 2:
        return mean, (-math.inf, math.inf)
    half = float(stats.t.ppf(1 - alpha / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return mean, (mean - half, mean + half)


def difference_verdict(diff) -> tuple[str, float, tuple[float, float], str]:
    """The t-interval rule on paired differences ``diff`` (claim: the difference is >= 0):
    ``(verdict, mean, ci, rule)``; see the module docstring."""
    diff = np.asarray(diff, dtype=float)
    mean, (lo, hi) = mean_ci(diff)
    if lo > 0:
        verdict = "holds"
    elif hi < 0:
        verdict = "fails"
    else:
        verdict = "inconclusive"
    sign = sign_test_verdict(diff)
    rule = (f"two-sided {100 * (1 - ALPHA):.0f}% t-interval of the mean paired difference over {diff.size} seeds: "
            f"[{lo:.4g}, {hi:.4g}]; holds if above 0, fails if below 0. (Sign test for reference: {sign.rule}.)")
    return verdict, mean, (lo, hi), rule


def accuracy_table(exp: Experiment) -> list[dict]:
    """One row per (method, model): mean and CI of the accuracy on each split and of the drops
    (what ``figures/table1.py`` tabulates and plots)."""
    rows = []
    for method, model in exp.settings.pairs:
        row = {"method": method, "loss": LOSS_OF[method], "model": model,
               "untrained": mean_ci(exp.untrained[(method, model)])}
        for skew in SKEWS:
            row[skew] = mean_ci(exp.accuracy[(method, model, skew)])
        for skew in SKEWS[1:]:
            row[f"drop_{skew}"] = mean_ci(exp.drop(method, model, skew))
        rows.append(row)
    return rows


def distance_table(exp: Experiment) -> list[dict]:
    """One row per (method, model, skew): mean and CI of the encoder distances, absolute and
    relative to the global encoder's summed layer norms (what ``figures/table5.py`` tabulates)."""
    rows = []
    for method, model in exp.settings.pairs:
        for skew in SKEWS:
            dist = exp.distances[(method, model, skew)]
            row = {"method": method, "loss": LOSS_OF[method], "model": model, "skew": skew}
            for k, kind in enumerate(DISTANCES):
                row[kind] = mean_ci(dist[:, k])
                row[f"{kind} (relative)"] = mean_ci(dist[:, k] / dist[:, 2])
            rows.append(row)
    return rows


# ----------------------------------------------------------------------------- reported numbers

def _load(name: str) -> dict:
    return json.loads(importlib.resources.files("bounds").joinpath("data", name).read_text())


def reported_table1() -> dict:
    """The paper's Table 1 (SPEC 4) as shipped in ``bounds/data/table1.json``."""
    return _load("table1.json")


def reported_table5() -> dict:
    """The paper's Table 5 (SPEC 4) as shipped in ``bounds/data/table5.json``."""
    return _load("table5.json")


def reported_drops() -> list[dict]:
    """One row per (dataset, backbone, skew): SimSiam's and MAE's drops from IID (points)."""
    table = reported_table1()
    acc = {(r["method"], r["backbone"], r["dataset"]): r["accuracy"] for r in table["rows"]}
    rows = []
    for (method, backbone, dataset), a in acc.items():
        if method != "MAE":
            continue
        s = acc[("SimSiam", backbone, dataset)]
        for j, skew in enumerate(table["columns"][1:], start=1):
            rows.append({"dataset": dataset, "backbone": backbone, "skew": skew, "mae": [a[0], a[j]],
                         "simsiam": [s[0], s[j]], "mae_drop": a[0] - a[j], "simsiam_drop": s[0] - s[j]})
    return rows


# ----------------------------------------------------------------------------- records

def _table1_simulation(exp: Experiment) -> list[Record]:
    out = []
    for model in exp.settings.models:
        for skew in SKEWS[1:]:
            d_mim, d_cl = exp.drop("MIM", model, skew), exp.drop("CL", model, skew)
            n_div = exp.diverged[("MIM", model, skew)] + exp.diverged[("CL", model, skew)] \
                + exp.diverged[("MIM", model, "iid")] + exp.diverged[("CL", model, "iid")]
            diff = d_cl - d_mim
            learned = exp.accuracy[("MIM", model, "iid")] - exp.untrained[("MIM", model)]
            l_mean, l_ci = mean_ci(learned)
            if n_div:
                verdict, mean, ci = "inconclusive", float(np.nanmean(diff)), None
                rule = f"{n_div} run(s) diverged (non-finite loss or features); no verdict."
            else:
                verdict, mean, ci, rule = difference_verdict(diff)
                if verdict == "holds" and not l_ci[0] > 0:
                    verdict = "holds-trivially"
                    rule += (f" holds-trivially: the MIM model's IID accuracy is not above its untrained encoder's "
                             f"(difference {l_mean:.3f}, CI [{l_ci[0]:.3f}, {l_ci[1]:.3f}]), so it had nothing to lose.")
            acc = {f"{m}_{s}": float(np.nanmean(exp.accuracy[(m, model, s)])) for m in METHODS for s in ("iid", skew)}
            out.append(Record(
                claim="table1-mim-drop-le-cl-drop", source=f"Table 1 analogue ({model} encoder, {skew} skew)",
                level="simulation", verdict=verdict, reading={"mim": "mae", "cl": "simsiam"},
                bound=float(np.nanmean(d_cl)), empirical=float(np.nanmean(d_mim)), margin=mean, ci=ci,
                n_seeds=int(diff.size),
                params={"model": model, "skew": skew, "suite": exp.suite, **exp.settings.as_params(),
                        "mean_accuracy": acc, "untrained_accuracy_mim": float(np.mean(exp.untrained[("MIM", model)])),
                        "heterogeneity": exp.heterogeneity[skew]},
                note=(f"bound = mean CL (SimSiam) drop, empirical = mean MIM (MAE) drop, margin = mean of "
                      f"drop_CL - drop_MIM (accuracy fractions, linear probe on the FedAvg global encoder). {rule}"),
            ))
    return out


def _table1_reported() -> list[Record]:
    table = reported_table1()
    out = []
    for row in reported_drops():
        holds = row["mae_drop"] <= row["simsiam_drop"]
        out.append(Record(
            claim="table1-mim-drop-le-cl-drop",
            source=f"Table 1 ({row['dataset']}, {row['backbone']}, {table['column_meaning'][row['skew']]})",
            level="reported", verdict="holds" if holds else "fails", reading={"mim": "mae", "cl": "simsiam"},
            bound=row["simsiam_drop"], empirical=row["mae_drop"], margin=row["simsiam_drop"] - row["mae_drop"],
            n_seeds=int(table["n_seeds"]),
            params={k: row[k] for k in ("dataset", "backbone", "skew", "mae", "simsiam")},
            note=("bound = SimSiam drop, empirical = MAE drop (accuracy points, IID minus non-IID) from the paper's "
                  "reported means; the paper gives no error bars, so whether the margin exceeds seed noise is unknown."),
        ))
    return out


def _table5_simulation(exp: Experiment) -> list[Record]:
    out = []
    for model in exp.settings.models:
        for skew in SKEWS[1:]:
            for k, kind in enumerate(DISTANCES):
                mim = exp.distances[("MIM", model, skew)][:, k]
                cl = exp.distances[("CL", model, skew)][:, k]
                rel = {m: exp.distances[(m, model, skew)][:, k] / exp.distances[(m, model, skew)][:, 2] for m in METHODS}
                n_div = exp.diverged[("MIM", model, skew)] + exp.diverged[("CL", model, skew)]
                if n_div:
                    verdict, mean, ci = "inconclusive", float(np.mean(cl - mim)), None
                    rule = f"{n_div} run(s) diverged; no verdict."
                else:
                    verdict, mean, ci, rule = difference_verdict(cl - mim)
                out.append(Record(
                    claim="table5-mim-divergence-le-cl-divergence",
                    source=f"Table 5 analogue ({model} encoder, {skew} skew, {kind})", level="simulation",
                    verdict=verdict, reading={"mim": "mae", "cl": "simsiam"},
                    bound=float(np.mean(cl)), empirical=float(np.mean(mim)), margin=mean, ci=ci, n_seeds=int(mim.size),
                    params={"model": model, "skew": skew, "distance": kind, "suite": exp.suite, **exp.settings.as_params(),
                            "mean_distance_iid": {m: float(np.mean(exp.distances[(m, model, "iid")][:, k])) for m in METHODS},
                            "mean_relative_distance": {m: float(np.mean(rel[m])) for m in METHODS}},
                    note=(f"{kind} summed layer-wise l2 distance of the final local encoders (the paper's measure; MIM "
                          f"and CL share the encoder architecture and initialisation); bound = CL mean, empirical = MIM "
                          f"mean, margin = mean CL - MIM. The same distance relative to the global encoder's summed "
                          f"layer norms is in params (MIM {np.mean(rel['MIM']):.3g}, CL {np.mean(rel['CL']):.3g}). {rule}"),
                ))
    return out


def _table5_reported() -> list[Record]:
    table = reported_table5()
    dist = {r["method"]: r["distance"] for r in table["rows"]}
    out = []
    for j, column in enumerate(table["columns"]):
        mae, simsiam = dist["MAE"][j], dist["SimSiam"][j]
        out.append(Record(
            claim="table5-mim-divergence-le-cl-divergence", source=f"Table 5 ({column})", level="reported",
            verdict="holds" if mae <= simsiam else "fails", reading={"mim": "mae", "cl": "simsiam"},
            bound=simsiam, empirical=mae, margin=simsiam - mae,
            params={"column": column, "values": {m: dist[m][j] for m in dist}},
            note=f"bound = SimSiam, empirical = MAE (the paper's reported distances). {table['column_meaning']}.",
        ))
    return out


def sensitivity_accuracy(exp: Experiment, variant: str) -> tuple[np.ndarray, np.ndarray]:
    """Paired (sensitivity, accuracy) of every non-diverged trained run, for ``variant``."""
    s, a = [], []
    for cell, acc in exp.accuracy.items():
        ok = np.isfinite(acc)
        s.append(exp.sensitivity[cell][variant][ok])
        a.append(acc[ok])
    return np.concatenate(s), np.concatenate(a)


def _correlation_records(exp: Experiment) -> list[Record]:
    out = []
    for variant in SENSITIVITY_VARIANTS:
        s, a = sensitivity_accuracy(exp, variant)
        if s.size < 3 or np.ptp(s) == 0 or np.ptp(a) == 0:
            rho, p_neg, p_pos, verdict = math.nan, math.nan, math.nan, "inconclusive"
            rule = "too few runs or a constant variable: no rank correlation."
        else:
            rho = float(stats.spearmanr(s, a).statistic)
            p_neg = float(stats.spearmanr(s, a, alternative="less").pvalue)
            p_pos = float(stats.spearmanr(s, a, alternative="greater").pvalue)
            verdict = "holds" if p_neg < ALPHA else "fails" if p_pos < ALPHA else "inconclusive"
            rule = (f"Spearman rho = {rho:.3f} over {s.size} runs; one-sided p (negative) = {p_neg:.3g}, "
                    f"p (positive) = {p_pos:.3g}, alpha = {ALPHA}.")
        out.append(Record(
            claim="sensitivity-predicts-accuracy", source="Definition 4.1 vs downstream accuracy (toolkit-added)",
            level="simulation", verdict=verdict, reading={"sensitivity": variant},
            bound=0.0, empirical=rho, margin=None if math.isnan(rho) else -rho, n_seeds=exp.settings.n_seeds,
            params={"suite": exp.suite, "runs": int(s.size), **exp.settings.as_params()},
            note=("Does a lower sensitivity of the global model go with a higher probe accuracy? Runs pooled over "
                  "MIM/CL, linear/two-layer, iid/label/feature and seeds; representability of row(W) (linear) or of "
                  f"the top-c right singular subspace of W1 (two-layer). {rule}"),
        ))
    return out


def records(suite: str, *, seed: int, progress: Progress = None) -> list[Record]:
    """Every downstream record (see the module docstring) at ``suite`` size."""
    exp = run_experiment(suite, seed=seed, progress=progress)
    return (_table1_simulation(exp) + _table1_reported() + _table5_simulation(exp) + _table5_reported()
            + _correlation_records(exp))


__all__ = [
    "DISTANCES", "METHODS", "SETTINGS", "SKEWS", "DownstreamSettings", "Experiment", "accuracy_table",
    "difference_verdict", "distance_table", "mean_ci", "records", "reported_drops", "reported_table1",
    "reported_table5", "run_experiment", "sensitivity_accuracy",
]
