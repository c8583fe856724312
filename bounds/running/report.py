"""The human-readable side of a ledger: findings first (a claim × reading matrix and a
sentence per claim), then the claims table, the notes and the figures of the same run.

Everything here works on records generically (claim, level, reading, verdict, statistic,
bound/empirical/margin, p-value, note), so a new producer, reading axis or verdict word needs
no change here.
"""

from __future__ import annotations

import collections
import os
import pathlib
from typing import Iterable, Mapping, Protocol, Sequence

from bounds.judging.records import VERDICTS, Record


class Ledger(Protocol):
    """What a report reads of a ledger (`bounds.running.ledger.Ledger` has it)."""

    suite: str
    seed: int
    records: Sequence[Record]
    created: str
    seconds: Mapping[str, float]

COLUMNS = ("#", "claim", "source", "reading", "level", "bound", "empirical", "margin", "p-value", "verdict")

#: One glyph per verdict (the matrix cells); unknown verdict words print as themselves.
GLYPHS = {"holds": "✓", "holds-trivially": "≡", "fails": "✗", "inconclusive": "?", "vacuous": "∅"}
#: The verdict a mixed cell shows: the one a reader must look at first.
SEVERITY = ("fails", "inconclusive", "vacuous", "holds-trivially", "holds")
#: Reading axes that name the model's objective (Section 3.3): the matrix's columns.
COLUMN_AXES = ("mim", "cl")
LEVEL_MARK = {"formula": "F", "simulation": "S", "reported": "R"}


def _number(x: float | None) -> str:
    if x is None:
        return "—"
    if x == 0:
        return "0"
    if abs(x) >= 1e4 or abs(x) < 1e-3:
        return f"{x:.3e}"
    return f"{x:.4f}"


def _short(x: float) -> str:
    """A key number in at most 7 characters (the matrix cells)."""
    return f"{x:+.2g}" if x != 0 else "0"


def _reading(reading) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(reading.items())) or "—"


def markdown_cell(text) -> str:
    """A Markdown table cell: ``|`` escaped so that e.g. ``|Ā|`` does not split the row.

    >>> print(markdown_cell("|Ā| = 5"))
    \\|Ā\\| = 5
    """
    return str(text).replace("|", "\\|")


def glyph(verdict: str) -> str:
    return GLYPHS.get(verdict, verdict)


def key_number(record: Record) -> str:
    """The number behind a verdict: the margin where the rule has one, else the p-value, else
    the measured value."""
    if record.margin is not None:
        return _short(record.margin)
    if record.p_value is not None:
        return f"p={record.p_value:.1g}"
    if record.empirical is not None:
        return _short(record.empirical)
    return ""


def _worst(records: Sequence[Record]) -> Record:
    rank = {v: i for i, v in enumerate(SEVERITY)}
    return min(records, key=lambda r: rank.get(r.verdict, -1))


def cell(records: Sequence[Record]) -> str:
    """One matrix cell: the glyph (with ``k/n`` when the records disagree: k of the n records
    have the shown, most severe verdict) and the key number of that record."""
    shown = _worst(records)
    count = sum(r.verdict == shown.verdict for r in records)
    mark = glyph(shown.verdict) if count == len(records) else f"{glyph(shown.verdict)}{count}/{len(records)}"
    return f"{mark} {key_number(shown)}".rstrip()


def _split(reading) -> tuple[tuple[int, str], str]:
    """(column, rest): the first objective axis present names the column (a comparison of MIM
    with CL, Theorem 4.4, is a MIM column with its CL variant in the row); the other axes the row."""
    axis = next((a for a in COLUMN_AXES if a in reading), None)
    column = (COLUMN_AXES.index(axis), reading[axis]) if axis else (len(COLUMN_AXES), "—")
    rest = _reading({k: v for k, v in reading.items() if k != axis})
    return column, rest


def matrix(records: Iterable[Record]) -> tuple[list[str], list[tuple[str, str, str, dict[str, list[Record]]]]]:
    """The claim × reading matrix: its columns (objective readings: MIM ones, CL ones, then
    '—' for records without one) and its rows ``(claim, level, other reading axes, {column:
    records})``, grouped by claim in ledger order."""
    columns: list[tuple[int, str]] = []
    rows: dict[tuple[str, str, str], dict[str, list[Record]]] = {}
    claims: dict[str, int] = {}
    for r in records:
        column, rest = _split(r.reading)
        if column not in columns:
            columns.append(column)
        claims.setdefault(r.claim, len(claims))
        rows.setdefault((r.claim, r.level, rest), {}).setdefault(column[1], []).append(r)
    columns.sort(key=lambda c: c[0])  # stable: appearance order within an axis
    ordered = sorted(rows.items(), key=lambda kv: claims[kv[0][0]])
    return [c for _, c in columns], [(claim, level, rest, cells) for (claim, level, rest), cells in ordered]


def _legend() -> str:
    return ("  ".join(f"{g} {v}" for v, g in GLYPHS.items())
            + "; k/n: k of n records have that verdict; number: margin, else p-value, else measured value")


def matrix_text(records: Iterable[Record], *, markdown: bool = False) -> str:
    """The matrix for the terminal (aligned columns) or for report.md (``markdown=True``)."""
    columns, rows = matrix(records)
    head = ["claim", "lvl", "other readings", *columns]
    body = [[claim, LEVEL_MARK.get(level, level), rest, *(cell(cells[c]) if c in cells else "" for c in columns)]
            for claim, level, rest, cells in rows]
    if markdown:
        md = markdown_cell
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(md(x) for x in row) + " |" for row in body]
        return "\n".join(lines) + "\n\n" + _legend() + " (lvl: F formula, S simulation, R reported)."
    return _aligned(head, body) + "\n" + _legend()


def _aligned(head: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(row) for row in body])


def table_rows(records: Iterable[Record], *, link: bool = False) -> list[tuple[str, ...]]:
    """One row per record; ``link=True`` makes the number a Markdown link to the record's note."""
    return [
        (f"[{i}](#note-{i})" if link else str(i), r.claim, r.source, _reading(r.reading), r.level, _number(r.bound),
         _number(r.empirical), _number(r.margin), _number(r.p_value), r.verdict)
        for i, r in enumerate(records, 1)
    ]


def claims_table(records: Iterable[Record], *, fmt: str = "markdown") -> str:
    """Every record: ``#`` (linked to its note in Markdown), claim, source, reading, level,
    bound, empirical, margin, p-value, verdict.

    ``fmt="markdown"`` for report.md, ``fmt="text"`` for the terminal (aligned columns).
    """
    if fmt == "markdown":
        md = markdown_cell
        rows = table_rows(records, link=True)
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(md(x) if i else x for i, x in enumerate(row)) + " |" for row in rows]
        return "\n".join(lines)
    if fmt == "text":
        return _aligned(COLUMNS, table_rows(records))
    raise ValueError(f"fmt={fmt!r} must be 'markdown' or 'text'")


def verdict_counts(records: Iterable[Record]) -> dict[str, int]:
    """Records per verdict, every verdict word listed (zeros included), unknown words last."""
    counts = collections.Counter(r.verdict for r in records)
    return {**{v: counts.get(v, 0) for v in VERDICTS}, **{v: n for v, n in counts.items() if v not in VERDICTS}}


def _where(group: Sequence[Record], claim: Sequence[Record]) -> str:
    """The readings that set ``group`` apart among the ``claim``'s records: per axis, the
    values the group has when they are not all the values the claim was run under
    (``mim=alignment-exact/reconstruction``)."""
    def values(records):
        out: dict[str, set] = {}
        for r in records:
            for k, v in r.reading.items():
                out.setdefault(k, set()).add(v)
        return out

    every, mine = values(claim), values(group)
    parts = [f"{k}={'/'.join(sorted(v))}" for k, v in sorted(mine.items()) if v != every[k]]
    return ", ".join(parts) or "readings of every kind"


def claim_sentences(records: Iterable[Record]) -> list[str]:
    """A sentence per claim: what the paper states and what the computation shows."""
    import theory

    by_claim: dict[str, list[Record]] = {}
    for r in records:
        by_claim.setdefault(r.claim, []).append(r)
    out = []
    for claim_id, recs in by_claim.items():
        try:
            claim = theory.get_claim(claim_id)
            stated = f"{claim.source} states `{claim.statement}`"
        except ValueError:  # a claim of the reported level only (a number the paper prints)
            stated = f"{recs[0].source} reports a number"
        groups: dict[str, list[Record]] = {}
        for r in recs:
            groups.setdefault(r.verdict, []).append(r)
        shown = []
        for verdict in sorted(groups, key=lambda v: SEVERITY.index(v) if v in SEVERITY else -1):
            g = groups[verdict]
            where = "" if len(groups) == 1 else f" (under {_where(g, recs)})"
            number = key_number(_worst(g))
            shown.append(f"{verdict} in {len(g)}{where}" + (f", e.g. {number}" if number else ""))
        out.append(f"- **`{claim_id}`** — {stated}. Of {len(recs)} records: " + "; ".join(shown) + ".")
    return out


def terminal_summary(ledger: Ledger, report_path: pathlib.Path, *, full: bool = False) -> str:
    """What ``verify`` prints: the matrix (or, with ``full``, every record), the verdict
    counts and where the report is."""
    body = claims_table(ledger.records, fmt="text") if full else matrix_text(ledger.records)
    counts = ", ".join(f"{k} {v}" for k, v in verdict_counts(ledger.records).items())
    return f"{body}\n\n{len(ledger.records)} records: {counts}\nfull report (every record and its note): {report_path}"


def render_report(ledger: Ledger, out_dir: pathlib.Path, figures: Iterable[pathlib.Path] = ()) -> str:
    """``report.md``: the matrix, a sentence per claim, the claims table (each row linked to
    its note), the notes, and the ``figures`` drawn from this run's measurements (paths;
    tables ``.md`` are inlined, images linked relative to ``out_dir``)."""
    counts = verdict_counts(ledger.records)
    timing = ", ".join(f"{k} {v:.1f}s" for k, v in ledger.seconds.items())
    parts = [
        f"# dssl-bounds report — suite `{ledger.suite}`, seed {ledger.seed}",
        "",
        f"{len(ledger.records)} records: " + ", ".join(f"{n} {v}" for v, n in counts.items()) + ".",
        "",
        "## Findings: claim × reading",
        "",
        matrix_text(ledger.records, markdown=True),
        "",
        "## What each claim states and what the computation shows",
        "",
        *claim_sentences(ledger.records),
        "",
        "Verdicts: **holds** — the computation supports the claim under this reading (statistical rule "
        "stated in the note); **holds-trivially** — it holds for a structural reason named in the note; "
        "**fails** — the computation contradicts it (counterexample or rejected test in the note); "
        "**inconclusive** — the test ran and could not decide; **vacuous** — the claim asserts nothing "
        "here (a hypothesis fails or the stated probability is <= 0; the note names which).",
        "",
        "## Claims",
        "",
        claims_table(ledger.records),
        "",
        "## Notes",
        "",
    ]
    for i, r in enumerate(ledger.records, 1):
        ci = f" CI [{_number(r.ci[0])}, {_number(r.ci[1])}]." if r.ci else ""
        stat = f" Statistic: {r.statistic}." if r.statistic else ""
        parts.append(f'{i}. <a id="note-{i}"></a>`{r.claim}` ({r.source}; {_reading(r.reading)}; {r.level}) '
                     f"**{r.verdict}**.{ci}{stat} {r.note}")
    figures = [pathlib.Path(f) for f in figures]
    images = sorted(f for f in figures if f.suffix == ".png")
    tables = sorted(f for f in figures if f.suffix == ".md")
    if images or tables:
        parts += ["", "## Figures (drawn from this run's measurements)", ""]
        for t in tables:
            parts += [f"### {t.stem}", "", t.read_text(encoding="utf-8").strip(), ""]
        for f in images:
            parts += [f"![{f.stem}]({os.path.relpath(f, out_dir)})", ""]
    parts += ["", f"Run created {ledger.created}; time: {timing}."]
    return "\n".join(parts).rstrip() + "\n"
