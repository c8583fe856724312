"""`dssl-bounds diff`: verdict transitions with counts, then the changed rows."""

import json

from bounds.running.cli import main
from bounds.running.diff import diff_ledgers, render_diff


def _row(claim, verdict, margin, reading=None, source="Theorem 4.2 (local)"):
    return {"claim": claim, "level": "simulation", "source": source, "reading": reading or {"mim": "alignment-exact"},
            "verdict": verdict, "margin": margin, "bound": 0.5, "ci": [0.1, 0.2]}


A = {"suite": "smoke", "seed": 0, "records": [_row("thm4.2-local", "holds", 0.1), _row("thm4.2-fl", "holds", 0.2),
                                              _row("thm4.2-fl", "holds", 0.3), _row("cor4.5", "fails", -1.0)]}
B = {"suite": "smoke", "seed": 1, "records": [_row("thm4.2-local", "fails", -0.1), _row("thm4.2-fl", "holds", 0.2),
                                              _row("thm4.2-fl", "holds", 0.3 + 1e-12), _row("thm4.6", "holds", 1.0)]}


def test_transitions_and_changed_rows():
    d = diff_ledgers(A, B)
    assert d.transitions == {("holds", "fails"): 1, ("holds", "holds"): 2}
    assert [c.key[0] for c in d.changes] == ["thm4.2-local"]  # 1e-12 is within the tolerance
    assert d.changes[0].numbers == {"margin": (0.1, -0.1)}
    assert [k[0] for k in d.only_a] == ["cor4.5"] and [k[0] for k in d.only_b] == ["thm4.6"]
    text = render_diff(d)
    assert "holds -> fails" in text and "margin 0.1 -> -0.1" in text and "cor4.5" in text
    assert diff_ledgers(A, B, rel_tol=0.0).changes[-1].numbers["margin"] == (0.3, 0.3 + 1e-12)


def test_cli_exit_status(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"schema": 2, **A}))  # diff reads ledgers of schema 2 and 3
    b.write_text(json.dumps({"schema": 3, **B}))
    assert main(["diff", str(a), str(a)]) == 0
    assert "no verdict or number changed" in capsys.readouterr().out
    assert main(["diff", str(a), str(b)]) == 1
    assert "holds -> fails" in capsys.readouterr().out
