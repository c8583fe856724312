"""kill -9 during `verify` and during a sweep, then rerun: nothing lost, nothing mixed, and the
output is the output of an uninterrupted run (the creation timestamp aside)."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from bounds.running.ledger import RUN_MARKER, read_run

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The cheapest producers (formula, linear) at smoke shapes with fewer seeds,
# through the function `dssl-bounds verify` runs.
VERIFY = """
import dataclasses, os, sys, jax, matplotlib
jax.config.update("jax_enable_x64", True)
# The compilation cache the CLI would use: the reruns load what the first run compiled.
from bounds.running.cli import cache_dir
jax.config.update("jax_compilation_cache_dir", str(cache_dir()))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
matplotlib.use("Agg")
from bounds.running.ledger import verify
from bounds.running.suite import get_suite
tiny = dataclasses.replace(get_suite("smoke"), name="tiny", linear=dataclasses.replace(
    get_suite("smoke").linear, n_seeds=8, sweep_seeds=2, n_masks=16, free_seeds=4))
if __name__ == "__main__":  # the parallel runner's spawned workers import this file as a module
    verify(sys.argv[1], tiny, only=["formula", "linear"], resume=sys.argv[2] == "resume", jobs=int(sys.argv[3]),
           progress=lambda m: print(m, file=sys.stderr, flush=True))
"""


@pytest.fixture(scope="module")
def env():
    # The test run's shared compilation cache (conftest.py sets XDG_CACHE_HOME): the reruns, and
    # the other tests at smoke shapes, load what one of them compiled.
    assert "XDG_CACHE_HOME" in os.environ
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1"}


def _script(tmp_path):
    script = tmp_path / "verify_tiny.py"
    script.write_text(VERIFY, encoding="utf-8")
    return script


def _start(command, tmp_path, env) -> tuple[subprocess.Popen, pathlib.Path]:
    """``command`` running with its stderr in a file. Not a pipe: nothing reads it while the run
    goes, and jaxlib logs a long line for each program it loads from the compilation cache, so a
    pipe fills and the run's processes block writing to it."""
    log = tmp_path / "first.err"
    with log.open("w") as stderr:
        return subprocess.Popen(command, env=env, cwd=ROOT, stderr=stderr, text=True), log


def _kill_when(proc, log: pathlib.Path, path_glob, folder: pathlib.Path, timeout=600.0):
    """SIGKILL ``proc`` as soon as a file matching ``path_glob`` exists in ``folder``."""
    deadline = time.monotonic() + timeout
    try:
        while not list(folder.glob(path_glob)):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"no checkpoint appeared: {log.read_text()[-2000:]}"
            time.sleep(0.05)
    finally:
        proc.kill()  # SIGKILL: no handler, no cleanup runs
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


def _strip(report: str) -> str:
    """report.md without its last line (the run's creation time and timings)."""
    return report.rstrip("\n").rsplit("\n", 1)[0]


def _ledger(out: pathlib.Path) -> dict:
    data = json.loads((out / "ledger.json").read_text())
    for when_and_where in ("created", "environment"):  # the run's time, and the machine and source it ran on
        data.pop(when_and_where, None)
    return data


def test_verify_killed_then_rerun_equals_an_uninterrupted_run(tmp_path, env):
    script = _script(tmp_path)
    out, reference = tmp_path / "out", tmp_path / "reference"
    # The interrupted and resumed runs put each producer in its own process (jobs = 2), the
    # reference runs them in one: the ledgers must not differ.
    first, log = _start([sys.executable, str(script), str(out), "resume", "2"], tmp_path, env)
    _kill_when(first, log, "*-formula.npz", out / ".checkpoints")
    with pytest.raises(ValueError, match="did not finish"):
        read_run(out)  # the interrupted folder is not mistaken for a complete run
    second = subprocess.run([sys.executable, str(script), str(out), "resume", "2"], env=env, cwd=ROOT,
                            capture_output=True, text=True, check=True)
    assert "formula:" in second.stderr and "records resumed" in second.stderr, second.stderr
    assert "linear: running" in second.stderr
    subprocess.run([sys.executable, str(script), str(reference), "fresh", "1"], env=env, cwd=ROOT,
                   capture_output=True, text=True, check=True)
    marker = read_run(out)
    assert marker["state"] == "complete" and not (out / ".checkpoints").exists()
    assert _ledger(out) == _ledger(reference)
    assert _strip((out / "report.md").read_text()) == _strip((reference / "report.md").read_text())
    figures = sorted(p.name for p in (out / "figures").iterdir())
    assert figures and figures == sorted(p.name for p in (reference / "figures").iterdir())
    for name in ("ledger.json", "report.md", RUN_MARKER, *(f"figures/{f}" for f in figures)):
        assert (out / name).stat().st_mode & 0o777 == 0o666 & ~_umask(), name


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_sweep_killed_then_rerun_equals_an_uninterrupted_sweep(tmp_path, env):
    example = (ROOT / "examples" / "tiny_sweep.toml").read_text()

    def config(name):
        path = tmp_path / f"{name}.toml"
        path.write_text(example.replace('out = "results/tiny-sweep"', f'out = "{tmp_path / name}"'))
        return path

    command = [sys.executable, "-m", "bounds", "sweep"]
    first, log = _start([*command, str(config("out"))], tmp_path, env)
    _kill_when(first, log, "point-*.json", tmp_path / "out")
    assert not (tmp_path / "out" / "sweep.json").exists()
    done = sorted((tmp_path / "out").glob("point-*.json"))
    stamps = [p.stat().st_mtime_ns for p in done]
    second = subprocess.run([*command, str(config("out"))], env=env, cwd=ROOT, capture_output=True, text=True,
                            check=True)
    assert "on disk, skipped" in second.stderr
    assert [p.stat().st_mtime_ns for p in done] == stamps  # finished points are kept, not redone
    subprocess.run([*command, str(config("reference"))], env=env, cwd=ROOT, capture_output=True, check=True)
    resumed = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert resumed == json.loads((tmp_path / "reference" / "sweep.json").read_text())
    assert len(resumed["points"]) == 2
