"""The heterogeneity map: where label skew costs MIM, CL and MAR probe accuracy on the latent data
model (``sim.studies.heterogeneity``), and the regime the analogues should run in.

The map is a measurement, not a claim of the paper: this producer emits no records. No claim of
``theory.experiments`` states that non-IID data costs accuracy (Table 1 and Fig. 2b compare
methods *given* that it does), so the map's drops are reported in its figure
(``figures.heterogeneity_map``, from ``sim.studies.heterogeneity.map_table``) and read by
:func:`select_regime`, never judged as verdicts.

Regime rule, fixed before any method is compared: :func:`select_regime` takes the cheapest
regime (fewest local steps per client, then the larger ``c``, then the smaller drift) whose
pooled drop (the mean over MIM, CL and MAR of ``acc(iid) - acc(split)`` per seed) at the most
skewed Dirichlet split has a 99% Student-t interval above 0, among the regimes where every
method learned (its IID accuracy above the untrained encoder's, by the same interval); none when
no regime qualifies. Both conditions are blind to which method loses less, so the rule cannot
favour a method.
"""

from __future__ import annotations

import jax

from bounds.judging import rules
from bounds.judging.records import Record
from bounds.running.suite import Suite
from sim.studies import heterogeneity as study
from sim.studies import HeterogeneityMap, Regime

name = "heterogeneity_map"


def measure(suite: Suite, *, key: jax.Array) -> HeterogeneityMap:
    """The map at ``suite.heterogeneity`` sizes."""
    return study.measure(suite.heterogeneity, key=key)


def judge(measurement: HeterogeneityMap, suite: Suite) -> list[Record]:
    """No records (see the module docstring); checks that ``measurement`` is this suite's."""
    suite.require_sizes("heterogeneity", measurement.study)
    return []


def select_regime(exp: HeterogeneityMap, *, alpha: float = rules.ALPHA) -> Regime | None:
    """The analogues' regime by the rule of the module docstring (99% Student-t intervals by
    default); None when no regime shows a cost."""
    return study.select_regime(exp, lambda v: rules.mean_ci(v, alpha=alpha))


__all__ = ["judge", "measure", "name", "select_regime"]
