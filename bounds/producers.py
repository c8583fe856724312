"""The record producers, in ledger order (a table only: importing it loads nothing heavy)."""

import os

#: (name, module). Each module has ``measure(suite, *, key)`` and ``judge(measurement, suite)``.
PRODUCERS: tuple[tuple[str, str], ...] = (
    ("formula", "bounds.formula"),
    ("linear", "bounds.linear"),
    ("distributed", "bounds.distributed"),
    ("downstream", "bounds.downstream"),
    ("mar", "bounds.mar"),
)
PRODUCER_NAMES: tuple[str, ...] = tuple(name for name, _ in PRODUCERS)
#: The order in which the parallel runner starts producers: longest first (default suite, cold,
#: two at a time on 2 cores: linear 113 s, distributed 98 s, mar 67 s, downstream 60 s, formula
#: 4 s), so that the last to finish is a short one.
SCHEDULE: tuple[str, ...] = ("linear", "distributed", "mar", "downstream", "formula")


def default_jobs() -> int:
    """Producers run at once by default: one per CPU core the process may use. One producer
    keeps about one core busy (a serial default run on 2 cores used 1.16 cores on average:
    most of its programs are small, and XLA compiles one program at a time)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
