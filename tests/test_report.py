"""The findings-first report: the claim × reading matrix, a sentence per claim, the linked
table; generic over records (any reading axis, any verdict word of the ledger)."""

import pathlib

from bounds.running.ledger import Ledger
from bounds.judging.records import Record
from bounds.running.report import cell, claim_sentences, matrix, matrix_text, render_report, terminal_summary


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


def test_report_opens_with_the_matrix_and_links_rows_to_notes(tmp_path):
    ledger = Ledger("smoke", 0, RECORDS, "2026-01-01T00:00:00+00:00", {"linear": 1.0})
    report = render_report(ledger, tmp_path)
    head = report.split("## Claims")[0]
    assert "## Findings: claim × reading" in head and matrix_text(RECORDS, markdown=True) in head
    assert "| [2](#note-2) | thm4.2-local |" in report and '2. <a id="note-2"></a>' in report
    assert "SPEC" not in report
    summary = terminal_summary(ledger, pathlib.Path("out/report.md"))
    assert "fails 2" in summary and "out/report.md" in summary and "note of" not in summary
    assert "note of" not in terminal_summary(ledger, pathlib.Path("r.md"), full=True)  # the table, not the notes
    assert "thm4.6" in terminal_summary(ledger, pathlib.Path("r.md"), full=True)
