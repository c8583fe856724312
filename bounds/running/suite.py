"""Suites: every producer's sizes in one value, ``smoke`` (tests), ``default`` (``verify``,
target under 2 minutes on 2 CPU cores; about 1 min 30 s cold, 54 s with a warm compilation cache, on
a 2-core machine), ``full`` (tens of minutes) and ``paper`` (``full`` with the paper's FL client
counts and schedule for the MAR analogues; its times are in ``benchmarks/README.md``)."""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Mapping

from sim import MASK_RATIO, checks
from sim.studies import ConnectivityStudy, DownstreamStudy, HeterogeneityStudy, MARStudy, Regime


@dataclasses.dataclass(frozen=True)
class LinearSizes:
    """The single-client and objective-level FL study: dimension ``d`` with ``n_seeds`` seeds
    at the theorem scalings under every samples reading (``population_seeds`` at population,
    where only the dissimilar ``H`` is random), the order and cross-``d`` constant sweep over
    ``sweep_d`` at ``n = d`` (``sweep_seeds`` seeds at each ``d`` other than ``d``; at least 4
    values: half fit, half judge), ``n_masks`` sampled masks for the Eq. 4 zero-diagonal check,
    and a second study at ``free_N`` clients set by hand with ``free_seeds`` seeds (the scaling
    gives ``N = 2`` at any simulable ``d``). Seeds are chosen so each binomial record has power
    0.8 against a rate 0.1 below the stated one (FL: one trial per seed)."""

    d: int
    n_seeds: int
    sweep_d: tuple[int, ...]
    sweep_seeds: int
    n_masks: int
    free_N: int
    free_seeds: int = 0
    population_seeds: int = 4


@dataclasses.dataclass(frozen=True)
class Suite:
    """Every producer's sizes: ``linear`` (Theorems 4.2-4.4 at the client and FL objective
    level), ``connectivity`` (closed-form DecL readings), ``gossip`` (trained D-PSGD and FedAvg),
    ``consensus`` (the Table 6 analogue: mixing rules at ``|Ā| ≈ 5, 10``) and ``downstream``
    (Table 1 / Table 5 analogues).

    ``mask_ratio`` is the mask ratio ``p`` of every MIM objective and model (default
    `sim.MASK_RATIO`, the paper's 0.75), a shared parameter and so a field of the suite, in
    ``(0, 1)``: the linear producer passes it to its studies, and every sub-study that has its own
    ``mask_ratio`` (`SHARED_MASK_RATIO`) must agree with it — a suite whose sub-study says
    otherwise is refused (ValueError naming both), never silently rewritten. To run a suite at
    another mask ratio, ``get_suite("smoke").with_mask_ratio(0.5)`` sets the suite's and every
    sub-study's at once. An extension's producer reads ``suite.mask_ratio`` too.

    ``extra`` holds the sizes of producers the fields do not name (an installed extension's),
    by producer name: ``dataclasses.replace(get_suite("default"), extra={"mine": MySizes(...)})``;
    such a producer reads ``suite.extra.get(self.name)`` and uses its own defaults without one.
    """

    name: str
    linear: LinearSizes
    connectivity: ConnectivityStudy
    gossip: ConnectivityStudy
    consensus: ConnectivityStudy
    downstream: DownstreamStudy
    #: The MAR analogues (Fig. 2b, Tables 7 and 8, MAR rows of Table 5): FedMAR / DecMAR on the latent model.
    mar: MARStudy
    #: The heterogeneity map (where label skew costs MIM, CL and MAR probe accuracy on the latent model).
    heterogeneity: HeterogeneityStudy
    mask_ratio: float = MASK_RATIO
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.extra, Mapping) or not all(isinstance(k, str) for k in self.extra):
            raise ValueError(f"Suite.extra = {self.extra!r} must be a mapping from producer names to sizes")
        object.__setattr__(self, "extra", dict(self.extra))  # the suite's own copy
        p = checks.real("Suite.mask_ratio", self.mask_ratio, low=0, high=1, closed=False)
        object.__setattr__(self, "mask_ratio", p)
        for name in SHARED_MASK_RATIO:
            sub = getattr(self, name).mask_ratio
            if sub != p:
                raise ValueError(f"Suite.{name}.mask_ratio = {sub!r} differs from Suite.mask_ratio = {p!r}: the mask "
                                 "ratio is one field of the suite; use suite.with_mask_ratio(value) to change both")

    def with_mask_ratio(self, mask_ratio: float) -> "Suite":
        """This suite with ``mask_ratio`` for every producer (the suite's field and each sub-study's).

        >>> get_suite("smoke").with_mask_ratio(0.5).downstream.mask_ratio
        0.5
        """
        mask_ratio = checks.real("Suite.mask_ratio", mask_ratio, low=0, high=1, closed=False)
        subs = {name: dataclasses.replace(getattr(self, name), mask_ratio=mask_ratio) for name in SHARED_MASK_RATIO}
        return dataclasses.replace(self, mask_ratio=mask_ratio, **subs)

    def require_sizes(self, field: str, study: Any) -> None:
        """ValueError unless ``study`` (the sizes a measurement was taken at) is this suite's
        ``field``: a producer judges a measurement at the sizes it was taken at."""
        if study != getattr(self, field):
            raise ValueError(f"measurement was taken at {study}, not at suite {self.name!r}'s "
                             f"{field} sizes {getattr(self, field)}")


#: The sub-studies that take the suite's ``mask_ratio`` (`Suite`).
SHARED_MASK_RATIO: tuple[str, ...] = ("connectivity", "gossip", "consensus", "downstream", "mar", "heterogeneity")


#: The heterogeneity map's regimes (`sim.studies.heterogeneity.Regime`: c, local steps, learning rate, rounds):
#: the downstream analogues' own (c = k = 4, E = 5, lr = 3e-2, T = 10); a bottleneck c = 1 < k; strong local
#: drift (E = 25, lr = 0.1); both at c = 2; and the corner of drift and bottleneck at few rounds.
MAP_REGIMES: tuple[Regime, ...] = (Regime(4, 5, 3e-2, 10), Regime(1, 5, 3e-2, 10), Regime(4, 25, 1e-1, 10),
                                   Regime(2, 25, 1e-1, 10), Regime(1, 50, 1e-1, 4))

# latent_noise = 0.5 (not the LatentConfig default 0.2): at d = 32, k = 4 a random linear encoder
# already probes near the trained one at 0.2; at 0.5 a trained MAE probes clearly above its
# untrained encoder (about 0.75 vs 0.6 with 8 classes) while masked coordinates stay predictable.
SUITES: Mapping[str, Suite] = types.MappingProxyType({
    "smoke": Suite(
        name="smoke",
        linear=LinearSizes(d=32, n_seeds=16, sweep_d=(16, 24, 32, 48), sweep_seeds=4, n_masks=64, free_N=4,
                           free_seeds=8, population_seeds=2),
        # 10+ seeds so a Bonferroni sign test over 3 pairs can reject at all (0.5^10 < 0.01 / 3).
        connectivity=ConnectivityStudy(N=6, d=16, levels=(3, 4, 6), n_seeds=10, samples=("n=d", "population")),
        gossip=ConnectivityStudy(N=6, d=16, levels=(3, 6), n_seeds=10, rounds=6, local_steps=3,
                                 train_objectives=("mim-alignment", "cl-similar"), fl_clients_per_round=3),
        consensus=ConnectivityStudy(N=12, d=32, levels=(5, 10, 12), n_seeds=2, rounds=8, local_steps=2,
                                    train_objectives=("mim-alignment",)),
        # linear models only, fast compilation: compiling dominates at these sizes.
        downstream=DownstreamStudy(d=16, N=2, n_clients=4, samples_per_client=32, rounds=4, local_steps=2,
                                   batch_size=16, learning_rate=3e-2, c=4, hidden=16, n_seeds=3, probe_samples=128,
                                   models=("linear",), fast_compile=True, latent_noise=0.5),
        mar=MARStudy(d=16, N=2, n_clients=4, samples_per_client=32, rounds=4, local_steps=2, batch_size=16,
                     learning_rate=3e-2, c=4, hidden=16, n_seeds=3, probe_samples=128, model="linear",
                     clients_per_round=2, fast_compile=True, latent_noise=0.5),
        heterogeneity=HeterogeneityStudy(d=8, N=2, n_clients=4, samples_per_client=32, batch_size=16, n_seeds=3,
                                         probe_samples=64, regimes=(Regime(2, 2, 3e-2, 2),), alphas=(0.1,),
                                         latent_k=2, fast_compile=True),
    ),
    "default": Suite(
        name="default",
        # d = 64: every stated probability is positive (local 0.89, FL 0.78; FL at N = 4: 0.56) and 212
        # seeds give each binomial record of the main study power >= 0.8 against a rate 0.1 below it (FL:
        # one trial per seed). N = 4 by hand: 64 seeds power the local records (4 per seed); its FL records
        # would need 257 and say inconclusive. The sweep to d = 1024 (the main study is its d = 64 point)
        # decides the orders and the cross-d constant trend: fitted at 64 and 128, judged at 256 and 1024
        # (6 seeds there: the held-out coverage test is underpowered and says so). 16 population seeds:
        # the exact check on every H (FL: one per seed) has power 1 - 0.9^16 = 0.81 against a 10% failure rate.
        linear=LinearSizes(d=64, n_seeds=212, sweep_d=(64, 128, 256, 1024), sweep_seeds=6, n_masks=256,
                           free_N=4, free_seeds=64, population_seeds=16),
        # 46 seeds: ~5.5 disjoint neighbourhoods per seed give ~250 independent per-neighbourhood trials at
        # |A_i| = 3 on the uniform graphs (stated probability 0.67 at d = 64): power 0.8 against 0.57 needs
        # 240 (40 seeds gave 222 trials, power 0.74). The global models (m = N = 20) need
        # d > (ln 10)^10 ~ 4200 for a positive stated probability: vacuous at any simulable d.
        connectivity=ConnectivityStudy(N=20, d=64, levels=(3, 5, 10, 20), n_seeds=46, samples=("n=d", "population")),
        gossip=ConnectivityStudy(N=10, d=32, levels=(3, 5, 10), n_seeds=12, fl_clients_per_round=5),
        consensus=ConnectivityStudy(N=20, d=48, levels=(5, 10, 20), n_seeds=3, rounds=25, local_steps=2,
                                    train_objectives=("mim-alignment",)),
        downstream=DownstreamStudy(d=32, N=4, n_clients=8, samples_per_client=64, rounds=20, local_steps=5,
                                   batch_size=32, learning_rate=3e-2, c=8, hidden=64, n_seeds=8, probe_samples=512,
                                   latent_noise=0.5),
        # 10 rounds, 5 seeds; full optimisation: on jax 0.9.2 (one core) XLA's -O0 compiles the two
        # training programs in 14 s instead of 29 s but runs them in 58 s instead of 16 s.
        mar=MARStudy(d=32, N=4, n_clients=8, samples_per_client=64, rounds=10, local_steps=5, batch_size=32,
                     learning_rate=3e-2, c=8, hidden=64, n_seeds=5, probe_samples=512, model="linear",
                     clients_per_round=4, latent_noise=0.5),
        # Two regimes of the map at 50 local steps per client (the full suite has all five): the analogues' own
        # and the bottleneck c = 1, the cheapest regime in which the full map's pooled drop at alpha = 0.03 is
        # significant. Each regime is one compiled program; 12 seeds vmapped; about 30 s on 2 shared cores.
        heterogeneity=HeterogeneityStudy(d=16, N=4, n_clients=8, samples_per_client=64, batch_size=32, n_seeds=12,
                                         probe_samples=256, regimes=MAP_REGIMES[:2], alphas=(0.03,), pathological=1,
                                         fast_compile=True),
    ),
    "full": Suite(
        name="full",
        linear=LinearSizes(d=512, n_seeds=256, sweep_d=(64, 128, 256, 512, 1024, 2048, 4096), sweep_seeds=32,
                           n_masks=2048, free_N=6, free_seeds=320, population_seeds=16),
        connectivity=ConnectivityStudy(N=20, d=128, levels=(3, 5, 10, 20), n_seeds=48),
        gossip=ConnectivityStudy(N=20, d=64, levels=(3, 5, 10, 20), n_seeds=24, rounds=40, fl_clients_per_round=5),
        consensus=ConnectivityStudy(N=20, d=64, levels=(5, 10, 20), n_seeds=8, rounds=25, local_steps=5,
                                    train_objectives=("mim-alignment",)),
        downstream=DownstreamStudy(d=64, N=4, n_clients=16, samples_per_client=128, rounds=50, local_steps=5,
                                   batch_size=64, learning_rate=1e-2, c=8, hidden=128, n_seeds=16, probe_samples=2048,
                                   latent_noise=0.5),
        mar=MARStudy(d=64, N=4, n_clients=16, samples_per_client=128, rounds=50, local_steps=5, batch_size=64,
                     learning_rate=1e-2, c=8, hidden=128, n_seeds=16, probe_samples=2048, clients_per_round=8,
                     latent_noise=0.5),
        heterogeneity=HeterogeneityStudy(d=16, N=4, n_clients=8, samples_per_client=64, batch_size=32, n_seeds=16,
                                         probe_samples=256, regimes=MAP_REGIMES, alphas=(1.0, 0.1, 0.03),
                                         pathological=1),
    ),
})


def _paper(full: Suite) -> Suite:
    """The paper's client counts and schedule (Section 5) for the MAR analogues, on the latent model: FL
    with 100 clients, 5 per round, 100 rounds of 2 local epochs (64 samples, batch 32: 4 steps), the
    five Dirichlet alphas of Fig. 2b, 3 seeds; DecL on the same 100 clients at ``|Ā| = 3`` (one
    `MARStudy` has one client count; the paper's DecL uses 20). The other producers at ``full`` sizes."""
    mar = MARStudy(d=32, N=5, c=8, hidden=64, n_clients=100, samples_per_client=64, n_seeds=3, probe_samples=1024,
                   rounds=100, local_steps=4, batch_size=32, learning_rate=3e-2, model="two-layer",
                   clients_per_round=5, avg_connectivity=3.0, alphas=(1e5, 1.0, 0.1, 0.01, 0.001), table_alpha=0.1,
                   latent_noise=0.5)
    return dataclasses.replace(full, name="paper", mar=mar)


SUITES = types.MappingProxyType({**SUITES, "paper": _paper(SUITES["full"])})
SUITE_NAMES: tuple[str, ...] = tuple(SUITES)


def get_suite(name: str) -> Suite:
    """The suite called ``name``; ValueError listing the choices otherwise."""
    if name not in SUITES:
        raise ValueError(f"suite={name!r} must be one of {SUITE_NAMES}")
    return SUITES[name]
