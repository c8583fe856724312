"""A battery of bad inputs to the configs (API), the command line, sweep TOML files and
``diff``: each is refused with a one-line ValueError (API) or exit status 2 (CLI) whose message
names the field, before any computation — so each case is fast by construction (no JAX program
runs before the refusal) — and nothing the user owns is deleted.

`outcome` classifies what a case did (clear / unclear / silent / traceback / lost), so the same
cases measure a toolkit that does not refuse them (`python tests/test_bad_input_battery.py`
prints the counts)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import os
import pathlib
import sys
from typing import Any, Callable

import numpy as np
import pytest

import sim
from bounds.running.cli import main
from bounds.running.diff import diff_ledgers
from bounds.running.ledger import read_run
from bounds.running.suite import get_suite
from sim.data import partition as part
from sim.studies.connectivity import ConnectivityStudy
from sim.studies.linear import LinearStudy



def _key():
    import jax

    return jax.random.key(0)


def _downstream(**bad):
    return dataclasses.replace(get_suite("smoke").downstream, **bad)


def _mar(**bad):
    return dataclasses.replace(get_suite("smoke").mar, **bad)


def _linear(**bad):
    return LinearStudy(**{"data": sim.DataConfig(d=32), "c": 4, "n_seeds": 4, **bad})


def _connectivity(**bad):
    return ConnectivityStudy(**{"N": 4, "d": 12, "levels": (3, 4), "n_seeds": 2, **bad})


def _measure_linear(**sizes):
    from sim.studies import linear

    return linear.measure(LinearStudy(**sizes), key=_key())


def _measure_connectivity(**sizes):
    from sim.studies import connectivity

    return connectivity.measure(_connectivity(**sizes), key=_key(), train=False)


ROW = {"claim": "thm4.2-local", "level": "simulation", "source": "Theorem 4.2 (local)",
       "reading": {"mim": "alignment-exact"}, "verdict": "holds", "margin": 0.1}

#: case -> (call, the field its message must name)
API: dict[str, tuple[Callable[[], Any], str]] = {
    # DownstreamStudy: every field (it accepted all but one of these)
    "downstream-d-zero": (lambda: _downstream(d=0), "DownstreamStudy.d"),
    "downstream-d-fraction": (lambda: _downstream(d=2.5), "DownstreamStudy.d"),
    "downstream-N-one": (lambda: _downstream(N=1), "DownstreamStudy.N"),
    "downstream-N-bool": (lambda: _downstream(N=True), "DownstreamStudy.N"),
    "downstream-N-too-many": (lambda: _downstream(N=9), "N"),
    "downstream-n_clients-zero": (lambda: _downstream(n_clients=0), "DownstreamStudy.n_clients"),
    "downstream-samples_per_client-zero": (lambda: _downstream(samples_per_client=0), "samples_per_client"),
    "downstream-rounds-zero": (lambda: _downstream(rounds=0), "DownstreamStudy.rounds"),
    "downstream-local_steps-negative": (lambda: _downstream(local_steps=-1), "DownstreamStudy.local_steps"),
    "downstream-batch_size-zero": (lambda: _downstream(batch_size=0), "DownstreamStudy.batch_size"),
    "downstream-learning_rate-zero": (lambda: _downstream(learning_rate=0.0), "DownstreamStudy.learning_rate"),
    "downstream-learning_rate-nan": (lambda: _downstream(learning_rate=math.nan), "DownstreamStudy.learning_rate"),
    "downstream-c-zero": (lambda: _downstream(c=0), "DownstreamStudy.c"),
    "downstream-c-above-d": (lambda: _downstream(c=17), "DownstreamStudy.c"),
    "downstream-hidden-zero": (lambda: _downstream(hidden=0), "DownstreamStudy.hidden"),
    "downstream-n_seeds-zero": (lambda: _downstream(n_seeds=0), "DownstreamStudy.n_seeds"),
    "downstream-probe_samples-zero": (lambda: _downstream(probe_samples=0), "DownstreamStudy.probe_samples"),
    "downstream-alpha-zero": (lambda: _downstream(alpha=0.0), "DownstreamStudy.alpha"),
    "downstream-alpha-string": (lambda: _downstream(alpha="0.1"), "DownstreamStudy.alpha"),
    "downstream-feature_transform": (lambda: _downstream(feature_transform="bogus"), "feature_transform"),
    "downstream-feature_strength-negative": (lambda: _downstream(feature_strength=-1.0), "feature_strength"),
    "downstream-aug_strength-nan": (lambda: _downstream(aug_strength=math.nan), "aug_strength"),
    "downstream-mask_ratio-one": (lambda: _downstream(mask_ratio=1.0), "DownstreamStudy.mask_ratio"),
    "downstream-optimizer": (lambda: _downstream(optimizer="adamw"), "optimizer"),
    "downstream-models-unknown": (lambda: _downstream(models=("nope",)), "DownstreamStudy.models"),
    "downstream-models-empty": (lambda: _downstream(models=()), "DownstreamStudy.models"),
    "downstream-data_models-empty": (lambda: _downstream(data_models=()), "DownstreamStudy.data_models"),
    "downstream-fast_compile-string": (lambda: _downstream(fast_compile="yes"), "DownstreamStudy.fast_compile"),
    "downstream-latent_k-zero": (lambda: _downstream(latent_k=0), "latent_k"),
    # MARStudy
    "mar-d-zero": (lambda: _mar(d=0), "MARStudy.d"),
    "mar-N-one": (lambda: _mar(N=1), "MARStudy.N"),
    "mar-c-above-d": (lambda: _mar(c=17), "MARStudy.c"),
    "mar-hidden-zero": (lambda: _mar(hidden=0), "MARStudy.hidden"),
    "mar-n_clients-zero": (lambda: _mar(n_clients=0), "MARStudy.n_clients"),
    "mar-samples_per_client-fraction": (lambda: _mar(samples_per_client=31.5), "MARStudy.samples_per_client"),
    "mar-n_seeds-zero": (lambda: _mar(n_seeds=0), "MARStudy.n_seeds"),
    "mar-probe_samples-bool": (lambda: _mar(probe_samples=True), "MARStudy.probe_samples"),
    "mar-rounds-zero": (lambda: _mar(rounds=0), "MARStudy.rounds"),
    "mar-batch_size-zero": (lambda: _mar(batch_size=0), "MARStudy.batch_size"),
    "mar-learning_rate-negative": (lambda: _mar(learning_rate=-1.0), "MARStudy.learning_rate"),
    "mar-model-unknown": (lambda: _mar(model="bogus"), "model"),
    "mar-clients_per_round-above-n_clients": (lambda: _mar(clients_per_round=9), "MARStudy.clients_per_round"),
    "mar-avg_connectivity-below-one": (lambda: _mar(avg_connectivity=0.5), "MARStudy.avg_connectivity"),
    "mar-avg_connectivity-above-n_clients": (lambda: _mar(avg_connectivity=5.0), "MARStudy.avg_connectivity"),
    "mar-alphas-empty": (lambda: _mar(alphas=()), "MARStudy.alphas"),
    "mar-alphas-negative": (lambda: _mar(alphas=(0.1, -1.0)), "MARStudy.alphas"),
    "mar-table_alpha-not-an-alpha": (lambda: _mar(table_alpha=0.5), "MARStudy.table_alpha"),
    "mar-table7_gammas-nan": (lambda: _mar(table7_gammas=(math.nan,)), "MARStudy.table7_gammas"),
    "mar-mask_ratio-zero": (lambda: _mar(mask_ratio=0.0), "MARStudy.mask_ratio"),
    "mar-optimizer": (lambda: _mar(optimizer="lbfgs"), "optimizer"),
    # LinearStudy: every field, and sizes refused before allocating
    "linear-transform-unknown": (lambda: _linear(transform="bogus"), "LinearStudy.transform"),
    "linear-transform_dim-zero": (lambda: _linear(transform_dim=0), "LinearStudy.transform_dim"),
    "linear-n_seeds-fraction": (lambda: _linear(n_seeds=1.5), "LinearStudy.n_seeds"),
    "linear-n_seeds-bool": (lambda: _linear(n_seeds=True), "LinearStudy.n_seeds"),
    "linear-c-fraction": (lambda: _linear(c=np.float64(4.5)), "LinearStudy.c"),
    "linear-mask_ratio-string": (lambda: _linear(mask_ratio="0.5"), "LinearStudy.mask_ratio"),
    "linear-data-not-a-config": (lambda: _linear(data=32), "LinearStudy.data"),
    "linear-samples-unknown": (lambda: _linear(samples="n=2d"), "samples"),
    "linear-d-20000-memory": (lambda: _measure_linear(data=sim.DataConfig(d=20000), c=4, n_seeds=32), "d = 20000"),
    "linear-n_seeds-1e9-memory": (lambda: _measure_linear(data=sim.DataConfig(d=32), c=4, n_seeds=10**9),
                                  "n_seeds = 1000000000"),
    # ConnectivityStudy
    "connectivity-N-one": (lambda: _connectivity(N=1), "ConnectivityStudy.N"),
    "connectivity-d-below-2N": (lambda: _connectivity(d=7), "ConnectivityStudy.d"),
    "connectivity-levels-not-ending-at-N": (lambda: _connectivity(levels=(3,)), "ConnectivityStudy.levels"),
    "connectivity-rounds-zero": (lambda: _connectivity(rounds=0), "ConnectivityStudy.rounds"),
    "connectivity-transform": (lambda: _connectivity(transform="bogus"), "ConnectivityStudy.transform"),
    "connectivity-samples": (lambda: _connectivity(samples=("bogus",)), "ConnectivityStudy.samples"),
    "connectivity-d-20000-memory": (lambda: _measure_connectivity(d=20000), "d = 20000"),
    # partitioners
    "dirichlet-alpha-zero": (lambda: part.dirichlet(4, 2, 8, 0.0, key=_key()), "alpha"),
    "dirichlet-n_classes-one": (lambda: part.dirichlet(1, 2, 8, 0.5, key=_key()), "n_classes"),
    "dirichlet-samples-zero": (lambda: part.dirichlet(4, 2, 0, 0.5, balanced=True, key=_key()), "samples_per_client"),
    "pathological-classes-zero": (lambda: part.pathological(4, 2, 8, 0, key=_key()), "classes_per_client"),
    "quantity-sigma-negative": (lambda: part.quantity_skew(4, 2, 8, -1.0, key=_key()), "sigma"),
    "feature-kind-unknown": (lambda: part.feature_transform("bogus", 4, 2, 1.0, key=_key()), "kind"),
    # diff on parsed ledgers
    "diff-api-records-not-rows": (lambda: diff_ledgers({"records": [1, 2, 3]}, {"records": []}), "records[0]"),
    "diff-api-claim-number": (lambda: diff_ledgers({"records": [{**ROW, "claim": 5}]}, {"records": []}), "claim"),
    "diff-api-margin-string": (lambda: diff_ledgers({"records": []}, {"records": [{**ROW, "margin": "x"}]}),
                               "margin"),
    "diff-api-no-records": (lambda: diff_ledgers({}, {"records": []}), "records"),
}


def _write(path: pathlib.Path, text: str) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _ledger(records: Any, **top) -> str:
    return json.dumps({"schema": 3, "suite": "smoke", "seed": 0, "records": records, **top})


def _folders(root: pathlib.Path) -> dict[str, str]:
    """Folders and files the CLI cases point at (`{name}` in their arguments)."""
    good = _write(root / "good.json", _ledger([ROW]))
    foreign = root / "foreign"
    _write(foreign / "notes.txt", "the user's own file")
    _write(foreign / "figures" / "plot.png", "the user's own figure")
    mixed = root / "mixed"  # a toolkit run folder in which the user put a figure of their own
    _write(mixed / "run.json", json.dumps({"tool": "dssl-bounds", "state": "complete", "files": {}}))
    _write(mixed / "figures" / "mine.png", "the user's own figure")
    _write(root / "usermarker" / "run.json", '{"my": "own file"}')
    _write(root / "truncated" / "run.json", '{"tool": "dssl-bounds", "state": "compl')
    _write(root / "running" / "run.json", json.dumps({"tool": "dssl-bounds", "state": "running", "started": "then"}))
    _write(root / "running" / "ledger.json", _ledger([ROW]))
    tampered = root / "tampered"
    _write(tampered / "ledger.json", _ledger([ROW]))
    _write(tampered / "run.json", json.dumps({"tool": "dssl-bounds", "state": "complete",
                                             "files": {"ledger.json": "0" * 64}}))
    return {"root": str(root), "good": str(good), "foreign": str(foreign), "mixed": str(mixed),
            "long": str(root / ("x" * 300) / "out")}


DIFF_FILES = {
    "records-not-rows": _ledger([1, 2, 3]),
    "records-missing": json.dumps({"schema": 3}),
    "records-object": json.dumps({"schema": 3, "records": {"a": 1}}),
    "top-level-list": json.dumps([ROW]),
    "schema-unknown": _ledger([ROW], schema=99),
    "schema-missing": json.dumps({"records": [ROW]}),
    "truncated": _ledger([ROW])[:40],
    "verdict-number": _ledger([{**ROW, "verdict": 1}]),
    "level-missing": _ledger([{k: v for k, v in ROW.items() if k != "level"}]),
    "reading-list": _ledger([{**ROW, "reading": ["mim"]}]),
    "margin-string": _ledger([{**ROW, "margin": "0.1"}]),
    "ci-one-number": _ledger([{**ROW, "ci": [0.1]}]),
    "ci-strings": _ledger([{**ROW, "ci": ["a", "b"]}]),
    "trials-bool-list": _ledger([{**ROW, "trials": [True]}]),
    "not-utf8": None,  # bytes written below
}
#: The field each malformed ledger's message names.
DIFF_FIELD = {"records-not-rows": "records[0]", "records-missing": "records", "records-object": "records",
              "top-level-list": "records", "schema-unknown": "schema", "schema-missing": "schema",
              "truncated": "JSON", "verdict-number": "records[0].verdict", "level-missing": "records[0].level",
              "reading-list": "records[0].reading", "margin-string": "records[0].margin", "ci-one-number": "ci",
              "ci-strings": "ci", "trials-bool-list": "trials", "not-utf8": "JSON"}

CLI: dict[str, tuple[list[str], str]] = {
    # output folders the toolkit does not own: refused before computing, nothing deleted
    "verify-out-dot-foreign": (["verify", "--suite", "smoke", "--only", "formula", "--out", "."], "--out='.'"),
    "verify-out-empty-string-foreign": (["verify", "--suite", "smoke", "--only", "formula", "--out", ""], "--out="),
    "verify-out-foreign-folder": (["verify", "--suite", "smoke", "--out", "{foreign}"], "notes.txt"),
    "verify-out-foreign-figures-in-run-folder": (["verify", "--suite", "smoke", "--out", "{mixed}"], "figures/mine.png"),
    "verify-out-user-run-json": (["verify", "--suite", "smoke", "--out", "{root}/usermarker"], "run.json"),
    "verify-out-300-char-component": (["verify", "--suite", "smoke", "--out", "{long}"], "--out="),
    "figures-out-dot-foreign": (["figures", "--suite", "smoke", "--out", "."], "--out='.'"),
    "figures-out-foreign-folder": (["figures", "--suite", "smoke", "--out", "{foreign}"], "notes.txt"),
    # diff: folders that are not a complete run
    "diff-folder-truncated-marker": (["diff", "{root}/truncated", "{good}"], "run.json"),
    "diff-folder-running": (["diff", "{root}/running", "{good}"], "did not finish"),
    "diff-folder-tampered": (["diff", "{root}/tampered", "{good}"], "ledger.json"),
    "diff-rel-tol-nan": (["diff", "{good}", "{good}", "--rel-tol", "nan"], "rel_tol"),
    **{f"diff-{name}": (["diff", f"{{root}}/{name}.json", "{good}"], DIFF_FIELD[name]) for name in DIFF_FILES},
}


def _toml(root: pathlib.Path, body: str, out: str | None = None) -> str:
    out = out if out is not None else str(root / "sweep-out")
    return str(_write(root / "sweep.toml", f'[sweep]\nout = "{out}"\n{body}\n'))


TOML: dict[str, tuple[Callable[[pathlib.Path], str], str]] = {
    "d-20000-memory": (lambda r: _toml(r, "d = [20000]\nn_seeds = 4"), "d = 20000"),
    "n_seeds-1e9-memory": (lambda r: _toml(r, "d = [24]\nn_seeds = 1e9"), "n_seeds = 1000000000"),
    "grid-of-a-million-points": (lambda r: _toml(r, f"d = {list(range(24, 1024))}\nmask_ratio = "
                                                 f"{[round(0.001 * i, 3) for i in range(1, 1000)]}"), "points"),
    "max_memory-limit": (lambda r: _toml(r, "d = [512]\nmax_memory = 0.001"), "the limit"),
    "max_memory-zero": (lambda r: _toml(r, "d = [24]\nmax_memory = 0"), "max_memory"),
    "max_memory-string": (lambda r: _toml(r, 'd = [24]\nmax_memory = "8GB"'), "max_memory"),
    "N-one": (lambda r: _toml(r, "d = [24]\nN = 1"), "N"),
    "n-odd": (lambda r: _toml(r, "d = [24]\nn = 3"), "DataConfig.n"),
    "n_rare-negative": (lambda r: _toml(r, "d = [24]\nn_rare = -1"), "n_rare"),
    "mu-zero": (lambda r: _toml(r, "d = [24]\nmu = 0.0"), "mu"),
    "tau-negative": (lambda r: _toml(r, "d = [24]\ntau = -1.0"), "tau"),
    "c-above-d": (lambda r: _toml(r, "d = [24]\nc = 100"), "c"),
    "seed-fraction": (lambda r: _toml(r, "d = [24]\nseed = 1.5"), "seed"),
    "seed-bool": (lambda r: _toml(r, "d = [24]\nseed = true"), "seed"),
    "n_seeds-bool": (lambda r: _toml(r, "d = [24]\nn_seeds = true"), "n_seeds"),
    "d-string": (lambda r: _toml(r, 'd = "24"'), "d"),
    "d-mixed-list": (lambda r: _toml(r, 'd = [24, "32"]'), "d"),
    "d-zero": (lambda r: _toml(r, "d = [0]"), "d"),
    "mask_ratio-empty": (lambda r: _toml(r, "d = [24]\nmask_ratio = []"), "mask_ratio"),
    "out-empty": (lambda r: _toml(r, "d = [24]", out=""), "out"),
    "out-foreign-folder": (lambda r: (_write(r / "theirs" / "notes.txt", "mine"), _toml(r, "d = [24]", out=str(r / "theirs")))[1],
                           "notes.txt"),
    "sweep-not-a-table": (lambda r: str(_write(r / "sweep.toml", "sweep = 5\n")), "[sweep]"),
}


def _run_cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as stop:  # argparse
            code = stop.code
    return code, err.getvalue()


def outcome(kind: str, case: str, root: pathlib.Path) -> tuple[str, str]:
    """What ``case`` did: ("clear" | "unclear" | "silent" | "traceback" | "lost", message).
    clear: refused (ValueError / exit 2) naming the field in one line; unclear: refused without
    naming it; silent: accepted; traceback: any other exception; lost: a user's file deleted."""
    root.mkdir(parents=True, exist_ok=True)
    folders = _folders(root)
    for name, text in DIFF_FILES.items():
        path = root / f"{name}.json"
        path.write_bytes(b"\xff\xfe{" if text is None else text.encode())
    owned = [p for p in root.rglob("*") if p.is_file()]
    cwd = os.getcwd()
    os.chdir(folders["foreign"])  # `--out .` and `--out ''` point at a folder of the user's files
    try:
        if kind == "api":
            call, field = API[case]
            try:
                call()
            except ValueError as err:
                code, message = 2, str(err)
            except Exception as err:  # noqa: BLE001 (what the case did is the measurement)
                return "traceback", f"{type(err).__name__}: {err}"
            else:
                code, message = 0, ""
        else:
            if kind == "cli":
                argv, field = CLI[case]
                argv = [a.format(**folders) for a in argv]
            else:
                make, field = TOML[case]
                argv = ["sweep", make(root)]
            try:
                code, message = _run_cli(argv)
            except Exception as err:  # noqa: BLE001
                return "traceback", f"{type(err).__name__}: {err}"
    finally:
        os.chdir(cwd)
    if any(not p.exists() for p in owned):
        return "lost", message
    if code == 2:
        one_line = message.strip().count("\n") == 0 and "Traceback" not in message
        return ("clear" if field in message and one_line else "unclear"), message
    return ("traceback" if "Traceback" in message else "silent"), message


CASES = [("api", c) for c in API] + [("cli", c) for c in CLI] + [("toml", c) for c in TOML]


@pytest.mark.parametrize("kind, case", CASES, ids=[f"{k}-{c}" for k, c in CASES])
def test_refused_naming_the_field(kind, case, tmp_path):
    result, message = outcome(kind, case, tmp_path)
    assert result == "clear", f"{result}: {message}"


def test_the_battery_is_large():
    assert len(CASES) >= 80


def test_refused_sweeps_create_nothing(tmp_path):
    for case in ("d-20000-memory", "n_seeds-1e9-memory", "grid-of-a-million-points"):
        assert outcome("toml", case, tmp_path)[0] == "clear"
        assert not (tmp_path / "sweep-out").exists()


def test_a_truncated_marker_names_the_file(tmp_path):
    _write(tmp_path / "run.json", '{"tool": "dssl-bounds", "sta')
    with pytest.raises(ValueError, match="run.json"):
        read_run(tmp_path)


def test_integers_accept_numpy_scalars():
    st = _downstream(d=np.int64(16), rounds=np.int32(4))
    assert (st.d, st.rounds) == (16, 4) and type(st.d) is int
    assert _linear(c=np.int64(4), n_seeds=np.int32(4)).c == 4


class _StillRunning(BaseException):
    """A case still computing after the tally's time limit: it was accepted (silent)."""


def tally(root: pathlib.Path, *, limit: int = 20, known: dict[str, str] | None = None) -> dict[str, int]:
    """Counts of each outcome over the battery; a case still running after ``limit`` seconds
    counts as silent; ``known``: outcomes given instead of running a case (one that would abort
    the process)."""
    import signal

    def stop(signum, frame):
        raise _StillRunning

    counts = dict.fromkeys(("clear", "unclear", "silent", "traceback", "lost"), 0)
    previous = signal.signal(signal.SIGALRM, stop)
    try:
        for i, (kind, case) in enumerate(CASES):
            if known and f"{kind}-{case}" in known:
                result, message = known[f"{kind}-{case}"], "(not run: its outcome is given)"
            else:
                signal.alarm(limit)
                try:
                    result, message = outcome(kind, case, root / str(i))
                except _StillRunning:
                    result, message = "silent", f"still computing after {limit} s"
                finally:
                    signal.alarm(0)
            counts[result] += 1
            print(f"{result:9s} {kind}-{case}: {message.strip()[:160]}", file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGALRM, previous)
    return counts


if __name__ == "__main__":  # pragma: no cover (measures a toolkit: counts per outcome)
    import tempfile

    import jax

    jax.config.update("jax_enable_x64", True)
    # Cases that would exhaust this machine's memory or abort the process where they are not
    # refused up front, given as the outcome they had there (a traceback, or an abort).
    given = dict(arg.split("=", 1) for arg in sys.argv[1:])
    print(tally(pathlib.Path(tempfile.mkdtemp()), known=given))
