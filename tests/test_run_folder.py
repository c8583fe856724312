"""Faults of whole runs, by subprocess at smoke size with the cheapest producer (formula): a
folder of the user's is refused and nothing in it deleted; two runs into one folder, one refused
with the other's PID and the other's output that of a lone run; a checkpoint of another seed,
bit-flipped, or next to a pickle that would run code, recomputed to the clean run's ledger;
Ctrl-C: one line, exit 130, no process left, and the rerun resumes."""

from __future__ import annotations

import json
import os
import re
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import pytest

from bounds.running import registry, rundir
from bounds.running.ledger import CHECKPOINTS, RUN_MARKER, read_run
from bounds.running.produce import checkpoint_key, checkpoint_path, load_checkpoint, produce
from bounds.running.suite import get_suite

ROOT = pathlib.Path(__file__).resolve().parent.parent
VERIFY = [sys.executable, "-m", "bounds", "verify", "--suite", "smoke", "--no-figures", "--jobs", "1"]


@pytest.fixture(scope="module")
def env():
    assert "XDG_CACHE_HOME" in os.environ  # the test run's compilation cache (conftest.py)
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1"}


def _verify(out, env, *extra, only=("formula",), cwd=ROOT, check=True):
    return subprocess.run([*VERIFY, "--only", *only, "--out", str(out), *extra], env=env, cwd=cwd,
                          capture_output=True, text=True, check=check)


def _ledger(out: pathlib.Path) -> dict:
    data = json.loads((out / "ledger.json").read_text())
    for when_and_where in ("created", "environment"):  # the run's time, and the machine and source it ran on
        data.pop(when_and_where, None)
    return data


@pytest.fixture(scope="module")
def clean(tmp_path_factory, env):
    """One uninterrupted run: the reference every other run must reproduce."""
    out = tmp_path_factory.mktemp("clean") / "out"
    _verify(out, env)
    return _ledger(out)


def _files(folder: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_folder_of_the_users_is_refused_and_kept(tmp_path, env):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "plot.png").write_bytes(b"the user's figure")
    (tmp_path / "report.md").write_text("the user's report")
    (tmp_path / RUN_MARKER).write_text('{"written by": "the user"}')
    before = _files(tmp_path)
    for out in (".", ""):
        run = _verify(out, env, cwd=tmp_path, check=False)
        assert run.returncode == 2, run.stderr
        assert "--out='.' holds files the toolkit did not write" in run.stderr and "Traceback" not in run.stderr
    assert _files(tmp_path) == before


def test_the_figures_of_a_run_may_be_redrawn_into_its_figures_folder(tmp_path):
    """`figures --out RUN/figures` writes into a folder of files the run's marker lists; a file
    of the user's there is refused; a later run replaces the folder the figures command marked."""
    run = tmp_path / "run"
    (run / "figures").mkdir(parents=True)
    (run / "figures" / "a.png").write_bytes(b"drawn by verify")
    rundir.write_marker(run, state="complete", files={"figures/a.png": rundir.digest(run / "figures" / "a.png")})
    assert rundir.check_owned(run / "figures", "--out", subfolders=(".",)) == run / "figures"
    rundir.write_marker(run / "figures", state="complete", files={"a.png": "x", "b.png": "y"})
    (run / "figures" / "b.png").write_bytes(b"drawn by figures")
    assert rundir.check_owned(run, "--out") == run
    (run / "figures" / "mine.txt").write_text("the user's notes")
    with pytest.raises(ValueError, match="figures/mine.txt"):
        rundir.check_owned(run, "--out")
    (run / "figures" / "run.json").unlink()
    with pytest.raises(ValueError, match="did not write"):
        rundir.check_owned(run / "figures", "--out", subfolders=(".",))


def _wait_for(condition, proc, what: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the run ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"no {what}"
        time.sleep(0.05)


def test_two_runs_into_one_folder(tmp_path, env, clean):
    out = tmp_path / "out"
    log = tmp_path / "first.err"  # a file, not a pipe that nobody reads while the run goes
    with log.open("w") as stderr:
        first = subprocess.Popen([*VERIFY, "--only", "formula", "--out", str(out)], env=env, cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=stderr, text=True)
    try:
        _wait_for(lambda: (out / ".lock").exists() and (out / RUN_MARKER).exists(), first, "lock")
        first.send_signal(signal.SIGSTOP)  # the first run holds the folder while the second starts
        second = _verify(out, env, check=False)
    finally:
        first.send_signal(signal.SIGCONT)
    assert second.returncode == 2 and f"another dssl-bounds run (pid {first.pid})" in second.stderr, second.stderr
    first.wait(timeout=300)
    assert first.returncode == 0, log.read_text()
    assert read_run(out)["state"] == "complete" and _ledger(out) == clean
    assert not (out / ".lock").exists()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The formula producer's checkpoints of seeds 0 and 1 (this process computes them)."""
    folder = tmp_path_factory.mktemp("saved")
    smoke, formula = get_suite("smoke"), registry.load_producer("formula")
    for seed in (0, 1):
        produce(formula, smoke, seed, checkpoint_path(folder, smoke, seed, "formula"), lambda m: None)
    return folder


def _interrupted_folder(out: pathlib.Path) -> pathlib.Path:
    """A folder as an interrupted run leaves it: the marker says running, and a pickle that would
    create ``out/code-ran`` sits among the checkpoints."""
    (out / CHECKPOINTS).mkdir(parents=True)
    (out / RUN_MARKER).write_text(json.dumps({"tool": "dssl-bounds", "state": "interrupted", "started": "then"}))
    payload = (b"cposix\nsystem\n(S'touch " + str(out / "code-ran").encode() + b"'\ntR.")  # pickle protocol 0
    (out / CHECKPOINTS / "smoke-seed0-formula.pkl").write_bytes(payload)
    return out / CHECKPOINTS / "smoke-seed0-formula.npz"


@pytest.mark.parametrize("damage", ["foreign-seed", "bit-flip"])
def test_a_checkpoint_not_of_this_run_is_recomputed(damage, tmp_path, env, clean, saved):
    out = tmp_path / "out"
    ours = _interrupted_folder(out)
    smoke = get_suite("smoke")
    if damage == "foreign-seed":
        shutil.copy(checkpoint_path(saved, smoke, 1, "formula"), ours)
        why = "made for seed 1, not 0"
    else:
        blob = bytearray(checkpoint_path(saved, smoke, 0, "formula").read_bytes())
        blob[len(blob) // 3] ^= 0x10
        ours.write_bytes(bytes(blob))
        why = "not used ("
    run = _verify(out, env)
    assert f"formula: checkpoint {ours} not used" in run.stderr and why in run.stderr, run.stderr
    assert "formula: running" in run.stderr and "resumed" not in run.stderr
    assert _ledger(out) == clean
    assert not (out / "code-ran").exists()


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its exit status is left to collect


@pytest.mark.skipif(not pathlib.Path("/proc").is_dir(), reason="finds the worker processes through /proc")
def test_ctrl_c_ends_every_worker_and_the_rerun_resumes(tmp_path, env, clean):
    out, kept = tmp_path / "out", tmp_path / "kept"
    # Two producers in two worker processes; Ctrl-C as soon as one of them is checkpointed, while
    # the other is still running in its worker.
    # --no-cache: jaxlib logs a long line to stderr for each program it loads from the persistent
    # compilation cache; stderr is a pipe read only at the end, and a full pipe blocks the workers
    # (inside XLA's executable deserialization, which writes the line).
    proc = subprocess.Popen([*VERIFY[:-2], "--jobs", "2", "--no-cache", "--only", "formula", "linear", "--out", str(out)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: any((out / CHECKPOINTS).glob("*.npz")), proc, "checkpoint", timeout=900)
        workers = _children(proc.pid)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    # Progress lines start with [time]; XLA's C++ log lines with a level letter and the date.
    lines = [line for line in err.splitlines() if not re.match(r"\[|[IWEF]\d{4} ", line)]
    assert lines == ["dssl-bounds: interrupted; finished work is kept: the same command resumes it"], err
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert workers and not any(_alive(pid) for pid in workers)
    marker = json.loads((out / RUN_MARKER).read_text())
    assert marker["state"] == "interrupted" and not (out / ".lock").exists()
    done = sorted((out / CHECKPOINTS).glob("*.npz"))
    name = done[0].stem.split("-")[-1]
    shutil.copytree(out / CHECKPOINTS, kept)
    rerun = _verify(out, env, only=(name,))
    assert f"{name}: " in rerun.stderr and "records resumed" in rerun.stderr, rerun.stderr
    assert f"{name}: running" not in rerun.stderr
    smoke = get_suite("smoke")
    records, _, _ = load_checkpoint(checkpoint_path(kept, smoke, 0, name), checkpoint_key(smoke, 0, name))
    numbers = ("claim", "source", "verdict", "bound", "empirical", "margin")
    assert [{k: r[k] for k in numbers} for r in _ledger(out)["records"]] == [
        {k: r.to_json()[k] for k in numbers} for r in records]
    if name == "formula":
        assert _ledger(out) == clean
