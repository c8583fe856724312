"""The conclusions-first report: one line per claim (the terminal's first screen and the
opening of report.md, linked to records and figures), then the claim × reading matrix, a
sentence per claim, the linked table; generic over records (any reading axis, any verdict word
of the ledger)."""

import dataclasses
import pathlib

from bounds.judging.conclusions import Conclusion, conclude
from bounds.judging.family import control
from bounds.judging.records import Record
from bounds.running.ledger import Ledger
from bounds.running.report import (SCREEN_LINES, WIDTH, cell, claim_sentences, matrix, matrix_text, render_report,
                                   terminal_summary)


def _rec(claim, verdict, reading, margin=None, level="simulation", p_value=None):
    return Record(claim=claim, source=f"src {claim}", level=level, verdict=verdict, reading=reading, margin=margin,
                  p_value=p_value, note=f"note of {claim} {reading}")


RECORDS = (
    _rec("thm4.2-local", "holds", {"mim": "alignment-exact", "constants": "fitted"}, 0.01),
    _rec("thm4.2-local", "fails", {"mim": "alignment-exact", "constants": "unit"}, -0.5),
    _rec("thm4.2-local", "holds", {"mim": "reconstruction", "constants": "unit"}, 0.2),
    _rec("thm4.2-local", "fails", {"mim": "reconstruction", "constants": "unit"}, -0.3),
    _rec("thm4.4-fl", "inconclusive", {"mim": "paper-surrogate", "cl": "similar"}, p_value=0.2),
    _rec("thm4.6", "vacuous", {"decl": "objective-eq1"}, level="formula"),
)


def test_matrix_columns_are_objective_readings_and_cells_agree_or_count():
    columns, rows = matrix(RECORDS)
    assert columns == ["alignment-exact", "reconstruction", "paper-surrogate", "—"]
    cells = {(claim, rest): c for claim, _, rest, c in rows}
    assert cell(cells["thm4.2-local", "constants=unit"]["alignment-exact"]) == "✗ -0.5"
    # mixed records in one cell: the most severe verdict, with how many of the records have it
    assert cell(cells["thm4.2-local", "constants=unit"]["reconstruction"]) == "✗1/2 -0.3"
    # a comparison of MIM with CL: the MIM column, the CL variant in the row
    assert cell(cells["thm4.4-fl", "cl=similar"]["paper-surrogate"]) == "? p=0.2"
    assert cell(cells["thm4.6", "decl=objective-eq1"]["—"]) == "∅"


def test_sentences_say_where_a_claim_fails():
    sentences = claim_sentences(RECORDS)
    local = next(s for s in sentences if "`thm4.2-local`" in s)
    assert "Theorem 4.2 (local) states" in local and "fails in 2 (under constants=unit)" in local


def _ledger(records=RECORDS, **fields):
    records, family = control(list(records))
    return Ledger("smoke", 0, tuple(records), "2026-01-01T00:00:00+00:00", {"linear": 1.0}, family=family,
                  conclusions=conclude(records), **fields)


def test_report_opens_with_the_conclusions_then_the_matrix_and_links_rows_to_notes(tmp_path):
    ledger = _ledger(origins=("linear",) * 5 + ("formula",))
    figure = tmp_path / "figures" / "bounds_vs_d.png"
    report = render_report(ledger, tmp_path, [figure])
    head = report.split("## Findings")[0]
    first = head.split("## Conclusions")[1].strip().splitlines()
    assert [line.split("`")[1] for line in first[:3]] == ["thm4.2-local", "thm4.4-fl", "thm4.6"]  # paper order
    local = first[0]
    assert "**contradicted**" in local and "Key number from [#2](#note-2); records [#1](#note-1)" in local
    assert "figures: [bounds_vs_d](figures/bounds_vs_d.png)" in local  # drawn by the records' producer
    assert "figures:" not in first[2]  # the formula producer drew none
    assert "statistically judged records form one family" in head and "Holm" in head
    assert report.index("## Conclusions") < report.index("## Findings: claim × reading") < report.index("## Claims")
    assert matrix_text(RECORDS, markdown=True) in report
    assert "| [2](#note-2) | thm4.2-local |" in report and '2. <a id="note-2"></a>' in report
    assert "SPEC" not in report
    summary = terminal_summary(ledger, pathlib.Path("out/report.md"))
    assert "fails 2" in summary and "out/report.md" in summary and "note of" not in summary
    assert "note of" not in terminal_summary(ledger, pathlib.Path("r.md"), full=True)  # the table, not the notes
    assert "thm4.6" in terminal_summary(ledger, pathlib.Path("r.md"), full=True)


def test_the_first_screen_is_one_line_per_claim_within_forty_lines():
    ledger = _ledger()
    screen = terminal_summary(ledger, pathlib.Path("out/report.md"))
    lines = screen.splitlines()
    assert len(lines) <= SCREEN_LINES and all(len(line) <= 2 * WIDTH for line in lines)
    rows = [line for line in lines if line.split(" ")[0] in {r.claim for r in RECORDS}]
    assert [row.split()[:2] for row in rows] == [["thm4.2-local", "contradicted"], ["thm4.4-fl", "undecided"],
                                                 ["thm4.6", "vacuous"]]
    assert "p_adj=0.2" in rows[1]  # the key number (adjusted over the family)
    assert "✗" not in screen and "alignment-exact  " not in screen  # no matrix unless asked
    assert "✗" in terminal_summary(ledger, pathlib.Path("r.md"), matrix=True)
    # many claims: the screen still fits, and says how many more the report holds
    many = dataclasses.replace(ledger, conclusions=tuple(
        Conclusion("thm4.6", "Theorem 4.6", "supported", "x" * 400, (0,)) for _ in range(60)))
    lines = terminal_summary(many, pathlib.Path("r.md")).splitlines()
    assert len(lines) <= SCREEN_LINES and any("more claims in the report" in line for line in lines)
    assert max(len(line) for line in lines if line.startswith("thm4.6")) <= WIDTH


def test_replicated_conclusions_show_their_seed_count():
    records = [dataclasses.replace(r, by_seed=(r.verdict, "inconclusive", r.verdict)) for r in RECORDS]
    ledger = _ledger(records, seeds=(4, 5, 6))
    screen = terminal_summary(ledger, pathlib.Path("r.md"))
    assert "master seeds 4–6" in screen and "seeds" in screen.splitlines()[2]
    assert any(line.startswith("thm4.2-local") and " 2/3 " in line for line in screen.splitlines())
    report = render_report(ledger, pathlib.Path("."))
    assert "replicated in 2 of 3 seeds (else undecided)" in report and "Verdict per seed: fails, inconclusive, fails." in report
