"""`bounds.running.workers`: worker processes started before the toolkit is imported (what the CLI does)."""

import os

import jax
import pytest

from bounds.running import workers


def test_started_workers_are_ready_and_configured():
    started = workers.start(2, {**workers.current_settings(), "jax_enable_x64": True})
    try:
        seen = {started.pool.submit(workers._ready).result(timeout=300) for _ in range(4)}
    finally:
        started.close()
    pids = {pid for pid, _, _ in seen}
    assert 1 <= len(pids) <= 2 and os.getpid() not in pids  # at most the two started processes
    assert all(imported and x64 for _, imported, x64 in seen)  # toolkit imported by the initializer
    started.close()  # idempotent


def test_settings_are_the_inherited_ones():
    assert set(workers.current_settings()) == set(workers.INHERITED)
    assert workers.current_settings()["jax_enable_x64"] == jax.config.jax_enable_x64


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True])
def test_bad_jobs(jobs):
    with pytest.raises(ValueError, match="jobs"):
        workers.start(jobs)
