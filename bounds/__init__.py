"""dssl-bounds: evaluate the paper's bounds, judge the simulations against them, write the ledger.

Public surface (imported on first use, so that the CLI's ``--help`` needs no JAX):

    run_suite(suite, *, seed, only, progress) -> (Ledger, measurements)
    measure(producer, suite, *, seed)   a producer's measurement (what the figures plot)
    verify(out_dir, suite, *, seed, only, figures, resume, progress)
                                        ledger.json, report.md and figures/ as one checkpointed unit
    read_run(out_dir)                   the run marker of a complete verify output (else ValueError)
    write_ledger(ledger, out_dir)       ledger.json (schema 2)
    write_atomic(path, content)         a file written whole or not at all (mode 0644 under umask)
    render_report(ledger, out_dir, figures), claims_table(records), matrix_text(records)
    load_ledger(path), diff_ledgers(a, b)
                                        compare two ledgers (``dssl-bounds diff``)
    toolkit_version()                   the installed version
    Record, VERDICTS, LEVELS            the ledger's row type and vocabularies
    rules                               the statistical rules (binomial, sign test, slope, ...)
    formula, linear, distributed, downstream
                                        the producers (modules: measure(suite, *, key), judge(m, suite))
    Suite, SUITES, get_suite            every producer's sizes
    PRODUCER_NAMES, producer_key        the producers and the run's key derivation
    evaluate, sensitivity_bound         a claim's bound at parameters (NumPy, vectorised)

The library sets no process-wide state: float64 must be enabled by the caller
(switch ``jax_enable_x64`` on in ``jax.config``; the CLI and the tests do), and running a suite
without it raises.
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "run_suite": "bounds.running.ledger", "measure": "bounds.running.ledger", "write_ledger": "bounds.running.ledger",
    "Ledger": "bounds.running.ledger", "PRODUCER_NAMES": "bounds.producers", "producer_key": "bounds.running.ledger",
    "verify": "bounds.running.ledger", "read_run": "bounds.running.ledger", "write_atomic": "bounds.running.ledger",
    "render_report": "bounds.running.report", "claims_table": "bounds.running.report", "matrix_text": "bounds.running.report",
    "diff_ledgers": "bounds.running.diff", "load_ledger": "bounds.running.diff",
    "Record": "bounds.judging.records", "VERDICTS": "bounds.judging.records", "LEVELS": "bounds.judging.records",
    "ALPHA": "bounds.judging.rules",
    "Suite": "bounds.running.suite", "SUITES": "bounds.running.suite", "get_suite": "bounds.running.suite",
    "evaluate": "bounds.judging.evaluation", "sensitivity_bound": "bounds.judging.evaluation",
}
_MODULES = {"rules": "bounds.judging.rules", "formula": "bounds.producers.formula",
            "linear": "bounds.producers.linear", "distributed": "bounds.producers.distributed",
            "downstream": "bounds.producers.downstream", "mar": "bounds.producers.mar"}
__all__ = sorted([*_NAMES, *_MODULES, "toolkit_version"])


def toolkit_version() -> str:
    """The installed version of dssl-bounds (light: no JAX import, so ``--version`` is instant)."""
    from importlib import metadata

    try:
        return metadata.version("dssl-bounds")
    except metadata.PackageNotFoundError:  # a source tree that is not installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'bounds' has no attribute {name!r}")
