"""Suites: every producer's sizes in one value, ``smoke`` (tests), ``default`` (``verify``,
under 2 minutes on 2 CPU cores) and ``full`` (tens of minutes)."""

from __future__ import annotations

import dataclasses

from sim.studies.connectivity import ConnectivityStudy
from sim.studies.downstream import DownstreamStudy


@dataclasses.dataclass(frozen=True)
class LinearSizes:
    """The single-client and objective-level FL study: dimension ``d`` with ``n_seeds`` seeds
    at the theorem scalings, the order sweep over ``sweep_d`` (``sweep_seeds`` seeds at each
    ``d`` other than ``d``), ``n_masks`` sampled masks for the Eq. 4 zero-diagonal check, and a
    second study at ``free_N`` clients set by hand (the scaling gives ``N = 2`` at any
    simulable ``d``)."""

    d: int
    n_seeds: int
    sweep_d: tuple[int, ...]
    sweep_seeds: int
    n_masks: int
    free_N: int


@dataclasses.dataclass(frozen=True)
class Suite:
    """Every producer's sizes: ``linear`` (Theorems 4.2-4.4 at the client and FL objective
    level), ``connectivity`` (closed-form DecL readings), ``gossip`` (trained D-PSGD and FedAvg),
    ``consensus`` (the Table 6 analogue: mixing rules at ``|Ā| ≈ 5, 10``) and ``downstream``
    (Table 1 / Table 5 analogues)."""

    name: str
    linear: LinearSizes
    connectivity: ConnectivityStudy
    gossip: ConnectivityStudy
    consensus: ConnectivityStudy
    downstream: DownstreamStudy


SUITES: dict[str, Suite] = {
    "smoke": Suite(
        name="smoke",
        linear=LinearSizes(d=48, n_seeds=48, sweep_d=(24, 32, 48), sweep_seeds=4, n_masks=64, free_N=4),
        # 10+ seeds so a Bonferroni sign test over 3 pairs can reject at all (0.5^10 < 0.01 / 3).
        connectivity=ConnectivityStudy(N=6, d=16, levels=(3, 4, 6), n_seeds=10),
        gossip=ConnectivityStudy(N=6, d=16, levels=(3, 6), n_seeds=10, rounds=6, local_steps=3,
                                 train_objectives=("mim-alignment", "cl-similar"), fl_clients_per_round=3),
        consensus=ConnectivityStudy(N=12, d=32, levels=(5, 10, 12), n_seeds=2, rounds=8, local_steps=2,
                                    train_objectives=("mim-alignment",)),
        # linear models only, fast compilation: compiling dominates at these sizes.
        downstream=DownstreamStudy(d=16, N=2, n_clients=4, samples_per_client=32, rounds=4, local_steps=2,
                                   batch_size=16, learning_rate=3e-2, c=4, hidden=16, n_seeds=3, probe_samples=128,
                                   models=("linear",), fast_compile=True),
    ),
    "default": Suite(
        name="default",
        linear=LinearSizes(d=192, n_seeds=64, sweep_d=(48, 96, 192, 384), sweep_seeds=8, n_masks=256, free_N=4),
        connectivity=ConnectivityStudy(N=20, d=64, levels=(3, 5, 10, 20), n_seeds=12),
        gossip=ConnectivityStudy(N=10, d=32, levels=(3, 5, 10), n_seeds=12, fl_clients_per_round=5),
        consensus=ConnectivityStudy(N=20, d=48, levels=(5, 10, 20), n_seeds=3, rounds=25, local_steps=2,
                                    train_objectives=("mim-alignment",)),
        downstream=DownstreamStudy(d=32, N=4, n_clients=8, samples_per_client=64, rounds=20, local_steps=5,
                                   batch_size=32, learning_rate=3e-2, c=8, hidden=64, n_seeds=8, probe_samples=512),
    ),
    "full": Suite(
        name="full",
        linear=LinearSizes(d=512, n_seeds=128, sweep_d=(64, 128, 256, 512, 1024), sweep_seeds=16, n_masks=2048,
                           free_N=6),
        connectivity=ConnectivityStudy(N=20, d=128, levels=(3, 5, 10, 20), n_seeds=48),
        gossip=ConnectivityStudy(N=20, d=64, levels=(3, 5, 10, 20), n_seeds=24, rounds=40, fl_clients_per_round=5),
        consensus=ConnectivityStudy(N=20, d=64, levels=(5, 10, 20), n_seeds=8, rounds=25, local_steps=5,
                                    train_objectives=("mim-alignment",)),
        downstream=DownstreamStudy(d=64, N=4, n_clients=16, samples_per_client=128, rounds=50, local_steps=5,
                                   batch_size=64, learning_rate=1e-2, c=8, hidden=128, n_seeds=16, probe_samples=2048),
    ),
}
SUITE_NAMES: tuple[str, ...] = tuple(SUITES)


def get_suite(name: str) -> Suite:
    """The suite called ``name``; ValueError listing the choices otherwise."""
    if name not in SUITES:
        raise ValueError(f"suite={name!r} must be one of {SUITE_NAMES}")
    return SUITES[name]
