"""Claim-level conclusions: the sentence a careful reviewer would sign, from a claim's records.

A ledger holds many records per claim (one per reading, size and level); a reader asks one
question per claim: does it hold? `conclude` answers it for every claim of a ledger, in paper
order (Theorems 4.2-4.6 with Corollary 4.5, then the experiments of Section 5, then the
definitions and the toolkit-added claims), with one word of `CONCLUSIONS`, a one-line summary
that carries the key number, and the records behind it. The rules (`conclusion_word`):

1. A record that **fails** decides first. It persists — ``contradicted`` — when it is at
   ``samples=population`` (the proofs' ``n -> oo`` limit, where the concentration event is
   certain), at a finite ``n`` whose reading does not hold at population or was not measured
   there (nothing shows that it vanishes), or has no sample-size reading. It is a
   finite-sample effect — ``contradicted-finite-sample`` — when every failing record is at a
   finite ``n`` and the same source and reading at ``population`` holds: the theorem's
   statement at that ``n`` is contradicted, its population implication is not.
2. Else a simulation record that **holds** non-trivially makes the claim ``supported``.
3. Else records that hold only **trivially** (a structural reason the note names, e.g. the
   diagonal MIM surrogate whose ``r_k`` are 0 or 1) give ``supported-trivially`` — never
   ``supported``, even where the other readings are vacuous.
4. Else ``undecided`` if a test ran and could not decide, ``vacuous`` if the claim asserts
   nothing at any measured reading (a hypothesis fails: the summary names which).

Simulation records decide a claim that has them. Formula-level records are exact facts about
the claim's expressions under a reading (its symmetry, order and range, the threshold ``d*``,
the ordering when ``tr(H)`` grows like ``d``): they decide a claim only where nothing was
simulated, and otherwise a formula-level ``fails`` is named in the summary ("fails exactly")
without deciding the word, since it concerns a reading or a form of the bound (the proof's)
that the measurements do not share. Reported records (a paper's own table) are named in the
summary and decide only a claim without simulation records.

A ledger of several master seeds carries each record's verdict per seed (`Record.by_seed`);
the conclusion is then drawn in each seed and ``replicated = (k, K)`` says in how many of the
``K`` seeds it is the same word as in the first, and the summary says how many records change
verdict between seeds (a claim whose records flip between ``fails`` and ``inconclusive`` says so
rather than hiding it).

    >>> from bounds.judging.records import Record
    >>> rows = [Record(claim="thm4.2-local", source="Theorem 4.2 (local)", level="simulation",
    ...                verdict="holds-trivially", reading={"mim": "paper-surrogate"}, margin=0.09),
    ...         Record(claim="thm4.2-local", source="Theorem 4.2 (local)", level="simulation",
    ...                verdict="vacuous", reading={"mim": "alignment-exact"}, hypotheses={"A.5 (population)": False})]
    >>> (c,) = conclude(rows)
    >>> c.verdict, c.records
    ('supported-trivially', (0, 1))
    >>> c.summary
    'holds only trivially in 1 of 2: margin +0.09 [mim=paper-surrogate]; other records: vacuous 1 (A.5 fails)'
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping, Sequence

import theory

from bounds.judging.records import Record

#: The conclusion words, most severe first, with what each means (documented once; the report
#: prints them).
CONCLUSIONS: Mapping[str, str] = {
    "contradicted": "a record fails that does not vanish as n grows: a rejected test or counterexample at "
                    "population, a finite-n failure whose reading does not hold at population (or was not "
                    "measured there), an experiment without a sample-size reading, or, where nothing was "
                    "simulated, an exact (formula-level) counterexample",
    "contradicted-finite-sample": "every failing record is at a finite n, and the same reading at population "
                                  "holds: the statement fails at that n, its n -> oo implication does not",
    "supported": "no record fails and a simulation record holds non-trivially",
    "supported-trivially": "no record fails and the records that hold do so only for a structural reason "
                           "named in their notes (e.g. the diagonal MIM surrogate)",
    "undecided": "no record fails or holds: the tests ran and could not decide",
    "vacuous": "the claim asserts nothing at any measured reading (a hypothesis fails, or the stated "
               "probability is <= 0)",
}
WORDS: tuple[str, ...] = tuple(CONCLUSIONS)
#: The sample reading at which the proofs' concentration step is certain (Reading 6).
POPULATION = "population"


@dataclasses.dataclass(frozen=True)
class Conclusion:
    """One claim's conclusion: ``verdict`` (a word of `CONCLUSIONS`), a one-line ``summary``
    with the key number, ``records`` (positions in the ledger's records list, from 0; the first
    is the record the key number comes from, then the claim's other records in ledger order)
    and ``replicated`` ``(k, K)``: the conclusion is the same in k of K master seeds (None for
    a one-seed ledger)."""

    claim: str
    source: str
    verdict: str
    summary: str
    records: tuple[int, ...]
    replicated: tuple[int, int] | None = None

    def __post_init__(self):
        if self.verdict not in CONCLUSIONS:
            raise ValueError(f"verdict={self.verdict!r} must be one of {WORDS}")
        object.__setattr__(self, "records", tuple(int(i) for i in self.records))
        if self.replicated is not None:
            k, n = (int(x) for x in self.replicated)
            if not 0 <= k <= n or n < 1:
                raise ValueError(f"replicated={self.replicated!r} must be (k, K) with 0 <= k <= K and K >= 1")
            object.__setattr__(self, "replicated", (k, n))

    def to_json(self) -> dict[str, Any]:
        return {"claim": self.claim, "source": self.source, "verdict": self.verdict, "summary": self.summary,
                "records": list(self.records), "replicated": list(self.replicated) if self.replicated else None}

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> "Conclusion":
        replicated = row.get("replicated")
        return cls(claim=row["claim"], source=row["source"], verdict=row["verdict"], summary=row["summary"],
                   records=tuple(row["records"]), replicated=tuple(replicated) if replicated else None)


# ----------------------------------------------------------------------------- the rules


def _finite_n(record: Record) -> bool:
    samples = record.reading.get("samples")
    return samples is not None and samples != POPULATION


#: Readings whose value changes in the limit ``n -> oo``: Reading 7's one augmentation pair per
#: sample averages, over ``n`` samples, to the augmentation's expectation (``X = S``), so a
#: finite-``n`` record read with sampled augmentations meets the expectation at population.
AT_POPULATION: Mapping[str, Mapping[str, str]] = {"augmentation": {"sampled": "expectation"}}


def population_twins(record: Record, records: Sequence[Record]) -> list[Record]:
    """The records of ``record``'s source and level whose reading is ``record``'s at
    ``samples=population`` (with `AT_POPULATION`'s limits: sampled augmentations become their
    expectation)."""
    wanted = {axis: AT_POPULATION.get(axis, {}).get(value, value) for axis, value in record.reading.items()}
    wanted["samples"] = POPULATION
    return [r for r in records if r.source == record.source and r.level == record.level and dict(r.reading) == wanted]


def vanishes(record: Record, records: Sequence[Record]) -> bool:
    """Whether a failing ``record`` is a finite-sample effect: it is at a finite ``n`` and its
    `population_twins` among ``records`` all hold (trivially or not)."""
    if record.level != "simulation" or not _finite_n(record):
        return False
    twins = population_twins(record, records)
    return bool(twins) and all(r.verdict in ("holds", "holds-trivially") for r in twins)


def _evidence(records: Sequence[Record]) -> list[Record]:
    """The records that decide a claim: its simulation records, else its reported ones, else
    all (formula level)."""
    for level in ("simulation", "reported"):
        chosen = [r for r in records if r.level == level]
        if chosen:
            return chosen
    return list(records)


def conclusion_word(records: Sequence[Record]) -> str:
    """The word of `CONCLUSIONS` for one claim's ``records`` (the rules of the module docstring).

    >>> r = lambda v, s: Record(claim="thm4.3-local-similar", source="T", level="simulation", verdict=v,
    ...                         reading={"samples": s})
    >>> conclusion_word([r("fails", "n=d"), r("holds", "population")])
    'contradicted-finite-sample'
    >>> conclusion_word([r("fails", "n=d"), r("fails", "population")])
    'contradicted'
    """
    if not records:
        raise ValueError("records=[] must hold at least one record of the claim")
    evidence = _evidence(records)
    verdicts = {r.verdict for r in evidence}
    if "fails" in verdicts:
        failing = [r for r in evidence if r.verdict == "fails"]
        return "contradicted-finite-sample" if all(vanishes(r, records) for r in failing) else "contradicted"
    if "holds" in verdicts:
        return "supported"
    if "holds-trivially" in verdicts:
        return "supported-trivially"
    if "inconclusive" in verdicts:
        return "undecided"
    return "vacuous"


# ----------------------------------------------------------------------------- the summary


def _p(record: Record) -> float | None:
    return record.p_adjusted if record.p_adjusted is not None else record.p_value


def key_number(record: Record) -> str:
    """The number behind a record's verdict, in words: trials meeting the bound, the margin,
    the (adjusted) p-value; ``exact`` for a formula-level (symbolic) record.

    >>> key_number(Record(claim="thm4.2-local", source="T", level="simulation", verdict="fails",
    ...                   trials=424, successes=310, margin=-0.056, p_value=1e-19, p_adjusted=4e-17))
    '310/424 trials, margin -0.056, p_adj=4e-17'
    """
    if record.level == "formula":
        return "exact"
    parts = []
    # k/n trials say how often the claim was met; a failure met on every trial failed otherwise
    # (e.g. a tie where a strict inequality is claimed) and the margin says how
    if record.trials is not None and record.successes is not None and (
            record.successes < record.trials or record.verdict != "fails"):
        parts.append(f"{record.successes}/{record.trials} trials")
    if record.margin is not None:
        parts.append("margin 0" if record.margin == 0 else f"margin {record.margin:+.2g}")
    p = _p(record)
    if p is not None and record.verdict in ("fails", "inconclusive"):
        parts.append(f"{'p_adj' if record.p_adjusted is not None else 'p'}={p:.1g}")
    if not parts and record.empirical is not None:
        parts.append(f"measured {record.empirical:.3g}")
    return ", ".join(parts)


def where(group: Sequence[Record], among: Sequence[Record]) -> str:
    """The readings that set ``group`` apart among ``among`` (the claim's records): per axis,
    the values the group has when they are not all the values the claim was run under.

    >>> r = lambda m: Record(claim="thm4.2-local", source="T", level="simulation", verdict="holds", reading={"mim": m})
    >>> where([r("reconstruction")], [r("reconstruction"), r("paper-surrogate")])
    'mim=reconstruction'
    """
    def values(records):
        out: dict[str, set] = {}
        for r in records:
            for k, v in r.reading.items():
                out.setdefault(k, set()).add(v)
        return out

    every, mine = values(among), values(group)
    return ", ".join(f"{k}={'/'.join(sorted(v))}" for k, v in sorted(mine.items()) if v != every[k])


def failed_hypotheses(records: Iterable[Record]) -> list[str]:
    """The hypotheses that failed in ``records``, by name (``A.5 (population) (similar)`` -> ``A.5``)."""
    return sorted({k.split(" (")[0] for r in records for k, held in r.hypotheses.items() if not held})


def _decisive(word: str, evidence: Sequence[Record], records: Sequence[Record]) -> Record:
    """The record whose number a conclusion quotes: the strongest measured failure (persistent
    ones first, those at population first among them, then the smallest p-value, then the most
    negative margin; an exact one where none was measured), else the strongest support, else the best-powered inconclusive test, else the
    vacuous record with the largest margin."""
    def p_then_margin(r: Record) -> tuple[float, float]:
        p = _p(r)
        return (p if p is not None else 1.0, r.margin if r.margin is not None else 0.0)

    if word.startswith("contradicted"):
        failing = [r for r in evidence if r.verdict == "fails"]
        return min(failing, key=lambda r: (r.level == "formula", vanishes(r, records),
                                           r.reading.get("samples") != POPULATION, *p_then_margin(r)))
    wanted = {"supported": "holds", "supported-trivially": "holds-trivially", "undecided": "inconclusive",
              "vacuous": "vacuous"}[word]
    chosen = [r for r in evidence if r.verdict == wanted]
    if word == "undecided":
        return max(chosen, key=lambda r: (r.power if r.power is not None else -1.0, -p_then_margin(r)[0]))
    return max(chosen, key=lambda r: r.margin if r.margin is not None else float("-inf"))


def _what(record: Record) -> str:
    """What a formula-level record checks: its source after the claim's (``Theorem 4.4 (FL):
    reversal with ...`` -> ``reversal with ...``)."""
    return record.source.split(": ", 1)[-1]


def _where_failed(record: Record, records: Sequence[Record]) -> str:
    """Where a failing record stands with respect to ``n``: exact, at population, or at a finite
    ``n`` with what its population twins show; empty where no sample reading applies."""
    if record.level == "formula":
        return f"exact: {_what(record)}"
    if record.level == "reported":
        return "reported by the paper"
    samples = record.reading.get("samples")
    if samples is None:
        return ""
    if samples == POPULATION:
        return "at population"
    twins = population_twins(record, records)
    shown = "/".join(sorted({r.verdict for r in twins})) if twins else "not measured"
    return f"at {samples}; at population: {shown}"


def _count(label: str, group: Sequence[Record], among: Sequence[Record], total: int, number: str = "") -> str:
    """``label in k of n: number [readings]``: the key number first (a cut line keeps it), then
    the readings that set the group apart."""
    place = where(group, among)
    return f"{label} in {len(group)} of {total}" + (f": {number}" if number else "") + (f" [{place}]" if place else "")


def flips(records: Sequence[Record]) -> str:
    """How many ``records`` change verdict between master seeds, and between which words
    (empty when none does or the ledger has one seed)."""
    moved: dict[str, int] = {}
    for r in records:
        if r.by_seed and len(set(r.by_seed)) > 1:
            pair = "/".join(sorted(set(r.by_seed)))
            moved[pair] = moved.get(pair, 0) + 1
    if not moved:
        return ""
    total = sum(moved.values())
    kinds = ", ".join(f"{pair} {n}" for pair, n in sorted(moved.items(), key=lambda kv: (-kv[1], kv[0])))
    return f"{total} record{'s' if total > 1 else ''} change verdict between seeds ({kinds})"


#: The verdict of the records a conclusion word rests on.
_RESTS_ON = {"contradicted": "fails", "contradicted-finite-sample": "fails", "supported": "holds",
             "supported-trivially": "holds-trivially", "undecided": "inconclusive", "vacuous": "vacuous"}
_SHORT = {"holds": "holds", "holds-trivially": "trivially", "inconclusive": "inconclusive", "fails": "fails"}


def summarise(word: str, records: Sequence[Record]) -> tuple[str, Record]:
    """The one-line summary of a claim whose conclusion is ``word`` (one claim's ``records``)
    and the record whose number it quotes: the records the conclusion rests on, where (the
    readings that set them apart), the key number; then how many of the other records have each
    verdict (the vacuous ones with the hypotheses that fail), the paper's reported numbers and
    the records that change verdict between seeds."""
    evidence = _evidence(records)
    decisive = _decisive(word, evidence, records)
    groups: dict[str, list[Record]] = {}
    for r in evidence:
        groups.setdefault(r.verdict, []).append(r)
    n, main = len(evidence), _RESTS_ON[word]
    number = key_number(decisive)
    if word.startswith("contradicted"):
        at = _where_failed(decisive, records)
        number = at if decisive.level == "formula" else f"{number} ({at})" if at and number else at or number
        label = "fails at finite n" if word == "contradicted-finite-sample" else "fails"
        head = _count(label, groups["fails"], evidence, n, f"e.g. {number}" if number else "")
        gone = sum(vanishes(r, records) for r in groups["fails"])
        if word == "contradicted" and gone:
            head += f"; {gone} of them vanish at population"
        if word == "contradicted-finite-sample":
            head += "; every one holds at population"
    elif word == "undecided":
        power = (f"power {decisive.power:.2f}" + (f" with {decisive.trials} trials" if decisive.trials else "")
                 if decisive.power is not None else number)
        head = _count("inconclusive", groups["inconclusive"], evidence, n, power)
    elif word == "vacuous":
        why = failed_hypotheses(groups["vacuous"])
        head = f"vacuous in all {n}: " + (", ".join(why) + " fails" if why else "stated probability <= 0")
    else:
        head = _count("holds only trivially" if word == "supported-trivially" else "holds", groups[main], evidence, n,
                      number)
    others = [f"{_SHORT[v]} {len(groups[v])}" for v in ("holds", "holds-trivially", "inconclusive", "fails")
              if v in groups and v != main]
    if "vacuous" in groups and word != "vacuous":
        why = failed_hypotheses(groups["vacuous"])
        others.append(f"vacuous {len(groups['vacuous'])} ({', '.join(why) + ' fails' if why else 'probability <= 0'})")
    parts = [head] + (["other records: " + ", ".join(others)] if others else [])
    reported = [r for r in records if r.level == "reported" and r not in evidence]
    if reported:
        held = sum(r.verdict == "holds" for r in reported)
        parts.append(f"the paper's reported numbers satisfy it in {held} of {len(reported)}")
    exact = [r for r in records if r.level == "formula" and r.verdict == "fails" and r not in evidence]
    if exact:
        parts.append("fails exactly (formula level): " + "; ".join(_what(r) for r in exact))
    moved = flips(records)
    if moved:
        parts.append(moved)
    return "; ".join(parts), decisive


# ----------------------------------------------------------------------------- ledger order


def _paper_group(claim_id: str) -> tuple[int, int]:
    """(group, position): the theorems and their corollary, then Section 5's experiments, then
    the definitions and toolkit-added claims, each in registry order (installed claims after
    the built-in ones; ids this version does not know last)."""
    every = theory.claims_where()
    ids = [c.id for c in every]
    if claim_id not in ids:
        return 3, 0
    claim = every[ids.index(claim_id)]
    added = "toolkit-added" in claim.source  # the paper reference itself says so
    if claim.family in ("mim", "cl", "comparison", "connectivity") and claim.kind != "identity" and not added:
        group = 0
    elif claim.family == "experiment" and not added:
        group = 1
    else:
        group = 2
    return group, ids.index(claim_id)


def conclude(records: Sequence[Record]) -> tuple[Conclusion, ...]:
    """One `Conclusion` per claim of ``records`` (a ledger's records, in ledger order; indices
    refer to this sequence), in paper order. Records with ``by_seed`` (a replicated run) give
    each conclusion ``replicated = (k, K)``: drawn again from each seed's verdicts, it is the
    same word in k of the K seeds (the records' ``verdict`` is the first seed's)."""
    records = list(records)
    by_claim: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by_claim.setdefault(r.claim, []).append(i)
    seeds = {len(r.by_seed) for r in records if r.by_seed is not None}
    if len(seeds) > 1:
        raise ValueError(f"by_seed lengths {sorted(seeds)} differ: every record of a replicated ledger has one verdict per seed")
    out = []
    for claim_id in sorted(by_claim, key=_paper_group):
        indices = by_claim[claim_id]
        mine = [records[i] for i in indices]
        word = conclusion_word(mine)
        summary, decisive = summarise(word, mine)
        replicated = None
        if seeds:
            (k,) = seeds
            words = [conclusion_word([dataclasses.replace(r, verdict=r.by_seed[j]) if r.by_seed else r for r in mine])
                     for j in range(k)]
            same = sum(w == word for w in words)
            replicated = (same, k)
            others = sorted({w for w in words if w != word})
            summary += f"; replicated in {same} of {k} seeds" + (f" (else {'/'.join(others)})" if others else "")
        first = indices[next(j for j, r in enumerate(mine) if r is decisive)]
        try:
            source = theory.get_claim(claim_id).source
        except ValueError:  # a ledger of another version may name claims this one does not know
            source = mine[0].source
        out.append(Conclusion(claim_id, source, word, summary, (first, *(i for i in indices if i != first)), replicated))
    return tuple(out)


__all__ = ["AT_POPULATION", "CONCLUSIONS", "WORDS", "POPULATION", "Conclusion", "conclude", "conclusion_word", "failed_hypotheses", "flips",
           "key_number", "population_twins", "summarise", "vanishes", "where"]
