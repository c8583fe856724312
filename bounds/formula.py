"""Formula-level records: every symbolic derivation of ``theory``, as a ledger row."""

from __future__ import annotations

import functools
from typing import Callable

import theory
from bounds.records import Record
from bounds.suites import check_suite


def _record(derivation: "theory.Derivation") -> Record:
    claim = theory.get_claim(derivation.claim)
    return Record(
        claim=derivation.claim,
        source=f"{claim.source}: {derivation.name.removeprefix(derivation.claim).strip()}",
        level="formula",
        verdict=derivation.verdict,
        reading=dict(derivation.reading),
        bound=derivation.value,
        params=dict(derivation.params),
        note=f"{derivation.statement} — {derivation.note} [sympy: {derivation.result}]; "
             "bound = the derivation's representative value at the listed params.",
    )


def records(suite: str, *, seed: int, progress: Callable[[str], None] | None = None) -> list[Record]:
    """One record per derivation (the symbolic facts do not depend on suite size or seed)."""
    check_suite(suite)
    return [_record(d) for d in theory.derivations()]


@functools.lru_cache(maxsize=None)
def _threshold_fn(cl_variant: str):
    name = f"thm4.4-fl threshold d* ({cl_variant})"
    found = [d for d in theory.derivations() if d.name == name]
    if not found:
        raise ValueError(f"cl_variant={cl_variant!r} must be 'similar' or 'dissimilar'")
    return theory.get_claim("thm4.4-fl").lambdify(found[0].result, backend="numpy")


def threshold_d_star(cl_variant: str, *, p, tr_H=1.0, C_M=1.0, C_C=1.0):
    """Dimension ``d*`` above which Theorem 4.4's bounds give ``s^C > s^M`` (sympy-derived;
    ``similar``: ``(C_M / (2 C_C p(1-p)))^5``)."""
    return _threshold_fn(cl_variant)(p=p, tr_H=tr_H, C_M=C_M, C_C=C_C)
