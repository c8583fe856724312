"""A battery of bad inputs across the API, the CLI and sweep TOML files: each is refused with
a one-line ValueError (API) or exit status 2 (CLI) whose message names the field, before any
computation (so each case takes well under a second: no JAX program runs)."""

import json
import math
import os

import numpy as np
import pytest

import sim
from bounds.running.cli import main
from bounds.running.diff import diff_ledgers, load_ledger
from bounds.judging.evaluation import evaluate
from bounds.running.ledger import read_run, run_suite
from bounds.running.report import claims_table
from sim import checks
from sim.studies.linear import LinearStudy

API = {
    # DataConfig (Section 3.2): integers accept numpy/JAX scalars, reject bools and 2.7
    "data-d-bool": (lambda: sim.DataConfig(d=True), "DataConfig.d"),
    "data-d-fraction": (lambda: sim.DataConfig(d=2.7), "DataConfig.d"),
    "data-d-zero": (lambda: sim.DataConfig(d=0), "DataConfig.d"),
    "data-d-string": (lambda: sim.DataConfig(d="64"), "DataConfig.d"),
    "data-N-one": (lambda: sim.DataConfig(d=64, N=1), "DataConfig.N"),
    "data-N-too-many": (lambda: sim.DataConfig(d=8, N=5), "DataConfig.N"),
    "data-n-odd": (lambda: sim.DataConfig(d=64, n=3), "DataConfig.n"),
    "data-n_rare-negative": (lambda: sim.DataConfig(d=64, n_rare=-1), "DataConfig.n_rare"),
    "data-tau-nan": (lambda: sim.DataConfig(d=64, tau=math.nan), "DataConfig.tau"),
    "data-tau-string": (lambda: sim.DataConfig(d=64, tau="1"), "DataConfig.tau"),
    "data-mu-negative": (lambda: sim.DataConfig(d=64, mu=-1.0), "DataConfig.mu"),
    "data-rare-own-class": (lambda: sim.DataConfig(d=64, rare_class=(0, 0)), "rare_class[0]"),
    "data-rare-length": (lambda: sim.DataConfig(d=64, rare_class=(2,)), "rare_class"),
    "linear-c-small": (lambda: LinearStudy(data=sim.DataConfig(d=32), c=3), "c"),
    "linear-mask_ratio-one": (lambda: LinearStudy(data=sim.DataConfig(d=32), c=4, mask_ratio=1.0),
                              "LinearStudy.mask_ratio = 1.0 is out of range: must be a real number in (0, 1)"),
    # evaluate: out-of-domain values and misspelled names (Theorem 4.2's p in (0, 1))
    "evaluate-p-above-one": (lambda: evaluate("thm4.2-local", d=1e3, p=1.5), "p=1.5"),
    "evaluate-p-zero": (lambda: evaluate("thm4.2-local", d=1e3, p=0.0), "p=0.0"),
    "evaluate-d-negative": (lambda: evaluate("thm4.2-local", d=-1.0, p=0.5), "d=-1.0"),
    "evaluate-d-nan": (lambda: evaluate("thm4.2-local", d=math.nan, p=0.5), "d=nan"),
    "evaluate-p-string": (lambda: evaluate("thm4.2-local", d=1e3, p="0.5"), "p="),
    "evaluate-C-misspelled": (lambda: evaluate("thm4.2-local", d=1e3, p=0.5, c=5.0), "c="),
    "evaluate-unknown-name": (lambda: evaluate("thm4.2-local", d=1e3, p=0.5, dd=5.0), "dd="),
    "evaluate-C-negative": (lambda: evaluate("thm4.2-local", d=1e3, p=0.5, C=-1.0), "C=-1.0"),
    "evaluate-A_bar-above-N": (lambda: evaluate("thm4.2-decl", d=1e3, p=0.5, N=4, A_bar=5), "A_bar"),
    "evaluate-unknown-claim": (lambda: evaluate("thm9.9", d=1e3), "thm9.9"),
    "evaluate-unknown-variant": (lambda: evaluate("thm4.2-local", "proof", d=1e3, p=0.5), "variant"),
    # running a suite
    "suite-unknown": (lambda: run_suite("huge"), "suite"),
    "suite-seed-negative": (lambda: run_suite("smoke", seed=-1), "seed"),
    "suite-seed-2**63": (lambda: run_suite("smoke", seed=2**63), "seed"),
    "suite-seed-bool": (lambda: run_suite("smoke", seed=True), "seed"),
    "suite-only-unknown": (lambda: run_suite("smoke", only=["compare"]), "only"),
    "suite-jobs-zero": (lambda: run_suite("smoke", jobs=0), "jobs=0"),
    "suite-jobs-fraction": (lambda: run_suite("smoke", jobs=1.5), "jobs=1.5"),
    "table-format": (lambda: claims_table([], fmt="html"), "fmt"),
    "diff-rel-tol": (lambda: diff_ledgers({"records": []}, {"records": []}, rel_tol=-1.0), "rel_tol"),
    "checks-integer-bool": (lambda: checks.integer("classes_per_client", np.bool_(True), minimum=1),
                            "classes_per_client"),
    "checks-integer-fraction": (lambda: checks.integer("classes_per_client", 2.7, minimum=1), "classes_per_client"),
}


@pytest.mark.parametrize("case", sorted(API))
def test_api_refuses(case):
    call, field = API[case]
    with pytest.raises(ValueError) as err:
        call()
    message = str(err.value)
    assert field in message and "\n" not in message, message


def test_integers_accept_numpy_and_jax_scalars():
    import jax.numpy as jnp

    cfg = sim.DataConfig(d=np.int64(64), N=jnp.int32(3), n=64.0)
    assert (cfg.d, cfg.N, cfg.n) == (64, 3, 64) and all(type(v) is int for v in (cfg.d, cfg.N, cfg.n))


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    a_file = root / "a_file"
    a_file.write_text("not a folder")
    ledger = root / "ledger.json"
    ledger.write_text(json.dumps({"schema": 3, "records": []}))
    (root / "not_json.json").write_text("{")
    (root / "no_marker").mkdir()
    return root


CLI = {
    "verify-seed-negative": (["verify", "--seed", "-1"], "seed"),
    "verify-jobs-zero": (["verify", "--jobs", "0"], "jobs"),
    "verify-seed-2**63": (["verify", "--seed", str(2**63)], "seed"),
    "verify-seed-word": (["verify", "--seed", "zero"], "seed"),
    "verify-suite-unknown": (["verify", "--suite", "huge"], "--suite"),
    "verify-only-unknown": (["verify", "--only", "compare"], "--only"),
    "verify-out-is-file": (["verify", "--out", "{root}/a_file"], "--out"),
    "verify-out-under-file": (["verify", "--out", "{root}/a_file/sub"], "--out"),
    "figures-only-unknown": (["figures", "--only", "fig9"], "--only"),
    "figures-out-is-file": (["figures", "--out", "{root}/a_file"], "--out"),
    "figures-seed-negative": (["figures", "--seed", "-3"], "seed"),
    "sweep-missing-config": (["sweep", "{root}/nope.toml"], "config"),
    "diff-missing-ledger": (["diff", "{root}/nope.json", "{root}/ledger.json"], "ledger"),
    "diff-not-json": (["diff", "{root}/not_json.json", "{root}/ledger.json"], "ledger"),
    "diff-folder-without-run": (["diff", "{root}/no_marker", "{root}/ledger.json"], "run marker"),
    "diff-rel-tol-negative": (["diff", "{root}/ledger.json", "{root}/ledger.json", "--rel-tol", "-1"], "rel_tol"),
    "unknown-command": (["compare"], "COMMAND"),
}


def _exit_code(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse: usage error
        code = stop.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", sorted(CLI))
def test_cli_exits_2(case, paths, capsys):
    argv, field = CLI[case]
    code, err = _exit_code([a.format(root=paths) for a in argv], capsys)
    assert code == 2 and field in err, err
    assert "Traceback" not in err


TOML = {
    "mask_ratio-string": ('d = [24]\nmask_ratio = "0.5"', "mask_ratio"),
    "mask_ratio-above-one": ("d = [24]\nmask_ratio = 1.5", "mask_ratio"),
    "p-not-the-key": ("d = [24]\np = 0.5", "write mask_ratio = 0.5"),
    "out-number": ("d = [24]\nout = 5", "out"),
    "d-empty": ("d = []", "d"),
    "d-fraction": ("d = 2.7", "d"),
    "d-bool": ("d = true", "d"),
    "d-repeated": ("d = [24, 24]", "d"),
    "d-missing": ("mask_ratio = 0.5", "needs d"),
    "seed-negative": ("d = [24]\nseed = -1", "seed"),
    "seed-too-large": ("d = [24]\nseed = 1099511627776", "seed"),
    "tau-nan": ("d = [24]\ntau = nan", "tau"),
    "tau-infinite": ("d = [24]\ntau = inf", "tau"),
    "n_seeds-zero": ("d = [24]\nn_seeds = 0", "n_seeds"),
    "transform-unknown": ('d = [24]\ntransform = "rotate"', "transform"),
    "unknown-key": ("d = [24]\nC = 5", "unknown keys"),
    "c-below-2N": ("d = [24]\nc = 3", "c"),
    "N-too-large": ("d = [24]\nN = 20", "N"),
    "not-toml": ("d = [24", "TOML"),
}


@pytest.mark.parametrize("case", sorted(TOML))
def test_sweep_toml_exits_2(case, tmp_path, capsys):
    body, field = TOML[case]
    config = tmp_path / "sweep.toml"
    config.write_text(f'[sweep]\nout = "{tmp_path / "out"}"\n' * ("out =" not in body) + body + "\n"
                      if "not-toml" not in case else "[sweep]\n" + body)
    code, err = _exit_code(["sweep", str(config)], capsys)
    assert code == 2 and field in err, err
    assert not (tmp_path / "out").exists()  # refused before the first point


def test_sweep_without_table_and_out_under_a_file(tmp_path, capsys):
    config = tmp_path / "sweep.toml"
    config.write_text("d = [24]\n")
    assert _exit_code(["sweep", str(config)], capsys)[0] == 2
    (tmp_path / "file").write_text("")
    config.write_text(f'[sweep]\nout = "{tmp_path / "file" / "sub"}"\nd = [24]\n')
    code, err = _exit_code(["sweep", str(config)], capsys)
    assert code == 2 and "out=" in err


def test_an_interrupted_output_is_not_a_ledger(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"tool": "dssl-bounds", "state": "running", "started": "then"}))
    with pytest.raises(ValueError, match="did not finish"):
        read_run(tmp_path)
    with pytest.raises(ValueError, match="did not finish"):
        load_ledger(tmp_path)


def test_the_battery_is_large():
    assert len(API) + len(CLI) + len(TOML) >= 40


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_out(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, err = _exit_code(["verify", "--out", str(locked / "out")], capsys)
    assert code == 2 and "not writable" in err
