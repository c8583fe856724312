"""One ledger record (a row of ``ledger.json``, schema 3) and the vocabularies it uses.

Every producer (formula, simulation and reported level) builds `Record` values, so the
verdict and level words are defined here once and the statistical rules once in
:mod:`bounds.judging.rules`. A record's ``claim`` is a claim of ``theory`` (`theory.CLAIMS`) and
its ``reading`` is given as `theory.Reading` values (or as the ledger's mapping):

    >>> from theory import Reading
    >>> r = Record(claim="thm4.2-local", source="Theorem 4.2 (local)", level="simulation", verdict="holds",
    ...            reading=[Reading("mim", "alignment-exact"), Reading("samples", "population")])
    >>> r.reading
    {'mim': 'alignment-exact', 'samples': 'population'}
    >>> Record.from_json(r.to_json()) == r
    True
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable, Literal, Mapping

import numpy as np

import theory
from theory import VERDICTS

from bounds.judging.rules import ALPHA, Judgement, Verdict

Level = Literal["formula", "simulation", "reported"]
LEVELS: tuple[str, ...] = ("formula", "simulation", "reported")


def _finite_or_none(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _count_or_none(x: Any) -> int | None:
    return None if x is None else int(x)


@dataclasses.dataclass(frozen=True)
class Record:
    """One row of ``ledger.json``. Non-finite numbers are stored as ``None``.

    ``claim`` must be an id of `theory.CLAIMS` (ValueError naming it otherwise); ``reading`` is a
    mapping ``{axis: value}`` or an iterable of `theory.Reading`, stored as the mapping.
    ``statistic`` names what ``bound``, ``empirical`` and ``margin`` measure; ``ci``,
    ``p_value``, ``trials``, ``successes`` and ``power`` come from the rule that gave the
    verdict (None where the rule has no such number; ``p_value`` is the p-value against the
    claim, so a statistical ``fails`` means ``p_value < alpha``, and an exact check has none);
    ``p_adjusted`` is ``p_value`` adjusted for the run's family of statistically judged records
    (`bounds.judging.family.control`, applied by the ledger; None until then and outside it);
    ``hypotheses`` says, per hypothesis of the claim that was checked, whether it held;
    ``by_seed`` is the record's verdict in each master seed of a replicated run (None for one seed).
    """

    claim: str
    source: str
    level: Level
    verdict: Verdict
    reading: Mapping[str, str] | Iterable[theory.Reading] = dataclasses.field(default_factory=dict)
    bound: float | None = None
    empirical: float | None = None
    margin: float | None = None
    statistic: str = ""
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    trials: int | None = None
    successes: int | None = None
    power: float | None = None
    hypotheses: Mapping[str, bool] = dataclasses.field(default_factory=dict)
    n_seeds: int = 0
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    by_seed: tuple[str, ...] | None = None
    note: str = ""

    def __post_init__(self):
        try:
            theory.get_claim(self.claim)
        except ValueError as err:
            raise ValueError(f"claim={self.claim!r} is not a claim of theory (a new claim is added to theory first, "
                             f"or installed through the entry-point group {theory.CLAIM_GROUP!r}): {err}") from None
        self._normalise()

    def _normalise(self):
        """Check the vocabularies and store every field in its ledger form (not the claim id:
        `from_json` reads ledgers whose ids this version does not know)."""
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict={self.verdict!r} must be one of {VERDICTS}")
        if self.level not in LEVELS:
            raise ValueError(f"level={self.level!r} must be one of {LEVELS}")
        object.__setattr__(self, "reading", theory.as_reading_mapping(self.reading))
        for name in ("bound", "empirical", "margin", "p_value", "p_adjusted", "power"):
            object.__setattr__(self, name, _finite_or_none(getattr(self, name)))
        for name in ("trials", "successes"):
            object.__setattr__(self, name, _count_or_none(getattr(self, name)))
        if self.by_seed is not None:
            words = tuple(str(v) for v in self.by_seed)
            bad = [v for v in words if v not in VERDICTS]
            if bad:
                raise ValueError(f"by_seed={self.by_seed!r} holds {bad}, not verdicts of {VERDICTS}")
            object.__setattr__(self, "by_seed", words)
        if self.ci is not None:
            lo, hi = (_finite_or_none(v) for v in self.ci)
            object.__setattr__(self, "ci", None if lo is None or hi is None else (lo, hi))

    @classmethod
    def judged(cls, judgement: Judgement, **fields) -> "Record":
        """A record whose verdict, CI, p-value and counts come from ``judgement`` (``fields``
        may override any of them, e.g. a structural ``verdict``)."""
        base = {"verdict": judgement.verdict, "ci": judgement.ci, "p_value": judgement.p_value,
                "trials": judgement.trials, "successes": judgement.successes, "power": judgement.power}
        return cls(**{**base, **fields})

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["reading"] = dict(self.reading)
        out["hypotheses"] = {str(k): bool(v) for k, v in self.hypotheses.items()}
        out["params"] = _jsonable(dict(self.params))
        out["ci"] = list(self.ci) if self.ci is not None else None
        out["by_seed"] = list(self.by_seed) if self.by_seed is not None else None
        return out

    @classmethod
    def from_json(cls, row: Mapping[str, Any], *, strict: bool = False) -> "Record":
        """The record a ``to_json`` row describes. Unknown fields are ignored; the claim id is
        checked against `theory.CLAIMS` only if ``strict`` (a ledger of another version may name
        claims this one does not know), every other field always."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values = {k: v for k, v in row.items() if k in fields}
        if values.get("ci") is not None:
            values["ci"] = tuple(values["ci"])
        if strict:
            return cls(**values)
        missing = [name for name, f in fields.items() if name not in values
                   and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        if missing:
            raise ValueError(f"ledger row {dict(row)!r} lacks the field(s) {missing}")
        record = cls.__new__(cls)
        for name, f in fields.items():
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            object.__setattr__(record, name, values.get(name, default))
        record._normalise()
        return record


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.generic, np.ndarray)):
        return _jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


__all__ = ["ALPHA", "LEVELS", "VERDICTS", "Record", "Verdict", "Level"]
