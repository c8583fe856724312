"""The paper's checks in your own tests: state a claim and a reading, get the ledger `Record`
the toolkit's judges give it, and assert on it.

    check(record, *, rule, inconclusive, vacuous)   pass on holds / holds-trivially; fail with
                                      the record's note (rule, statistic, p-value,
                                      counterexample); inconclusive / vacuous as the caller says
                                      ("fail", "skip" or "pass": TREATMENTS)
    select(records, claim, **reading) the one record of a claim at a reading
    message(record)                   the failure message
    linear_records(objectives, suite, *, key, samples, sweep)
                                      every record the linear producer judges on your
                                      objectives (an installed `sim.Objective` included)
    key_for(name, seed)               a test's key: the master seed's root key split by name
    PASSING, TREATMENTS, RULES        the vocabularies

A researcher's own measurements are judged by `bounds.judges` (lower_bound, comparison,
monotone, order, constants, identity) and asserted on the same way. The pytest plugin
(`bounds.testing.plugin`) adds fixtures (``dssl_suite``, ``dssl_key``, ``dssl_seed``,
``dssl_check``), the ``dssl_claim`` marker and a closing summary of the verdicts.

Importing this package loads neither JAX nor sympy (the plugin is loaded by every pytest
run in an environment with the toolkit); `linear_records` and `key_for` load them on use.

    >>> from bounds.testing import PASSING
    >>> PASSING
    ('holds', 'holds-trivially')
"""

from __future__ import annotations

import importlib
from typing import Any

from bounds.testing.outcome import PASSING, RULES, TREATMENTS, check, message, select

#: Public names defined in modules that load JAX, imported on first use.
_LAZY = {"linear_records": "bounds.testing.linear", "key_for": "bounds.testing.linear"}

__all__ = ["PASSING", "RULES", "TREATMENTS", "check", "key_for", "linear_records", "message", "select"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bounds.testing' has no attribute {name!r}")
