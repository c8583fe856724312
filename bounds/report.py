"""The human-readable side of a ledger: the claims table and ``report.md``."""

from __future__ import annotations

import collections
import os
import pathlib
from typing import TYPE_CHECKING, Iterable

from bounds.records import VERDICTS, Record

if TYPE_CHECKING:
    from bounds.ledger import Ledger

COLUMNS = ("claim", "source", "reading", "level", "bound", "empirical", "margin", "verdict")


def _number(x: float | None) -> str:
    if x is None:
        return "—"
    if x == 0:
        return "0"
    if abs(x) >= 1e4 or abs(x) < 1e-3:
        return f"{x:.3e}"
    return f"{x:.4f}"


def _reading(record: Record) -> str:
    return ", ".join(f"{k}={v}" for k, v in record.reading.items()) or "—"


def table_rows(records: Iterable[Record]) -> list[tuple[str, ...]]:
    return [
        (r.claim, r.source, _reading(r), r.level, _number(r.bound), _number(r.empirical), _number(r.margin), r.verdict)
        for r in records
    ]


def claims_table(records: Iterable[Record], *, fmt: str = "markdown") -> str:
    """The claims table (claim, source, reading, level, bound, empirical, margin, verdict).

    ``fmt="markdown"`` for report.md, ``fmt="text"`` for the terminal (aligned columns).
    """
    rows = table_rows(records)
    if fmt == "markdown":
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    if fmt == "text":
        widths = [max(len(c), *(len(row[i]) for row in rows)) if rows else len(c) for i, c in enumerate(COLUMNS)]
        line = lambda cells: "  ".join(cell.ljust(w) for cell, w in zip(cells, widths)).rstrip()  # noqa: E731
        return "\n".join([line(COLUMNS), line(["-" * w for w in widths])] + [line(row) for row in rows])
    raise ValueError(f"fmt={fmt!r} must be 'markdown' or 'text'")


def verdict_counts(records: Iterable[Record]) -> dict[str, int]:
    counts = collections.Counter(r.verdict for r in records)
    return {v: counts.get(v, 0) for v in VERDICTS}


def summary_table(records: Iterable[Record]) -> str:
    """Verdict counts per claim and level (Markdown): the ledger at a glance."""
    counts: dict[tuple[str, str], collections.Counter] = {}
    for r in records:
        counts.setdefault((r.claim, r.level), collections.Counter())[r.verdict] += 1
    lines = ["| claim | level | " + " | ".join(VERDICTS) + " |", "|---|---|" + "---|" * len(VERDICTS)]
    for (claim, level), c in counts.items():
        lines.append(f"| {claim} | {level} | " + " | ".join(str(c.get(v, 0)) for v in VERDICTS) + " |")
    return "\n".join(lines)


def render_report(ledger: "Ledger", out_dir: pathlib.Path, figures: Iterable[pathlib.Path] = ()) -> str:
    """``report.md``: summary, claims table, every record's note, and the ``figures`` drawn from
    this run's measurements (paths; tables ``.md`` are inlined, images linked relative to
    ``out_dir``)."""
    counts = verdict_counts(ledger.records)
    timing = ", ".join(f"{k} {v:.1f}s" for k, v in ledger.seconds.items())
    parts = [
        f"# dssl-bounds report — suite `{ledger.suite}`, seed {ledger.seed}",
        "",
        f"Created {ledger.created}. {len(ledger.records)} records: "
        + ", ".join(f"{n} {v}" for v, n in counts.items())
        + f". Time: {timing}.",
        "",
        "Verdicts: **holds** — the computation supports the claim under this reading (statistical rule "
        "stated in the note); **holds-trivially** — it holds for a structural reason named in the note; "
        "**fails** — the computation contradicts it (counterexample or rejected test in the note); "
        "**inconclusive** — the test ran and could not decide; **vacuous** — the claim asserts nothing "
        "here (a hypothesis fails or the stated probability is <= 0; the note names which).",
        "",
        "## Summary by claim",
        "",
        summary_table(ledger.records),
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
        parts.append(f"{i}. `{r.claim}` ({r.source}; {_reading(r)}; {r.level}) **{r.verdict}**.{ci} {r.note}")
    figures = [pathlib.Path(f) for f in figures]
    images = sorted(f for f in figures if f.suffix == ".png")
    tables = sorted(f for f in figures if f.suffix == ".md")
    if images or tables:
        parts += ["", "## Figures", ""]
        for t in tables:
            parts += [f"### {t.stem}", "", t.read_text(encoding="utf-8").strip(), ""]
        for f in images:
            parts += [f"![{f.stem}]({os.path.relpath(f, out_dir)})", ""]
    return "\n".join(parts).rstrip() + "\n"
