"""Objectives measured by the linear study and judged by the linear producer's judges: an
objective registered from outside the toolkit gets the records a built-in one gets."""

from __future__ import annotations

from typing import Iterable

import jax

from bounds.judging.records import Record
from bounds.producers import linear
from bounds.running.produce import producer_key, require_x64
from bounds.running.suite import Suite
from sim import Objective, get_objective
from sim.studies import linear as study


def key_for(name: str, seed: int = 0) -> jax.Array:
    """The key of a test called ``name`` (its pytest node id) under master ``seed``: the run's
    root key split by name, as `bounds.producer_key` splits it by producer, so a test's draws do
    not depend on which other tests run or in which order."""
    return producer_key(seed, name)


def linear_records(objectives: Iterable[Objective | str], suite: Suite, *, key: jax.Array,
                   samples: Iterable[str] = ("n=d", "population"), sweep: bool = True) -> tuple[Record, ...]:
    """Every record the linear producer judges on ``objectives`` (`sim.Objective` values or
    names, built-in or installed), measured by `sim.studies.linear` at ``suite.linear``'s sizes
    and ``suite.mask_ratio``, at the theorem scalings:

    - per samples reading in ``samples`` (reading 6; ``population_seeds`` seeds at population):
      Theorem 4.2 / 4.3 lower bounds for the client and FL models, unit constants, each CL
      augmentation reading; at ``n = d`` also Theorem 4.4's ``s^C > s^M`` for every MIM x CL
      pair among ``objectives`` and the corrected bound of each alignment-kind objective;
    - with ``sweep``, over ``suite.linear.sweep_d`` (``sweep_seeds`` each): the fitted-constant
      records (reading 5) and Theorem 4.4's orders ``s = Theta(d^a)``.

    Needs float64 (RuntimeError otherwise); ValueError for an unknown objective or samples
    reading, before any computation.
    """
    objectives = tuple(get_objective(o) for o in objectives)
    samples = tuple(samples)
    for s in samples:
        study.samples_n(suite.linear.d, s)  # validates the reading
    require_x64()
    sizes, p = suite.linear, suite.mask_ratio
    main_key, sweep_key = jax.random.split(key)
    out: list[Record] = []
    for i, s in enumerate(samples):
        seeds = sizes.population_seeds if s == "population" else sizes.n_seeds
        m = study.measure(study.theorem_study(sizes.d, n_seeds=seeds, mask_ratio=p, samples=s),
                          key=jax.random.fold_in(main_key, i), objectives=objectives)
        out += linear.point_records(m)
    if sweep:
        swept = tuple(study.sweep(sizes.sweep_d, n_seeds=sizes.sweep_seeds, key=sweep_key, mask_ratio=p,
                                  objectives=objectives))
        out += linear.fitted_constant_records(swept) + linear.order_records(swept)
    return tuple(out)


__all__ = ["key_for", "linear_records"]
