"""The toolkit's record producers, one module each, with ``measure(suite, *, key)`` and
``judge(measurement, suite)`` (the `bounds.Producer` shape):

    formula       the claims evaluated at the paper's parameters (no simulation)
    linear        Theorems 4.2-4.4 at the client and FL objective level, orders, constants
    distributed   DecL readings over connectivity, Corollary 4.5, Theorem 4.6, consensus rules
    downstream    Tables 1 and 5 analogues (two-layer and linear MIM / CL encoders)
    mar           Fig. 2b, Tables 7 and 8 analogues (FedMAR / DecMAR)
    heterogeneity_map  where non-IID data costs probe accuracy (MIM, CL, MAR; no records)

They are registered, like an installed extension's producers, as the entry points
``dssl_bounds.producers`` of the toolkit's ``pyproject.toml`` (`bounds.running.registry`).
Importing this package loads nothing heavy.
"""

import os

#: The order in which the parallel runner starts the toolkit's producers (others follow): the
#: two longest first, then the two whose figures take longest to draw, formula (no figures)
#: last, so that the run ends on the producer whose finishing leaves the parent nothing to draw
#: (their times are in benchmarks/README.md).
SCHEDULE: tuple[str, ...] = ("linear", "distributed", "downstream", "heterogeneity_map", "mar", "formula")


def default_jobs() -> int:
    """Producers run at once by default: one per CPU core the process may use. One producer
    keeps about one core busy (a serial default run on 2 cores used 1.16 cores on average:
    most of its programs are small, and XLA compiles one program at a time)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


__all__ = ["SCHEDULE", "default_jobs"]
