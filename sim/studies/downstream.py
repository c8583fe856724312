"""Downstream studies: two-layer and linear MIM / CL encoders trained with FedAvg on split data,
probed on IID data (Table 1 and Table 5 analogues, Fig. 3).

Measurement only: sizes, the jitted experiment program and what it returns. The paper
measures robustness to non-IID data as the downstream accuracy of deep MAE (MIM) and SimSiam
(CL) models (Table 1) and the drift between local models (Table 5). Here shallow models
(``sim.models.shallow``) are trained with FedAvg on a data model split over clients three ways
(``sim.data.partition``). Two data models (``DATA_MODELS``): the paper's (Section 3.2), in which the
coordinates are independent given the class so a masked autoencoder has little to learn, and
the latent Gaussian mixture of ``sim.data.latent`` (shared low-dimensional structure, one draw of
``U`` and the class means per seed), with the same ``2N`` classes and shapes, so one compiled
program serves both. The splits:

- ``iid``: stratified split;
- ``label``: class-wise Dirichlet label skew, balanced;
- ``feature``: the IID split seen through a fixed per-client rotation (feature skew).

The global model's encoder is frozen and probed with multinomial logistic regression
(``sim.models.probe``) on a held-out IID sample; the test accuracy is the downstream accuracy.

Every seed draws its own partitions, client data, probe sets, initialisation and training
keys; within a seed the three splits share the initialisation, the training keys and the probe
sets (and MIM and CL share the encoder initialisation), so drops and MIM-vs-CL differences are
paired. SimSiam's views are Gaussian-noise augmentations; MAE masks with ratio ``p``. One
compiled program trains every (method, model) pair over all seeds x splits at once; one
compiled probe serves every run, including each seed's untrained encoder (the baseline a model
must beat to have learned anything).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from sim import checks
from sim.data import partition as part
from sim.data.config import DataConfig
from sim.data.latent import LatentConfig, make_latent_model
from sim.data.masks import MASK_RATIO
from sim.linear.metrics import SENSITIVITY_VARIANTS, representability, sensitivity
from sim.models.probe import linear_probe
from sim.models.shallow import MODELS, ShallowConfig, ShallowLoss, client_distances, encode, init_params, input_subspace
from sim.engine.train import TrainConfig, fedavg_program

#: The paper's two families and the loss that stands for each (Table 1: MAE vs SimSiam).
METHODS: tuple[str, ...] = ("MIM", "CL")
LOSS_OF: dict[str, str] = {"MIM": "mae", "CL": "simsiam"}
PROBE_METHOD = "logistic"
SKEWS: tuple[str, ...] = ("iid", "label", "feature")
#: The two encoder distances of Table 5 (columns of ``Experiment.distances``).
DISTANCES: tuple[str, ...] = ("local-vs-local", "local-vs-global")
#: The data models a study can run on (``sim.data.latent.DATA_MODELS`` names).
DATA_MODELS: tuple[str, ...] = ("paper", "latent")


@dataclasses.dataclass(frozen=True)
class DownstreamStudy:
    """Sizes of one suite. Data models ``data_models``: the paper's ``DataConfig(d, N)`` (tau,
    mu from the scalings) and the latent model ``LatentConfig(d, latent_k, 2N, latent_noise,
    latent_separation)``; ``2N`` classes over ``n_clients`` clients of ``samples_per_client``;
    FedAvg with full participation; ``c``-dimensional features; ``n_seeds`` paired seeds;
    ``probe_samples`` IID samples to fit the probe and as many to test it."""

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
    mask_ratio: float = MASK_RATIO
    aug_strength: float = 0.5
    optimizer: str = "adam"
    models: tuple[str, ...] = MODELS
    #: Compile with XLA's backend optimisations off: about half the compile time, slower
    #: execution -- the better trade when the runs themselves are tiny (smoke).
    fast_compile: bool = False
    data_models: tuple[str, ...] = DATA_MODELS
    latent_k: int = 4
    latent_noise: float = 0.2
    latent_separation: float = 2.0

    def __post_init__(self):
        # Every field at construction, before any computation (a ValueError naming the field,
        # the value and the allowed range); the configs built from the fields check the rest.
        checks.check_fields(self, {
            **{name: checks.count(1) for name in ("d", "n_clients", "samples_per_client", "rounds", "local_steps",
                                                  "batch_size", "hidden", "n_seeds", "probe_samples", "latent_k")},
            "N": checks.count(2),
            "learning_rate": checks.positive(), "alpha": checks.positive(),
            "feature_transform": checks.one_of(part.FEATURE_TRANSFORMS),
            "feature_strength": checks.positive(closed=True), "aug_strength": checks.positive(closed=True),
            "mask_ratio": checks.positive(high=1),
            "models": lambda field, v: checks.names(field, v, MODELS),
            "data_models": lambda field, v: checks.names(field, v, DATA_MODELS),
            "fast_compile": checks.flag,
        })
        checks.check_fields(self, {"c": checks.count(1, self.d, allowed=f"in [1, d] = [1, {self.d}]")})
        try:
            if "paper" in self.data_models:
                self.data_config()
            self.latent_config()
            self.train_config()
            for method, model in self.pairs:
                self.shallow(method, model)
        except ValueError as err:
            raise ValueError(f"DownstreamStudy: {err}") from None

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """The (method, model) pairs trained."""
        return tuple((method, model) for method in METHODS for model in self.models)

    def data_config(self) -> DataConfig:
        return DataConfig(d=self.d, N=self.N)

    def latent_config(self) -> LatentConfig:
        return LatentConfig(d=self.d, k=self.latent_k, n_classes=2 * self.N, noise=self.latent_noise,
                            separation=self.latent_separation)

    @property
    def n_classes(self) -> int:
        """``2N``, in both data models."""
        return 2 * self.N

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


Progress = Callable[[str], None] | None


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["key", "accuracy", "untrained", "distances", "sensitivity", "diverged",
                                "heterogeneity", "counts", "models", "probe_x", "probe_y"],
                   meta_fields=["study", "data_model"])
@dataclasses.dataclass(frozen=True, eq=False)
class Experiment:
    """Everything one run of the downstream study measured (a pytree).

    Per-seed arrays have shape ``(n_seeds,)``; keys are ``(method, model, skew)`` or
    ``(method, model)``. ``accuracy`` is NaN for a diverged run. ``untrained`` is the probe
    accuracy of each seed's initial (random) encoder. ``distances[...]`` is ``(n_seeds, 3)``,
    columns ``DISTANCES`` then the global encoder's summed layer norms
    (``sim.models.shallow.client_distances``). ``sensitivity[...][variant]`` is ``(n_seeds,)``.
    ``diverged[cell]`` counts the runs with a non-finite loss or feature. ``counts`` is
    ``(n_seeds, len(SKEWS), n_clients, 2N)``: how many samples of each class each client holds,
    ``heterogeneity[skew]`` their measured heterogeneity (means over clients and seeds).
    ``models[(method, model)]`` holds the trained ``(global_params, client_params)`` of every
    run, leading axis ordered (seed, skew). ``probe_x``/``probe_y``: the seed-0 IID test set.
    ``key`` is the key the study was measured with, ``data_model`` the data model's name.
    """

    study: DownstreamStudy
    data_model: str
    key: jax.Array
    accuracy: dict
    untrained: dict
    distances: dict
    sensitivity: dict
    diverged: dict
    heterogeneity: dict
    counts: np.ndarray
    models: dict
    probe_x: np.ndarray
    probe_y: np.ndarray

    def drop(self, method: str, model: str, skew: str) -> np.ndarray:
        """``acc(iid) - acc(skew)`` per seed (the quantity Table 1 compares)."""
        return self.accuracy[(method, model, "iid")] - self.accuracy[(method, model, skew)]

    def run_index(self, seed_index: int, skew: str) -> int:
        """Index of (seed, skew) on the leading axis of ``models``."""
        return seed_index * len(SKEWS) + SKEWS.index(skew)


def sensitivity_accuracy(exp: Experiment, variant: str) -> tuple[np.ndarray, np.ndarray]:
    """Paired (sensitivity, accuracy) of every non-diverged trained run, for ``variant``
    (Definition 4.1's sensitivity of the global model against its probe accuracy)."""
    s, a = [], []
    for cell, acc in exp.accuracy.items():
        ok = np.isfinite(acc)
        s.append(exp.sensitivity[cell][variant][ok])
        a.append(acc[ok])
    return np.concatenate(s), np.concatenate(a)


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
def _experiment_program(st: DownstreamStudy):
    """ONE compiled program for all (method, model) pairs: initialisation per seed, FedAvg over
    every run (vmap over the (seed, skew) axis; the three splits of a seed share the
    initialisation and the training keys), and the per-run analysis. XLA's cost per
    compilation dominates at these sizes, so one program compiles about twice as fast as one
    per pair, and nothing outside it is traced op by op."""
    N, runs = st.N, len(SKEWS)
    per_run = lambda a: jnp.repeat(a, runs, axis=0)  # noqa: E731  (seed axis -> (seed, skew) run axis)

    def program(init_keys, train_keys, x, mask, probe_x):
        out = []
        for method, model in st.pairs:
            sc = st.shallow(method, model)
            init = jax.vmap(lambda k: init_params(sc, key=k))(init_keys)
            train = jax.vmap(functools.partial(fedavg_program, loss_fn=ShallowLoss(sc), cfg=st.train_config()))
            result = train(jax.tree_util.tree_map(per_run, init), x, mask, per_run(train_keys))
            f, dist, sens = jax.vmap(functools.partial(_analysis, sc, N))(
                result.global_params, result.client_params, per_run(probe_x))
            untrained = jax.vmap(functools.partial(encode, sc))(init["encoder"], probe_x)
            out.append((result, f, untrained, dist, sens))
        return out

    return jax.jit(program, compiler_options={"xla_backend_optimization_level": 0} if st.fast_compile else None)


# ----------------------------------------------------------------------------- the study

def _say(progress: Progress, message: str) -> None:
    if progress is not None:
        progress(message)


def _splits(st: DownstreamStudy, key: jax.Array) -> tuple[list[dict], np.ndarray]:
    """Each seed's three splits (its own partition keys) and their class counts."""
    C = st.n_classes
    splits = []
    for s in range(st.n_seeds):
        ks = jax.random.split(jax.random.fold_in(key, s), 3)
        splits.append({
            "iid": part.iid(C, st.n_clients, st.samples_per_client, key=ks[0]),
            "label": part.dirichlet(C, st.n_clients, st.samples_per_client, st.alpha, balanced=True, key=ks[1]),
            "feature": part.feature_skew(C, st.n_clients, st.samples_per_client, st.d, st.feature_transform,
                                         st.feature_strength, key=ks[2]),
        })
    counts = np.stack([[np.asarray(row[skew].counts) for skew in SKEWS] for row in splits])
    return splits, counts


def _data(st: DownstreamStudy, data_model: str, splits: list[dict], k_data, k_probe):
    """Client data ``(S * 3, K, n_max, d)`` (run axis ordered (seed, skew)) and the IID probe
    sets ``(S, 2P, d)``, ``(S, 2P)`` (per seed, the first P samples fit the probe, the last P
    test it). The paper's model is drawn in one call; the latent model draws ``U`` and the class
    means once per seed (part of the trial) and that seed's data from its draw."""
    S, P = st.n_seeds, st.probe_samples
    flat = [row[skew] for row in splits for skew in SKEWS]
    if data_model == "paper":
        cfg = st.data_config()
        clients = part.client_data(cfg, flat, key=k_data)
        probe_x, probe_y = part.global_sample(cfg, 2 * P * S, key=k_probe)
        # On the host as the latent model's below: the program's arguments then have one kind
        # (host arrays), so both data models share one compiled program and its dispatch cache.
        return jax.tree_util.tree_map(np.asarray, (clients, probe_x.reshape(S, 2 * P, st.d), probe_y.reshape(S, 2 * P)))
    width = max(int(p.sizes.max()) for p in flat)
    k_models = jax.random.fold_in(k_data, len(SKEWS))
    drawn = []
    for s in range(S):
        model = make_latent_model(st.latent_config(), key=jax.random.fold_in(k_models, s))
        clients = part.client_data(model, [splits[s][skew] for skew in SKEWS], key=jax.random.fold_in(k_data, s),
                                   n_max=width)
        drawn.append((clients,) + part.global_sample(model, 2 * P, key=jax.random.fold_in(k_probe, s)))
    # Stacked on the host: op by op, each concatenation compiles a program of its own.
    clients = jax.tree_util.tree_map(lambda *leaves: np.concatenate([np.asarray(v) for v in leaves]),
                                     *(c for c, _, _ in drawn))
    return clients, np.stack([np.asarray(x) for _, x, _ in drawn]), np.stack([np.asarray(y) for _, _, y in drawn])


def _measure(st: DownstreamStudy, data_model: str, data_key: jax.Array, train_key: jax.Array,
             progress: Progress) -> dict:
    """The study with its two random streams: ``data_key`` (partitions, client samples, probe
    sets) and ``train_key`` (initialisation, minibatches, masks, augmentations)."""
    C, S, P, runs = st.n_classes, st.n_seeds, st.probe_samples, len(SKEWS)
    _say(progress, f"downstream ({data_model} data model): drawing {S} seeds x {runs} splits")
    k_seeds, k_data, k_probe = jax.random.split(data_key, 3)
    splits, counts = _splits(st, k_seeds)
    clients, probe_x, probe_y = _data(st, data_model, splits, k_data, k_probe)
    k_init, k_train = jax.random.split(train_key)
    init_keys, train_keys = jax.random.split(k_init, S), jax.random.split(k_train, S)
    _say(progress, f"downstream: training {len(st.pairs)} (method, model) pairs x {S * runs} FedAvg runs "
                   f"({st.rounds} rounds x {st.local_steps} local steps, {st.n_clients} clients)")
    # clients.x: (S * 3, K, n_max, d), run axis ordered (seed, skew).
    # The program depends on shapes and training settings only: both data models share it.
    results = _experiment_program(_program_key(st))(init_keys, train_keys, clients.x, clients.mask, probe_x)
    feats, untrained_feats, outputs = [], [], {}
    for pair, (result, f, f0, dist, sens) in zip(st.pairs, results):
        losses = np.where(np.asarray(result.participation), np.asarray(result.losses), 0.0)
        finite = np.isfinite(losses).all(axis=(1, 2)) & np.isfinite(np.asarray(f)).all(axis=(1, 2))
        feats.append(np.where(finite[:, None, None], np.asarray(f), 0.0))
        untrained_feats.append(f0)
        outputs[pair] = (result, finite, np.asarray(dist), np.asarray(sens))

    _say(progress, f"downstream: {PROBE_METHOD} probes on {len(feats) * S * (runs + 1)} encoders")
    allf = np.concatenate([np.asarray(f) for f in feats + untrained_feats])
    probe_y = np.asarray(probe_y)
    ally = np.concatenate([np.repeat(probe_y, runs, axis=0)] * len(feats) + [probe_y] * len(untrained_feats))
    acc = np.asarray(linear_probe(allf[:, :P], ally[:, :P], allf[:, P:], ally[:, P:], n_classes=C, method=PROBE_METHOD))
    n_trained = len(feats) * S * runs

    out = {name: {} for name in ("accuracy", "untrained", "distances", "sensitivity", "diverged", "models")}
    for j, (pair, (result, finite, dist, sens)) in enumerate(outputs.items()):
        a = np.where(finite, acc[j * S * runs:(j + 1) * S * runs], np.nan).reshape(S, runs)
        out["untrained"][pair] = acc[n_trained + j * S: n_trained + (j + 1) * S]
        out["models"][pair] = jax.tree_util.tree_map(np.asarray, (result.global_params, result.client_params))
        for i, skew in enumerate(SKEWS):
            cell = pair + (skew,)
            out["accuracy"][cell] = a[:, i]
            out["distances"][cell] = dist.reshape(S, runs, 3)[:, i]
            out["sensitivity"][cell] = {v: sens.reshape(S, runs, -1)[:, i, k] for k, v in enumerate(SENSITIVITY_VARIANTS)}
            out["diverged"][cell] = int(np.sum(~finite.reshape(S, runs)[:, i]))
    het = {skew: [part.heterogeneity(c).summary() for c in counts[:, i]] for i, skew in enumerate(SKEWS)}
    out["heterogeneity"] = {skew: {name: float(np.mean([h[name] for h in rows])) for name in rows[0]}
                            for skew, rows in het.items()}
    return out | {"counts": counts, "probe_x": np.asarray(probe_x[0, P:]), "probe_y": np.asarray(probe_y[0, P:])}


def _program_key(st: DownstreamStudy) -> DownstreamStudy:
    """``st`` with the fields the compiled program does not depend on (the data models) reset."""
    return dataclasses.replace(st, data_models=DATA_MODELS, latent_k=4, latent_noise=0.2, latent_separation=2.0)


def measure(study: DownstreamStudy, *, key: jax.Array, data_model: str = "paper",
            progress: Progress = None) -> Experiment:
    """Train and probe every (method, model, skew, seed) of ``study`` on the data model
    ``data_model`` (one of ``DATA_MODELS``); all randomness from ``key``.

    Keys of the ``"rbg"`` implementation are the fast choice: XLA's random-bit generator
    compiles much faster than threefry inside the training program (its streams reproduce on
    one backend, not across CPU and GPU).
    """
    if not isinstance(study, DownstreamStudy):
        raise ValueError(f"study={study!r} must be a DownstreamStudy")
    if not (isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) and key.shape == ()):
        raise ValueError(f"key={key!r} must be a single typed JAX key (jax.random.key)")
    if data_model not in DATA_MODELS:
        raise ValueError(f"data_model = {data_model!r} must be one of {DATA_MODELS}")
    data_key, train_key = jax.random.split(key)
    return Experiment(study=study, data_model=data_model, key=key,
                      **_measure(study, data_model, data_key, train_key, progress))


__all__ = ["DATA_MODELS", "DISTANCES", "LOSS_OF", "METHODS", "PROBE_METHOD", "SKEWS", "DownstreamStudy", "Experiment", "measure",
           "sensitivity_accuracy"]
