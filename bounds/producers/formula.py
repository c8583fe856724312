"""Formula-level records: every symbolic derivation of ``theory``, as a ledger row."""

from __future__ import annotations

import theory
from bounds.judging.records import Record
from bounds.running.suite import Suite


def _record(derivation: "theory.Derivation") -> Record:
    claim = theory.get_claim(derivation.claim)
    return Record(
        claim=derivation.claim,
        source=f"{claim.source}: {derivation.name.removeprefix(derivation.claim).strip()}",
        level="formula",
        verdict=derivation.verdict,
        reading=dict(derivation.reading),
        bound=derivation.value,
        statistic="bound = the derivation's representative value at the listed params",
        params=dict(derivation.params),
        note=f"{derivation.statement} — {derivation.note} [sympy: {derivation.result}].",
    )


def measure(suite: Suite, *, key) -> tuple["theory.Derivation", ...]:
    """The symbolic facts (they depend on neither the suite's sizes nor the key)."""
    return tuple(theory.derivations())


def judge(derivations, suite: Suite) -> list[Record]:
    return [_record(d) for d in derivations]


def records(suite: Suite, *, key) -> list[Record]:
    return judge(measure(suite, key=key), suite)
