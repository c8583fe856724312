"""How a test treats a `bounds.Record`: which verdicts pass, what the failure says, and how
``inconclusive`` and ``vacuous`` are handled. Light on purpose (no JAX, no sympy): the pytest
plugin imports it in every test run.

A record that fails fails the test with everything a reader needs to check the verdict — the
claim and its paper source, the reading, the rule and its numbers, the counterexample (the
judges put the rule and any counterexample in ``note``):

    >>> from types import SimpleNamespace as R
    >>> bad = R(claim="thm4.3-local-similar", source="Theorem 4.3 (local)", reading={"cl": "spectral"},
    ...         verdict="fails", statistic="min_k r_k", bound=0.9, empirical=0.5, margin=-0.6, ci=None,
    ...         p_value=1e-5, trials=32, successes=3, power=0.9, note="binomial test ... Counterexample: trial 4.")
    >>> check(bad)
    Traceback (most recent call last):
    ...
    AssertionError: thm4.3-local-similar [cl=spectral] fails — Theorem 4.3 (local)
      statistic: min_k r_k; bound 0.9, empirical 0.5, margin -0.6
      rule: p-value 1e-05, 3/32 successes, power 0.9
      note: binomial test ... Counterexample: trial 4.
    >>> check(R(**{**vars(bad), "verdict": "inconclusive"}), inconclusive="pass").verdict
    'inconclusive'
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

#: Verdicts that pass a test (`theory.VERDICTS`' first two).
PASSING: tuple[str, ...] = ("holds", "holds-trivially")
#: What a test may do with an ``inconclusive`` or ``vacuous`` record: fail it, skip it with the
#: record's note as the reason, or let it pass. Never silent: skipped and passed records still
#: reach the closing summary of the run.
TREATMENTS: tuple[str, ...] = ("fail", "skip", "pass")
#: The statistical rules (`bounds.rules`) by a short name, each with the words its note opens
#: with, so that a test can state the rule it expects and learn when another one decided.
RULES: Mapping[str, str] = {
    "binomial": "one-sided exact binomial test",
    "every-trial": "it must hold on every one",
    "sign-test": "sign test",
    "slope": "OLS log-log slope",
    "identity": "one violation is a counterexample",
    "mean-difference": "t-interval of the mean paired difference",
    "rank-correlation": "Spearman rho",
    "constant": "slope of log C(d) on log d",
}


def _number(x: Any) -> str:
    return "—" if x is None else f"{x:.4g}" if isinstance(x, float) else str(x)


def _reading(reading: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in reading.items()) or "no reading"


def message(record) -> str:
    """The record in a few lines: claim, reading, verdict, source; statistic with bound,
    empirical and margin; the rule's numbers (p-value, CI, counts, power); the note."""
    numbers = [f"p-value {_number(record.p_value)}"]
    if record.ci is not None:
        numbers.append(f"CI [{record.ci[0]:.4g}, {record.ci[1]:.4g}]")
    if record.trials is not None:
        numbers.append(f"{record.successes}/{record.trials} successes")
    if record.power is not None:
        numbers.append(f"power {_number(record.power)}")
    return (f"{record.claim} [{_reading(record.reading)}] {record.verdict} — {record.source}\n"
            f"  statistic: {record.statistic or '—'}; bound {_number(record.bound)}, "
            f"empirical {_number(record.empirical)}, margin {_number(record.margin)}\n"
            f"  rule: {', '.join(numbers)}\n"
            f"  note: {record.note}")


def _treatment(name: str, value: str) -> str:
    if value not in TREATMENTS:
        raise ValueError(f"{name} = {value!r} is out of range: choose one of {TREATMENTS}")
    return value


def check(record, *, rule: str | None = None, inconclusive: str = "fail", vacuous: str = "fail"):
    """Assert on one record and return it: ``holds`` / ``holds-trivially`` pass; ``fails``
    raises AssertionError with `message`; ``inconclusive`` and ``vacuous`` are treated as the
    caller says (`TREATMENTS`: ``"fail"`` raises AssertionError, ``"skip"`` skips the running
    pytest test with the message as its reason, ``"pass"`` returns). ``rule`` (a key of
    `RULES`): the rule the caller expects; a record decided by another rule fails (a vacuous
    record, decided by no rule, is exempt)."""
    treat = {"inconclusive": _treatment("inconclusive", inconclusive), "vacuous": _treatment("vacuous", vacuous)}
    if rule is not None:
        if rule not in RULES:
            raise ValueError(f"rule = {rule!r} is out of range: choose one of {tuple(RULES)}")
        if record.verdict != "vacuous" and RULES[rule] not in record.note:
            raise AssertionError(f"expected the {rule} rule ({RULES[rule]!r}), the note says otherwise:\n"
                                 + message(record))
    if record.verdict in PASSING:
        return record
    how = treat.get(record.verdict, "fail")
    if how == "skip":
        import pytest  # only a test skips

        pytest.skip(message(record))
    if how == "fail":
        raise AssertionError(message(record))
    return record


def select(records: Iterable, claim: str, **reading: str):
    """The one record of ``claim`` whose reading contains ``reading`` (axis=value, e.g.
    ``samples="n=d"``); ValueError naming that claim's readings when none or several match.

    >>> from types import SimpleNamespace as R
    >>> rs = [R(claim="cor4.5", reading={"decl": d}) for d in ("gossip", "objective-eq1")]
    >>> select(rs, "cor4.5", decl="gossip").reading
    {'decl': 'gossip'}
    """
    records = list(records)
    found = [r for r in records if r.claim == claim and all(r.reading.get(k) == v for k, v in reading.items())]
    if len(found) != 1:
        readings = [_reading(r.reading) for r in records if r.claim == claim]
        raise ValueError(f"claim = {claim!r}, reading = {reading!r}: {len(found)} records match, need exactly one; "
                         f"that claim's readings here: {readings}")
    return found[0]


__all__ = ["PASSING", "RULES", "TREATMENTS", "check", "message", "select"]
