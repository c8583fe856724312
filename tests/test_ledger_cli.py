"""End to end: `dssl-bounds verify --suite smoke` writes a ledger that honours DESIGN.md's schema."""

import json
import math

import pytest

import theory
from bounds.cli import main
from bounds.records import LEVELS, READING_KEYS, VERDICTS

FORMULA_IDS = {
    "thm4.2-local", "thm4.2-decl", "thm4.2-fl",
    "thm4.3-local-similar", "thm4.3-decl-similar", "thm4.3-fl-similar",
    "thm4.3-local-dissimilar", "thm4.3-decl-dissimilar", "thm4.3-fl-dissimilar",
    "thm4.4-decl", "thm4.4-fl", "cor4.5", "thm4.6",
    "corrected-rv", "eq1-regular-equals-fl", "mim-alignment-zero-diagonal",
}  # fmt: skip
SIMULATION_IDS = {
    "thm4.2-local", "thm4.2-fl", "thm4.3-local-similar", "thm4.3-fl-similar", "thm4.3-local-dissimilar",
    "thm4.3-fl-dissimilar", "thm4.4-fl", "thm4.4-local", "corrected-rv", "mim-alignment-zero-diagonal",
}


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    out = tmp_path_factory.mktemp("verify")
    assert main(["verify", "--suite", "smoke", "--out", str(out), "--seed", "0"]) == 0
    return json.loads((out / "ledger.json").read_text()), (out / "report.md").read_text()


def test_ledger_schema(ledger):
    data, _ = ledger
    assert data["schema"] == 2 and data["suite"] == "smoke" and data["seed"] == 0
    assert set(data["environment"]) == {"jax", "backend", "devices"}
    assert isinstance(data["toolkit_version"], str) and "T" in data["created"]
    fields = {"claim", "source", "level", "reading", "verdict", "bound", "empirical", "margin", "statistic", "ci",
              "p_value", "trials", "successes", "power", "hypotheses", "n_seeds", "params", "note"}
    for rec in data["records"]:
        assert set(rec) == fields, rec["claim"]
        assert rec["verdict"] in VERDICTS and rec["level"] in LEVELS
        assert set(rec["reading"]) <= set(READING_KEYS)
        for name in ("bound", "empirical", "margin"):
            assert rec[name] is None or math.isfinite(rec[name])
        assert rec["ci"] is None or (len(rec["ci"]) == 2 and rec["ci"][0] <= rec["ci"][1])
        assert rec["note"], rec["claim"]
        assert rec["claim"] in theory.CLAIMS or rec["level"] != "formula", rec["claim"]


def test_every_claim_is_in_the_ledger_at_each_level(ledger):
    data, report = ledger
    by_level = {lvl: {r["claim"] for r in data["records"] if r["level"] == lvl} for lvl in LEVELS}
    assert FORMULA_IDS <= by_level["formula"]
    assert SIMULATION_IDS <= by_level["simulation"]
    mim = {r["reading"].get("mim") for r in data["records"] if r["claim"] == "thm4.2-local" and r["level"] == "simulation"}
    assert mim == {"paper-surrogate", "alignment-exact", "reconstruction"}
    assert "| claim | source | reading | level | bound | empirical | margin | verdict |" in report
    assert "| claim | level | " + " | ".join(VERDICTS) + " |" in report


def test_cli_rejects_bad_input(capsys):
    assert main(["verify", "--suite", "smoke", "--seed", "-1"]) == 2
    assert "seed" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["verify", "--suite", "huge"])
    assert main(["figures", "--only", "no_such_figure"]) == 2


def test_sweep_resumes_from_disk(tmp_path):
    config = tmp_path / "sweep.toml"
    config.write_text(f'[sweep]\nout = "{tmp_path / "out"}"\nd = [24, 32]\np = 0.5\nn_seeds = 4\n')
    assert main(["sweep", str(config)]) == 0
    points = sorted((tmp_path / "out").glob("point-*.json"))
    assert len(points) == 2
    stamps = [p.stat().st_mtime_ns for p in points]
    assert main(["sweep", str(config)]) == 0
    assert [p.stat().st_mtime_ns for p in points] == stamps
    bad = tmp_path / "bad.toml"
    bad.write_text("[sweep]\nd = [24]\np = 1.5\n")
    assert main(["sweep", str(bad)]) == 2


def test_verify_draws_the_figures_of_its_own_run(ledger):
    _, report = ledger
    assert "![bounds_vs_d](figures/bounds_vs_d.png)" in report


def test_figures_command_writes_the_bounds_figure(tmp_path):
    assert main(["figures", "--only", "bounds_vs_d", "--suite", "smoke", "--out", str(tmp_path)]) == 0
    png = tmp_path / "bounds_vs_d.png"
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
