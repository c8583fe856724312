"""End to end: `dssl-bounds verify --suite smoke` writes a ledger that honours DESIGN.md's schema."""

import contextlib
import io
import json
import math

import pytest

import theory
from bounds.running.cli import main
from bounds.running.ledger import read_run
from bounds.running.registry import producer_names
from bounds.judging.records import LEVELS, VERDICTS
from theory import READINGS as READING_KEYS

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
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("verify")
    capture = io.StringIO()
    with contextlib.redirect_stdout(capture):
        assert main(["verify", "--suite", "smoke", "--out", str(out), "--seed", "0", "--jobs", "1"]) == 0
    return out, capture.getvalue()


@pytest.fixture(scope="module")
def ledger(run):
    out, _ = run
    return json.loads((out / "ledger.json").read_text()), (out / "report.md").read_text()


def test_ledger_schema(ledger):
    data, _ = ledger
    assert data["schema"] == 3 and data["suite"] == "smoke" and data["seed"] == 0 and data["seeds"] == [0]
    environment = data["environment"]
    assert set(environment) == {"jax", "backend", "devices", "cpu", "info", "source"}
    assert environment["cpu"] and "jaxlib" in environment["info"] and len(environment["source"]) == 16
    assert isinstance(data["toolkit_version"], str) and "T" in data["created"]
    family = data["family"]
    assert family["correction"] in ("holm", "bonferroni", "bh", "by") and 0 < family["alpha"] < 1
    assert family["size"] == sum(r["p_adjusted"] is not None for r in data["records"]) > 0
    assert 0 <= family["expected_chance_rejections"] < family["size"] * family["alpha"]
    fields = {"claim", "source", "level", "reading", "verdict", "bound", "empirical", "margin", "statistic", "ci",
              "p_value", "p_adjusted", "trials", "successes", "power", "hypotheses", "n_seeds", "params", "by_seed",
              "note"}
    for rec in data["records"]:
        assert set(rec) == fields, rec["claim"]
        assert rec["by_seed"] is None  # one master seed
        assert rec["verdict"] in VERDICTS and rec["level"] in LEVELS
        assert set(rec["reading"]) <= set(READING_KEYS)
        for name in ("bound", "empirical", "margin"):
            assert rec[name] is None or math.isfinite(rec[name])
        assert rec["ci"] is None or (len(rec["ci"]) == 2 and rec["ci"][0] <= rec["ci"][1])
        assert rec["note"], rec["claim"]
        assert rec["claim"] in theory.CLAIMS or rec["level"] != "formula", rec["claim"]


def test_one_conclusion_per_claim_with_its_records(ledger):
    from bounds.judging.conclusions import CONCLUSIONS

    data, _ = ledger
    conclusions = data["conclusions"]
    claims = [c["claim"] for c in conclusions]
    assert sorted(claims) == sorted({r["claim"] for r in data["records"]})
    assert claims.index("thm4.2-local") < claims.index("thm4.6") < claims.index("table1-mim-drop-le-cl-drop")
    for c in conclusions:
        assert set(c) == {"claim", "source", "verdict", "summary", "records", "replicated"}
        assert c["verdict"] in CONCLUSIONS and c["summary"] and c["replicated"] is None
        assert {data["records"][i]["claim"] for i in c["records"]} == {c["claim"]}
    assert sum(len(c["records"]) for c in conclusions) == len(data["records"])


def test_every_claim_is_in_the_ledger_at_each_level(ledger):
    data, report = ledger
    by_level = {lvl: {r["claim"] for r in data["records"] if r["level"] == lvl} for lvl in LEVELS}
    assert FORMULA_IDS <= by_level["formula"]
    assert SIMULATION_IDS <= by_level["simulation"]
    mim = {r["reading"].get("mim") for r in data["records"] if r["claim"] == "thm4.2-local" and r["level"] == "simulation"}
    assert mim == {"paper-surrogate", "alignment-exact", "reconstruction"}
    assert "| # | claim | source | reading | level | bound | empirical | margin | p-value | verdict |" in report
    assert report.index("## Findings: claim × reading") < report.index("## Claims") < report.index("## Notes")


def test_terminal_shows_findings_first_and_no_output_cites_a_file_the_reader_lacks(run, ledger):
    out, printed = run
    data, report = ledger
    assert f"full report (conclusions, matrix, every record and its note): {out / 'report.md'}" in printed
    assert len(printed.splitlines()) <= 40  # the first screen: one line per claim
    for c in data["conclusions"]:
        assert any(line.split()[:2] == [c["claim"], c["verdict"]] for line in printed.splitlines()), c["claim"]
    for text in (printed, report, (out / "ledger.json").read_text()):
        assert "SPEC" not in text
    marker = read_run(out)  # complete, and the files are the ones the run wrote
    assert set(marker["files"]) >= {"ledger.json", "report.md", "figures/bounds_vs_d.png"}
    assert not (out / ".checkpoints").exists()


def test_help_documents_every_option_and_lists_the_producers(capsys):
    import argparse

    from bounds.running.cli import _parser

    parser = _parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(commands.choices) == {"verify", "figures", "sweep", "diff"}
    for name, sub in commands.choices.items():
        for action in sub._actions:
            assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    text = capsys.readouterr().out
    assert all(name in text for name in producer_names())
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.startswith("dssl-bounds ")


def test_sweep_resumes_from_disk(tmp_path):
    config = tmp_path / "sweep.toml"
    config.write_text(f'[sweep]\nout = "{tmp_path / "out"}"\nd = [24, 32]\nmask_ratio = 0.5\nn_seeds = 4\n')
    assert main(["sweep", str(config), "--no-cache"]) == 0
    points = sorted((tmp_path / "out").glob("point-*.json"))
    assert len(points) == 2
    stamps = [p.stat().st_mtime_ns for p in points]
    assert main(["sweep", str(config), "--no-cache"]) == 0
    assert [p.stat().st_mtime_ns for p in points] == stamps
    bad = tmp_path / "bad.toml"
    bad.write_text("[sweep]\nd = [24]\nmask_ratio = 1.5\n")
    assert main(["sweep", str(bad)]) == 2


def test_verify_draws_the_figures_of_its_own_run(ledger):
    _, report = ledger
    assert "![bounds_vs_d](figures/bounds_vs_d.png)" in report


def test_figures_command_writes_the_bounds_figure(tmp_path):
    assert main(["figures", "--only", "bounds_vs_d", "--suite", "smoke", "--out", str(tmp_path)]) == 0
    png = tmp_path / "bounds_vs_d.png"
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- an open suite


class ToyProducer:
    """A producer defined outside the toolkit: its sizes from ``suite.extra`` (a default without)."""

    name = "toy"

    def measure(self, suite, *, key):
        import jax

        n = suite.extra.get(self.name, 3)
        return {"draws": jax.random.uniform(key, (n,)).tolist()}

    def judge(self, measurement, suite):
        from bounds import Record

        return [Record(claim="thm4.2-local", source="toy", level="simulation", verdict="inconclusive",
                       empirical=sum(measurement["draws"]), trials=len(measurement["draws"]), note="toy")]


TOY = ToyProducer()  # an entry point names an object (or a module) of the Producer shape


class ToyFigure:
    PRODUCER = "toy"

    @staticmethod
    def make(measurement, records, out_dir):
        path = out_dir / "toy.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{len(measurement['draws'])} draws, verdict {records[0].verdict}\n")
        return [path]


def test_run_suite_runs_any_producer_with_its_key_and_extra_sizes():
    import dataclasses

    import bounds

    assert isinstance(ToyProducer(), bounds.Producer)
    suite = dataclasses.replace(bounds.get_suite("smoke"), extra={"toy": 5})
    ledger, measurements = bounds.run_suite(suite, seed=3, producers=[ToyProducer()])
    assert [r.source for r in ledger.records] == ["toy"] and ledger.records[0].trials == 5
    again = ToyProducer().measure(suite, key=bounds.producer_key(3, "toy"))
    assert measurements["toy"] == again  # one root key per run, split by the producer's name
    with pytest.raises(ValueError, match="distinct"):
        bounds.run_suite(suite, producers=[ToyProducer(), ToyProducer()])
    with pytest.raises(ValueError, match="producers"):
        bounds.run_suite(suite, producers=[object()])
    with pytest.raises(ValueError, match="Suite.extra"):
        dataclasses.replace(suite, extra=[1])


def test_several_master_seeds_keep_each_verdict_and_resume_seed_by_seed(tmp_path):
    import dataclasses

    import bounds

    suite = dataclasses.replace(bounds.get_suite("smoke"), extra={"toy": 4})
    said = []
    ledger, measurements = bounds.run_seeds(suite, seeds=[5, 6, 7], producers=[ToyProducer()],
                                            checkpoints=tmp_path, progress=said.append)
    assert ledger.seed == 5 and ledger.seeds == (5, 6, 7) and ledger.records[0].by_seed == ("inconclusive",) * 3
    assert ledger.conclusions[0].replicated == (3, 3) and "replicated in 3 of 3 seeds" in ledger.conclusions[0].summary
    assert measurements["toy"] == ToyProducer().measure(suite, key=bounds.producer_key(5, "toy"))
    assert ledger.to_json()["seeds"] == [5, 6, 7]
    again, _ = bounds.run_seeds(suite, seeds=[5, 6, 7], producers=[ToyProducer()], checkpoints=tmp_path,
                                progress=said.append)
    assert sum("resumed" in line for line in said) == 3  # every seed was checkpointed
    assert again.records == ledger.records
    with pytest.raises(ValueError, match="distinct"):
        bounds.run_seeds(suite, seeds=[1, 1], producers=[ToyProducer()])
    with pytest.raises(ValueError, match="seed"):
        bounds.run_seeds(suite, seeds=[1, -1], producers=[ToyProducer()])


def test_verify_seeds_option(tmp_path):
    out = tmp_path / "run"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["verify", "--suite", "smoke", "--only", "formula", "--seeds", "2", "--no-figures",
                     "--out", str(out), "--jobs", "1"]) == 0
    data = json.loads((out / "ledger.json").read_text())
    assert data["seeds"] == [0, 1] and all(len(r["by_seed"]) == 2 for r in data["records"])
    assert all(c["replicated"][1] == 2 for c in data["conclusions"])
    assert "master seeds 0–1" in printed.getvalue()
    command = ["verify", "--suite", "smoke", "--only", "formula", "--out", str(tmp_path / "bad")]
    for bad in (["--seeds", "0"], ["--seeds", "two"]):
        with contextlib.redirect_stderr(io.StringIO()), pytest.raises(SystemExit) as stop:
            main([*command, *bad])
        assert stop.value.code == 2
    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert main([*command, "--seed", str(2**32 - 1), "--seeds", "2"]) == 2
    assert "--seeds=2" in err.getvalue() and not (tmp_path / "bad").exists()  # refused before anything ran


def test_registered_extensions_are_run_and_drawn_by_verify(tmp_path, monkeypatch):
    """An installed package's entry points (here: the registry's reader, patched) add a producer
    and a figure that ``verify`` runs and draws next to the toolkit's."""
    from importlib import metadata

    from bounds.running import registry

    real = registry.entry_points
    extra = {registry.PRODUCER_GROUP: ("toy", "TOY"), registry.FIGURE_GROUP: ("toy_figure", "ToyFigure")}

    def entry_points(group):
        name, target = extra[group]
        point = metadata.EntryPoint(name, f"{__name__}:{target}", group)
        return {**real(group), name: point}

    monkeypatch.setattr(registry, "entry_points", entry_points)
    assert registry.producer_names()[-1] == "toy" and "toy_figure" in registry.figure_names()
    assert registry.load_producer("toy").name == "toy"
    out = tmp_path / "run"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["verify", "--suite", "smoke", "--only", "formula", "toy", "--out", str(out), "--jobs", "1"]) == 0
    data = json.loads((out / "ledger.json").read_text())
    assert "toy" in {r["source"] for r in data["records"]}
    assert (out / "figures" / "toy.md").read_text().startswith("3 draws, verdict inconclusive")
