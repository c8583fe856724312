"""MAR study: FedMAR and DecMAR against plain MIM on the latent data model (Fig. 2b, Tables 7
and 8, the MAR rows of Table 5 and Fig. 3 of the paper, as synthetic analogues).

Measurement only. Data: the latent Gaussian mixture of ``sim.data.latent`` (shared low-dimensional
structure, so a masked autoencoder has something to learn; one draw of ``U`` and the class
means per seed), ``2N`` classes split over ``n_clients`` clients by the balanced class-wise
Dirichlet partitioner at each ``alpha``. Encoders: the MAE of ``sim.models.shallow`` trained by
FedMAR (FL, partial participation) or DecMAR (DecL on a random regular graph, uniform mixing)
from ``sim.models.mar_train``; plain MIM is the same program at ``gamma = 0``. The global encoder is
probed on a held-out IID sample (``sim.models.probe``), next to the untrained encoder of each seed.

Settings (one vmapped run axis, one compiled program per algorithm; see ``MARStudy.settings``):

- Fig. 2b: MIM vs MAR (cosine schedule 0.1 -> 0.001, A-MMD mean bandwidth) at every ``alpha``,
  FL and DecL;
- Table 7 (FL, ``table_alpha``): the four alignment metrics at constant ``gamma`` in
  ``table7_gammas``;
- Table 8 (FL, ``table_alpha``): A-MMD at constant ``gamma`` in ``table8_gammas`` and the cosine
  schedule;
- Table 5 / Fig. 3: the encoder distances and the local / global models of the FL runs.

Within a seed every setting at one ``alpha`` shares the split, the data, the initialisation and
the training keys, so MIM-vs-MAR and metric-vs-metric differences are paired.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from sim import checks
from sim.data import draws
from sim.data import partition as part
from sim.engine import xla
from sim.data.latent import LatentConfig, make_latent_model
from sim.data.masks import MASK_RATIO
from sim.models.mar import GAMMA_MAX, GAMMA_MIN
from sim.models.mar_train import MixedMARLoss, decmar_program, fedmar_program, metric_weights
from sim.engine.mixing import mixing_matrix
from sim.models.probe import linear_probe
from sim.models.shallow import ShallowConfig, client_distances, encode, init_params
from sim.engine.topology import make_topology
from sim.engine.train import TrainConfig

ALGORITHMS: tuple[str, ...] = ("FL", "DecL")
#: Table 7's alignment metrics (``sim.models.mar.METRICS`` names) and the paper's choice.
TABLE7_METRICS: tuple[str, ...] = ("cosine", "mmd-sigma1", "a-mmd-median", "a-mmd-mean")
PAPER_METRIC = "a-mmd-mean"
PROBE_METHOD = "logistic"
#: Redraws allowed for a Dirichlet split that leaves a client empty (small alpha): the split is
#: then a draw conditioned on every client holding data, and the record says how many it took.
MAX_REDRAWS = 64


@dataclasses.dataclass(frozen=True)
class Setting:
    """One training setting: algorithm, Dirichlet ``alpha``, alignment ``metric`` and the
    schedule (Eq. 7) ``gamma_max -> gamma_min`` (equal: constant gamma; both 0: plain MIM)."""

    algorithm: str
    alpha: float
    metric: str
    gamma_max: float
    gamma_min: float

    @property
    def method(self) -> str:
        return "MIM" if self.gamma_max == 0 else "MAR"

    @property
    def schedule(self) -> str:
        if self.gamma_max == 0:
            return "none"
        return f"constant {self.gamma_max:g}" if self.gamma_max == self.gamma_min else \
            f"cosine {self.gamma_max:g}->{self.gamma_min:g}"


@dataclasses.dataclass(frozen=True)
class MARStudy:
    """Sizes of one suite (see the module docstring). ``clients_per_round`` FL participants per
    round; ``avg_connectivity`` the DecL graph's ``|Ā|`` (self included)."""

    d: int
    N: int
    c: int
    hidden: int
    n_clients: int
    samples_per_client: int
    n_seeds: int
    probe_samples: int
    rounds: int
    local_steps: int
    batch_size: int
    learning_rate: float
    model: str = "two-layer"
    clients_per_round: int | None = None
    avg_connectivity: float = 3.0
    alphas: tuple[float, ...] = (1.0, 0.1, 0.01, 0.001)
    table_alpha: float = 0.1
    table7_gammas: tuple[float, ...] = (0.1, 0.01)
    table8_gammas: tuple[float, ...] = (1.0, 0.1, 0.01, 0.001)
    mask_ratio: float = MASK_RATIO
    optimizer: str = "adam"
    latent_k: int = 4
    latent_noise: float = 0.2
    latent_separation: float = 2.0
    fast_compile: bool = False

    def __post_init__(self):
        # Every field at construction, before any computation (a ValueError naming the field,
        # the value and the allowed range); the configs built from the fields check the rest.
        checks.check_fields(self, {
            **{name: checks.count(1) for name in ("d", "c", "hidden", "n_clients", "samples_per_client", "n_seeds",
                                                  "probe_samples", "rounds", "local_steps", "batch_size", "latent_k")},
            "N": checks.count(2),
            "learning_rate": checks.positive(),
            "alphas": checks.reals, "table7_gammas": checks.reals, "table8_gammas": checks.reals,
            "mask_ratio": checks.positive(high=1),
            "fast_compile": checks.flag,
        })
        checks.check_fields(self, {
            "c": checks.count(1, self.d, allowed=f"in [1, d] = [1, {self.d}]"),
            # |Ā| counts the client itself: between 1 (alone) and n_clients (every client).
            "avg_connectivity": checks.positive(low=1, high=self.n_clients, closed=True),
            "table_alpha": checks.positive(),
        })
        if self.table_alpha not in self.alphas:
            raise ValueError(f"MARStudy.table_alpha = {self.table_alpha!r} is out of range: must be one of "
                             f"alphas = {self.alphas}")
        if self.clients_per_round is not None:
            checks.check_fields(self, {"clients_per_round": checks.count(1, self.n_clients)})
        try:
            self.latent_config()
            self.shallow()
            self.train_config("FL")
        except ValueError as err:
            raise ValueError(f"MARStudy: {err}") from None

    def latent_config(self) -> LatentConfig:
        return LatentConfig(d=self.d, k=self.latent_k, n_classes=2 * self.N, noise=self.latent_noise,
                            separation=self.latent_separation)

    def shallow(self) -> ShallowConfig:
        return ShallowConfig(d=self.d, c=self.c, model=self.model, loss="mae", hidden=self.hidden,
                             mask_ratio=self.mask_ratio)

    def train_config(self, algorithm: str) -> TrainConfig:
        return TrainConfig(rounds=self.rounds, local_steps=self.local_steps, batch_size=self.batch_size,
                           learning_rate=self.learning_rate, optimizer=self.optimizer,
                           clients_per_round=self.clients_per_round if algorithm == "FL" else None)

    def settings(self, algorithm: str) -> tuple[Setting, ...]:
        """The settings trained with ``algorithm``, without repeats: MIM and MAR at every alpha
        (Fig. 2b); for FL also Table 7's metrics x constant gammas and Table 8's constant gammas
        at ``table_alpha``."""
        out = []
        for alpha in self.alphas:
            out += [Setting(algorithm, alpha, PAPER_METRIC, 0.0, 0.0),
                    Setting(algorithm, alpha, PAPER_METRIC, GAMMA_MAX, GAMMA_MIN)]
        if algorithm == "FL":
            a = self.table_alpha
            out += [Setting("FL", a, m, g, g) for m in TABLE7_METRICS for g in self.table7_gammas]
            out += [Setting("FL", a, PAPER_METRIC, g, g) for g in self.table8_gammas]
        return tuple(dict.fromkeys(out))

    def as_params(self) -> dict:
        return dataclasses.asdict(self) | {"data_model": "latent", "mim_loss": "mae", "probe": PROBE_METHOD,
                                           "label_skew": "dirichlet(balanced)", "z_bar": "one batch per client",
                                           "a_mmd_variant": "paper", "decl_mixing": "uniform on a random regular graph"}


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["key", "accuracy", "untrained", "distances", "diverged", "heterogeneity", "redraws",
                                "models", "probe_x", "probe_y"],
                   meta_fields=["study"])
@dataclasses.dataclass(frozen=True, eq=False)
class MARExperiment:
    """What one MAR study measured. ``accuracy[setting]`` and ``distances[setting]`` are per
    seed (``(n_seeds,)`` and ``(n_seeds, 2)``: local-vs-local, local-vs-global), NaN where the
    run diverged; ``diverged[setting]`` counts those runs; ``untrained`` ``(n_seeds,)`` the
    probe accuracy of each seed's initial encoder; ``heterogeneity[alpha]`` and
    ``redraws[alpha]`` the measured heterogeneity of the splits and the redraws they needed;
    ``models[setting]`` the seed-0 ``(global_params, client_params)`` (FL; for Fig. 3);
    ``probe_x``/``probe_y`` the seed-0 IID test set."""

    study: MARStudy
    key: jax.Array
    accuracy: dict
    untrained: np.ndarray
    distances: dict
    diverged: dict
    heterogeneity: dict
    redraws: dict
    models: dict
    probe_x: np.ndarray
    probe_y: np.ndarray


def dirichlet_split(n_classes: int, n_clients: int, samples_per_client: int, alpha: float, *,
                    key) -> tuple[part.Partition, int]:
    """The balanced class-wise Dirichlet split, redrawn (up to ``MAX_REDRAWS`` times) until every
    client holds data, and the number of redraws it took."""
    for attempt in range(MAX_REDRAWS):
        try:
            p = part.dirichlet(n_classes, n_clients, samples_per_client, alpha, balanced=True,
                               key=jax.random.fold_in(key, attempt))
            return p, attempt
        except ValueError:
            continue
    raise ValueError(f"alpha = {alpha:g}: no balanced Dirichlet split with every client non-empty in "
                     f"{MAX_REDRAWS} draws; raise alpha or samples_per_client")


def _draw(st: MARStudy, data_key):
    """Per seed: a latent model, one split and client data per alpha, the IID probe sets."""
    k_split, k_model, k_data, k_probe = jax.random.split(data_key, 4)
    splits = [[dirichlet_split(2 * st.N, st.n_clients, st.samples_per_client, a,
                               key=jax.random.fold_in(jax.random.fold_in(k_split, s), j)) for j, a in enumerate(st.alphas)]
              for s in range(st.n_seeds)]
    # A common padded width (rounded up, so nearby draws share the compiled program's shapes).
    width = max(int(p.sizes.max()) for row in splits for p, _ in row)
    width = -(-width // 16) * 16
    xs, masks, px, py = [], [], [], []
    P = st.probe_samples
    for s, row in enumerate(splits):
        model = make_latent_model(st.latent_config(), key=jax.random.fold_in(k_model, s))
        data = part.client_data(model, [p for p, _ in row], key=jax.random.fold_in(k_data, s), n_max=width)
        xs.append(data.x)
        masks.append(data.mask)
        x, y = part.global_sample(model, 2 * P, key=jax.random.fold_in(k_probe, s))
        px.append(x)
        py.append(y)
    het = {a: {name: float(np.mean([part.heterogeneity(row[j][0].counts).summary()[name] for row in splits]))
               for name in ("classes_per_client", "top2_mass", "tv_distance")} for j, a in enumerate(st.alphas)}
    redraws = {a: int(sum(row[j][1] for row in splits)) for j, a in enumerate(st.alphas)}
    # (S, A, K, n_max, d), (S, A, K, n_max), (S, 2P, d), (S, 2P)
    return jnp.stack(xs), jnp.stack(masks), jnp.stack(px), jnp.stack(py), het, redraws


def metrics_of(algorithm: str) -> tuple[str, ...]:
    """The alignment metrics a program computes: Table 7's four for FL, the paper's A-MMD alone
    for DecL (each extra metric costs compile and run time at every local step)."""
    return TABLE7_METRICS if algorithm == "FL" else (PAPER_METRIC,)


@functools.lru_cache(maxsize=None)
def _program(st: MARStudy, algorithm: str):
    """ONE compiled program per algorithm: every (setting, seed) run vmapped, then the probe
    features and the encoder distances of each run."""
    sc = st.shallow()
    loss = MixedMARLoss(sc, metrics=metrics_of(algorithm))
    cfg = st.train_config(algorithm)

    def run(p0, x, mask, w, key, gmax, gmin, metric):
        if algorithm == "FL":
            return fedmar_program(p0, x, mask, key, gmax, gmin, metric, loss_fn=loss, cfg=cfg)
        return decmar_program(p0, x, mask, w, key, gmax, gmin, metric, loss_fn=loss, cfg=cfg)

    def analyse(result, probe_x):
        enc = result.global_params["encoder"]
        return encode(sc, enc, probe_x), jnp.stack(client_distances(result.client_params["encoder"], enc))

    def program(init, x, mask, w, keys, gmax, gmin, metric, probe_x):
        result = jax.vmap(run)(init, x, mask, w, keys, gmax, gmin, metric)
        feats, dist = jax.vmap(analyse)(result, probe_x)
        return result, feats, dist

    # XLA's loop emitters compile these faster (`sim.engine.xla`), and -O1 than the default -O2 at no
    # run-time cost (default suite, producer alone, jax 0.9.2, 2 cores: 43-50 CPU s against 55-63,
    # compile 15-18 s against 22-25; -O0 compiles in 12 s but the producer takes 75 CPU s);
    # -O0 for the small suites.
    level = 0 if st.fast_compile else 1
    return xla.jit(program, options=(*xla.LOOP_EMITTERS, ("xla_backend_optimization_level", level)))


def _mixing(st: MARStudy, key) -> np.ndarray:
    topo = make_topology("regular", st.n_clients, avg_connectivity=st.avg_connectivity, key=key)
    return np.asarray(mixing_matrix(topo, "uniform").weights)


def measure(study: MARStudy, *, key: jax.Array) -> MARExperiment:
    """Train and probe every (setting, seed) of ``study``; all randomness from ``key``."""
    if not isinstance(study, MARStudy):
        raise ValueError(f"study = {study!r} must be a MARStudy")
    if not (isinstance(key, jax.Array) and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) and key.shape == ()):
        raise ValueError(f"key = {key!r} must be a single typed JAX key (jax.random.key)")
    st = study
    S, P = st.n_seeds, st.probe_samples
    data_key, train_key = jax.random.split(key)
    x, mask, probe_x, probe_y, het, redraws = _draw(st, data_key)
    k_init, k_train, k_graph = jax.random.split(train_key, 3)
    init = jax.vmap(lambda k: init_params(st.shallow(), key=k))(jax.random.split(k_init, S))
    train_keys = jax.random.split(k_train, S)
    host = lambda tree, rows: jax.tree_util.tree_map(lambda a: np.asarray(a)[rows], tree)  # noqa: E731
    x, mask, probe_x, probe_y = (np.asarray(a) for a in (x, mask, probe_x, probe_y))
    seeds = np.arange(S)
    out = {"accuracy": {}, "distances": {}, "diverged": {}, "models": {}}
    feats_all, labels_all, index = [], [], []
    for algorithm in ALGORITHMS:
        settings = st.settings(algorithm)
        # run axis ordered (setting, seed)
        si = np.repeat(np.arange(len(settings)), S)
        sd = np.tile(seeds, len(settings))
        aj = np.array([st.alphas.index(settings[i].alpha) for i in si])
        if algorithm == "DecL":
            w = np.stack([_mixing(st, jax.random.fold_in(k_graph, s)) for s in seeds])[sd]
        else:
            w = np.zeros((len(sd), 1, 1))
        vec = lambda f: np.asarray([f(settings[i]) for i in si], jnp.result_type(float))  # noqa: E731
        onehot = {m: np.asarray(metric_weights(m, metrics_of(algorithm))) for m in {s.metric for s in settings}}
        # Per-run inputs gathered on the host: op by op, each gather compiles a program of its own.
        result, feats, dist = _program(st, algorithm)(
            host(init, sd), x[sd, aj], mask[sd, aj], w, draws.take_keys(train_keys, sd), vec(lambda s: s.gamma_max),
            vec(lambda s: s.gamma_min), np.stack([onehot[settings[i].metric] for i in si]), probe_x[sd])
        losses = np.where(np.asarray(result.participation), np.asarray(result.losses), 0.0)
        finite = np.isfinite(losses).all(axis=(1, 2)) & np.isfinite(np.asarray(feats)).all(axis=(1, 2))
        dist = np.where(finite[:, None], np.asarray(dist), np.nan)
        for j, setting in enumerate(settings):
            rows = slice(j * S, (j + 1) * S)
            out["distances"][setting] = dist[rows]
            out["diverged"][setting] = int(np.sum(~finite[rows]))
            if algorithm == "FL":
                out["models"][setting] = host((result.global_params, result.client_params), j * S)
            index.append((setting, finite[rows]))
        # A diverged run's features are replaced by zeros for the probe; its accuracy is NaN below.
        feats_all.append(np.where(finite[:, None, None], np.asarray(feats), 0.0))
        labels_all.append(probe_y[sd])
    # Each seed's untrained encoder, probed in the same call.
    feats_all.append(jax.vmap(lambda e, px: encode(st.shallow(), e, px))(init["encoder"], probe_x))
    labels_all.append(probe_y)
    f, y = np.concatenate([np.asarray(a) for a in feats_all]), np.concatenate(labels_all)
    acc = np.asarray(linear_probe(f[:, :P], y[:, :P], f[:, P:], y[:, P:], n_classes=2 * st.N, method=PROBE_METHOD))
    for k, (setting, finite) in enumerate(index):
        out["accuracy"][setting] = np.where(finite, acc[k * S:(k + 1) * S], np.nan)
    return MARExperiment(study=st, key=key, untrained=acc[len(index) * S:], heterogeneity=het, redraws=redraws,
                         probe_x=np.asarray(probe_x[0, P:]), probe_y=np.asarray(probe_y[0, P:]), **out)


__all__ = ["ALGORITHMS", "PAPER_METRIC", "TABLE7_METRICS", "MARExperiment", "MARStudy", "Setting", "dirichlet_split",
           "measure"]
