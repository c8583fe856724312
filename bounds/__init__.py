"""dssl-bounds: evaluate the paper's bounds, judge the simulations against them, write the ledger.

Public surface (imported on first use, so that the CLI's ``--help`` needs no JAX):

Running a suite (`bounds.running`)
    run_suite(suite, *, seed, only, producers, progress) -> (Ledger, measurements)
    run_seeds(suite, *, seeds, ...)     run_suite at several master seeds: one ledger whose records
                                        keep their verdict per seed (``by_seed``)
    Producer                            the shape run_suite runs: name, measure(suite, *, key),
                                        judge(measurement, suite) -> list[Record]
    Figure                              the shape of a figure: PRODUCER, make(measurement, records, out_dir)
    producer_names(), figure_names()    the registered producers and figures (entry points
                                        ``dssl_bounds.producers`` / ``dssl_bounds.figures``)
    measure(name, suite, *, seed)       a registered producer's measurement (what the figures plot)
    producer_key(seed, name)            the run's key derivation: one root key, split by name
    verify(out_dir, suite, *, seed, seeds, only, producers, figures, resume, progress)
                                        ledger.json, report.md and figures/ as one checkpointed unit
    read_run(out_dir)                   the run marker of a complete verify output (else ValueError)
    Ledger, write_ledger(ledger, out_dir)   the run's records, family, conclusions; ledger.json (schema 3)
    write_atomic(path, content)         a file written whole or not at all (mode 0644 under umask)
    render_report(ledger, out_dir, figures), claims_table(records), matrix_text(records),
    markdown_cell(text)                 report.md and its pieces
    load_ledger(path), diff_ledgers(a, b)   compare two ledgers (``dssl-bounds diff``)
    Suite, SUITES, get_suite            every producer's sizes (``Suite.extra``: an extension's)
    toolkit_version()                   the installed version
Judging (`bounds.judging`)
    Record, VERDICTS, LEVELS, ALPHA     the ledger's row type, vocabularies and test level
    rules                               the statistical rules (binomial, sign test, slope, ...)
    Family, control(records)            the run's family of statistically judged records and its
                                        multiplicity correction (p_adjusted; withdrawn fails)
    Conclusion, CONCLUSIONS, conclude(records)
                                        one conclusion per claim (its word, summary, records,
                                        replication), in paper order
    judges                              the public judges: lower bound, comparison, monotone, ...
    evaluate, sensitivity_bound         a claim's bound at parameters (NumPy, vectorised)
    stated_probability, d_star          a claim's stated probability; Theorem 4.4's threshold d*
    reading_of, family_of, bound_claim  an objective's ledger reading, claim family, and the
    bound_claims                        Theorem 4.2 / 4.3 claim (bound_claims: every lower-bound
                                        claim, installed ones included) on its model at a scope
Producers (`bounds.producers`; modules with measure and judge)
    formula, linear, distributed, downstream, mar

The library sets no process-wide state: float64 must be enabled by the caller
(switch ``jax_enable_x64`` on in ``jax.config``; the CLI and the tests do), and running a suite
without it raises.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module that defines it (imported on first use).
_NAMES = {
    "run_suite": "bounds.running.ledger", "run_seeds": "bounds.running.ledger", "measure": "bounds.running.ledger", "write_ledger": "bounds.running.ledger",
    "Ledger": "bounds.running.ledger", "verify": "bounds.running.ledger", "read_run": "bounds.running.ledger",
    "producer_key": "bounds.running.produce", "write_atomic": "bounds.running.produce",
    "Producer": "bounds.running.registry", "Figure": "bounds.running.registry",
    "producer_names": "bounds.running.registry", "figure_names": "bounds.running.registry",
    "render_report": "bounds.running.report", "claims_table": "bounds.running.report",
    "matrix_text": "bounds.running.report", "markdown_cell": "bounds.running.report",
    "diff_ledgers": "bounds.running.diff", "load_ledger": "bounds.running.diff",
    "Suite": "bounds.running.suite", "SUITES": "bounds.running.suite", "get_suite": "bounds.running.suite",
    "Record": "bounds.judging.records", "VERDICTS": "bounds.judging.records", "LEVELS": "bounds.judging.records",
    "ALPHA": "bounds.judging.rules",
    "Family": "bounds.judging.family", "control": "bounds.judging.family",
    "Conclusion": "bounds.judging.conclusions", "CONCLUSIONS": "bounds.judging.conclusions",
    "conclude": "bounds.judging.conclusions",
    "evaluate": "bounds.judging.evaluation", "sensitivity_bound": "bounds.judging.evaluation",
    "stated_probability": "bounds.judging.evaluation", "d_star": "bounds.judging.evaluation",
    "reading_of": "bounds.judging.readings", "family_of": "bounds.judging.readings",
    "bound_claim": "bounds.judging.readings", "bound_claims": "bounds.judging.readings",
}
#: Public module name -> the module.
_MODULES = {"rules": "bounds.judging.rules", "judges": "bounds.judging.judges",
            "formula": "bounds.producers.formula", "linear": "bounds.producers.linear",
            "distributed": "bounds.producers.distributed", "downstream": "bounds.producers.downstream",
            "mar": "bounds.producers.mar"}
__all__ = [
    # running a suite
    "run_suite", "run_seeds", "Producer", "Figure", "producer_names", "figure_names", "measure", "producer_key", "verify",
    "read_run", "Ledger", "write_ledger", "write_atomic", "render_report", "claims_table", "matrix_text",
    "markdown_cell", "load_ledger", "diff_ledgers", "Suite", "SUITES", "get_suite", "toolkit_version",
    # judging
    "Record", "VERDICTS", "LEVELS", "ALPHA", "Family", "control", "Conclusion", "CONCLUSIONS", "conclude", "rules", "judges", "evaluate", "sensitivity_bound",
    "stated_probability", "d_star", "reading_of", "family_of", "bound_claim", "bound_claims",
    # producers
    "formula", "linear", "distributed", "downstream", "mar",
]


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
