"""The human-readable side of a ledger: conclusions first (one line per claim with its key
number: the terminal's first screen and the opening of ``report.md``), then the claim × reading
matrix, a sentence per claim, the claims table, the notes and the figures of the same run.

Everything here works on records and conclusions generically (claim, level, reading, verdict,
statistic, bound/empirical/margin, p-value, note; `bounds.judging.conclusions`), so a new
producer, reading axis or verdict word needs no change here.
"""

from __future__ import annotations

import collections
import os
import pathlib
from typing import Any, Iterable, Mapping, Protocol, Sequence

from bounds.judging.conclusions import CONCLUSIONS, Conclusion, where
from bounds.judging.records import VERDICTS, Record


class Ledger(Protocol):
    """What a report reads of a ledger (`bounds.running.ledger.Ledger` has it): ``family`` is
    None and ``conclusions``, ``origins`` (the producer of each record) and ``environment``
    empty where a ledger lacks them."""

    suite: str
    seed: int
    records: Sequence[Record]
    created: str
    seconds: Mapping[str, float]
    seeds: Sequence[int]
    family: Any
    conclusions: Sequence[Conclusion]
    environment: Mapping[str, Any]
    origins: Sequence[str]

#: The first screen of ``verify`` has at most this many lines, and each at most `WIDTH`
#: characters (a longer summary is cut; report.md has it whole).
SCREEN_LINES = 40
WIDTH = 180

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
            place = where(g, recs) or "readings of every kind"
            place = "" if len(groups) == 1 else f" (under {place})"
            number = key_number(_worst(g))
            shown.append(f"{verdict} in {len(g)}{place}" + (f", e.g. {number}" if number else ""))
        out.append(f"- **`{claim_id}`** — {stated}. Of {len(recs)} records: " + "; ".join(shown) + ".")
    return out



def _seeds_text(seeds: Sequence[int]) -> str:
    seeds = list(seeds)
    if len(seeds) <= 1:
        return f"seed {seeds[0]}" if seeds else ""
    consecutive = seeds == list(range(seeds[0], seeds[0] + len(seeds)))
    return f"master seeds {seeds[0]}–{seeds[-1]}" if consecutive else "master seeds " + ", ".join(map(str, seeds))


def family_line(family: Any) -> str:
    """The run's error control in one sentence: the family's size, correction, level and the
    expected number of chance rejections (empty for a ledger without a family)."""
    if family is None:
        return ""
    statement = getattr(family, "statement", "")
    if statement:
        return statement
    return (f"{family.size} statistically judged records form one family ({family.correction}, alpha = "
            f"{family.alpha:g}); expected chance fails at most {family.expected_chance_rejections:.3g}.")


def _replication(c: Conclusion) -> str:
    return f"{c.replicated[0]}/{c.replicated[1]}" if c.replicated else ""


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def conclusions_text(conclusions: Sequence[Conclusion], *, lines: int = SCREEN_LINES - 6,
                     width: int = WIDTH) -> str:
    """One aligned line per conclusion (claim, word, seeds replicated k/K where the run had
    several, summary cut to ``width`` characters), at most ``lines`` lines with the header."""
    replicated = any(c.replicated for c in conclusions)
    head = ["claim", "conclusion", *(["seeds"] if replicated else []), "summary (key number)"]
    body = [[c.claim, c.verdict, *([_replication(c)] if replicated else [])] for c in conclusions]
    prefix = sum(max(len(row[i]) for row in [head, *body]) + 2 for i in range(len(head) - 1))
    body = [[*row, _cut(c.summary, max(width - prefix, 20))] for row, c in zip(body, conclusions)]
    room = max(lines - 2, 1)
    hidden = len(body) - room if len(body) > room else 0
    if hidden:
        body = body[: room - 1]
    return _aligned(head, body) + (f"\n... {hidden + 1} more claims in the report" if hidden else "")


def terminal_summary(ledger: Ledger, report_path: pathlib.Path, *, full: bool = False, matrix: bool = False) -> str:
    """What ``verify`` prints: the first screen — what ran, one line per claim with its
    conclusion and key number, the error control, where the report is (at most
    `SCREEN_LINES` lines) — then, with ``matrix``, the claim × reading matrix and, with
    ``full``, every record."""
    counts = ", ".join(f"{k} {v}" for k, v in verdict_counts(ledger.records).items() if v)
    seeds = getattr(ledger, "seeds", ()) or (ledger.seed,)
    lines = [f"suite {ledger.suite}, {_seeds_text(seeds)}: {len(ledger.records)} records ({counts})", ""]
    conclusions = getattr(ledger, "conclusions", ())
    if conclusions:
        lines.append(conclusions_text(conclusions))
    control = family_line(getattr(ledger, "family", None))
    lines += ["", _cut(control, 2 * WIDTH)] if control else []
    lines.append(f"full report (conclusions, matrix, every record and its note): {report_path}"
                 + ("" if matrix or full else "; --matrix prints the claim x reading matrix, --full every record"))
    parts = ["\n".join(lines)]
    if matrix:
        parts.append(matrix_text(ledger.records))
    if full:
        parts.append(claims_table(ledger.records, fmt="text"))
    return "\n\n".join(parts)


def _figure_links(ledger: Ledger, figures: Sequence[pathlib.Path], out_dir: pathlib.Path) -> dict[str, list[str]]:
    """Producer name -> Markdown links to the images its registered figures drew (a file is a
    figure's when its name is the figure's or starts with it and ``_``)."""
    from bounds.running.registry import figures as registered

    try:
        owners = {name: figure.PRODUCER for name, figure in registered().items()}
    except ValueError:  # an entry point that cannot be loaded: no links, the report still renders
        return {}
    links: dict[str, list[str]] = {}
    for path in sorted(p for p in figures if p.suffix == ".png"):
        names = [n for n in owners if path.stem == n or path.stem.startswith(n + "_")]
        if names:
            owner = owners[max(names, key=len)]
            links.setdefault(owner, []).append(f"[{path.stem}]({os.path.relpath(path, out_dir)})")
    return links


def conclusion_lines(ledger: Ledger, figures: Sequence[pathlib.Path] = (), out_dir: pathlib.Path = pathlib.Path(".")
                     ) -> list[str]:
    """report.md's conclusions: one item per claim — word, source, summary, replication, the
    record the key number comes from and the others (linked to their notes), and the figures
    drawn by the producers of those records."""
    links = _figure_links(ledger, figures, out_dir)
    origins = list(getattr(ledger, "origins", ()))
    out = []
    for c in getattr(ledger, "conclusions", ()):
        numbers = [i + 1 for i in c.records]
        quoted = f"key number from [#{numbers[0]}](#note-{numbers[0]})" if numbers else "no records"
        rest = numbers[1:]
        shown = "; records " + ", ".join(f"[#{n}](#note-{n})" for n in rest[:12]) if rest else ""
        more = f" and {len(rest) - 12} more" if len(rest) > 12 else ""
        producers = dict.fromkeys(origins[i] for i in c.records) if origins else {}
        drawn = [link for p in producers for link in links.get(p, [])]
        seen = f"; figures: {', '.join(drawn)}" if drawn else ""
        out.append(f"- **`{c.claim}`** ({markdown_cell(c.source)}) — **{c.verdict}**: {markdown_cell(c.summary)}. "
                   f"{quoted.capitalize()}{shown}{more}{seen}.")
    return out


def render_report(ledger: Ledger, out_dir: pathlib.Path, figures: Iterable[pathlib.Path] = ()) -> str:
    """``report.md``: the conclusions (one per claim, each linked to its records and figures)
    with the error control, then the matrix, a sentence per claim, the claims table (each row
    linked to its note), the notes, the ``figures`` drawn from this run's measurements (paths;
    tables ``.md`` are inlined, images linked relative to ``out_dir``) and the environment."""
    figures = [pathlib.Path(f) for f in figures]
    counts = verdict_counts(ledger.records)
    timing = ", ".join(f"{k} {v:.1f}s" for k, v in ledger.seconds.items())
    seeds = getattr(ledger, "seeds", ()) or (ledger.seed,)
    control = family_line(getattr(ledger, "family", None))
    parts = [
        f"# dssl-bounds report — suite `{ledger.suite}`, {_seeds_text(seeds)}",
        "",
        f"{len(ledger.records)} records: " + ", ".join(f"{n} {v}" for v, n in counts.items()) + ".",
        "",
        "## Conclusions",
        "",
        *conclusion_lines(ledger, figures, out_dir),
        "",
        *([f"Error control: {control}", ""] if control else []),
        "Conclusions: " + "; ".join(f"**{word}** — {meaning}" for word, meaning in CONCLUSIONS.items()) + ".",
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
        adjusted = f" Adjusted p-value {_number(r.p_adjusted)}." if r.p_adjusted is not None else ""
        per_seed = f" Verdict per seed: {', '.join(r.by_seed)}." if r.by_seed else ""
        parts.append(f'{i}. <a id="note-{i}"></a>`{r.claim}` ({r.source}; {_reading(r.reading)}; {r.level}) '
                     f"**{r.verdict}**.{ci}{stat}{adjusted}{per_seed} {r.note}")
    images = sorted(f for f in figures if f.suffix == ".png")
    tables = sorted(f for f in figures if f.suffix == ".md")
    if images or tables:
        parts += ["", "## Figures (drawn from this run's measurements)", ""]
        for t in tables:
            parts += [f"### {t.stem}", "", t.read_text(encoding="utf-8").strip(), ""]
        for f in images:
            parts += [f"![{f.stem}]({os.path.relpath(f, out_dir)})", ""]
    environment = getattr(ledger, "environment", {}) or {}
    if environment:
        parts += ["", "## Environment", "",
                  f"CPU {environment.get('cpu')}; backend {environment.get('backend')} with "
                  f"{environment.get('devices')} device(s); toolkit source digest `{environment.get('source')}`.", "",
                  "```", str(environment.get("info", "")).strip(), "```"]
    parts += ["", f"Run created {ledger.created}; time: {timing}."]
    return "\n".join(parts).rstrip() + "\n"
