"""The record producers, in ledger order (a table only: importing it loads nothing heavy)."""

import os

#: (name, module). Each module has ``measure(suite, *, key)`` and ``judge(measurement, suite)``.
PRODUCERS: tuple[tuple[str, str], ...] = (
    ("formula", "bounds.producers.formula"),
    ("linear", "bounds.producers.linear"),
    ("distributed", "bounds.producers.distributed"),
    ("downstream", "bounds.producers.downstream"),
    ("mar", "bounds.producers.mar"),
)
PRODUCER_NAMES: tuple[str, ...] = tuple(name for name, _ in PRODUCERS)
#: The order in which the parallel runner starts producers: the two longest first, then the two
#: whose figures take longest to draw, formula (no figures) last, so that the run ends on the
#: producer whose finishing leaves the parent nothing to draw (default suite, cold, two at a time
#: on 2 cores: linear 96 s, distributed 105 s, downstream 70 s and 8 s of figures, mar 67 s and
#: 6 s, formula 10 s). Before, downstream ran last and its figures added 8 s on one core.
SCHEDULE: tuple[str, ...] = ("linear", "distributed", "downstream", "mar", "formula")


def default_jobs() -> int:
    """Producers run at once by default: one per CPU core the process may use. One producer
    keeps about one core busy (a serial default run on 2 cores used 1.16 cores on average:
    most of its programs are small, and XLA compiles one program at a time)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
