"""The CLI's persistent compilation cache: one folder per CPU kind, and a warm run that loads
from it prints none of jaxlib's per-program loader messages."""

import os
import subprocess
import sys

from bounds.running.cli import cache_dir, host_tag

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_cache_folder_is_per_cpu_kind(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "dssl-bounds" / "jax" / host_tag()


def test_warm_cache_run_prints_no_loader_messages(tmp_path):
    # The CLI's own log-level default, not one inherited from this test process.
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    command = [sys.executable, "-m", "bounds", "verify", "--suite", "smoke", "--only", "formula", "--no-figures",
               "--jobs", "1", "--seed", "0"]
    runs = [subprocess.run([*command, "--out", str(tmp_path / f"out{i}")], env=env, cwd=ROOT, capture_output=True,
                           text=True, timeout=300) for i in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr[-2000:]
    folder = tmp_path / "xdg" / "dssl-bounds" / "jax" / host_tag()
    assert any(folder.iterdir())  # the first run wrote programs that the second one loaded
    # jaxlib 0.9.2 logs a warning per loaded program and, on CPUs tuned with +prefer-no-gather,
    # two ~2.5 kB errors (jax-ml/jax#38445): the CLI keeps them out of the terminal.
    assert "cpu_aot_loader" not in runs[1].stderr and "PjRt-IFRT" not in runs[1].stderr
