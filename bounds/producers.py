"""The record producers, in ledger order (a table only: importing it loads nothing heavy)."""

#: (name, module). Each module has ``measure(suite, *, key)`` and ``judge(measurement, suite)``.
PRODUCERS: tuple[tuple[str, str], ...] = (
    ("formula", "bounds.formula"),
    ("linear", "bounds.linear"),
    ("distributed", "bounds.distributed"),
    ("downstream", "bounds.downstream"),
    ("mar", "bounds.mar"),
)
PRODUCER_NAMES: tuple[str, ...] = tuple(name for name, _ in PRODUCERS)
