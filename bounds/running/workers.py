"""The parallel runner's worker processes, started before the toolkit is imported.

``verify --jobs J`` runs producers in spawned processes (JAX does not survive a fork). A worker
imports the toolkit — JAX, SciPy, SymPy, the studies: about 4 s of one core — and so does the
parent; one after the other they cost about 8 s before the first producer runs (default
``verify`` on 2 cores: the first producer started 10.4-11.5 s after launch). The CLI therefore
starts the workers (`start`) right after configuring JAX and before importing the toolkit
itself, so that the imports overlap. This module imports nothing heavy at module level:
unpickling its functions in a fresh worker is cheap, and the worker's own import of the
toolkit (in `_init`) starts at once.

Public surface: ``start(jobs, settings=None) -> Workers``, ``Workers.close()``, ``WorkerDied``, ``INHERITED``.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import multiprocessing
import os
from typing import Any

#: The ``jax.config`` settings a worker copies from its parent (the CLI makes them): float64,
#: and the persistent compilation cache so that workers share compiled programs.
INHERITED = ("jax_enable_x64", "jax_enable_compilation_cache", "jax_compilation_cache_dir",
             "jax_persistent_cache_min_compile_time_secs")
_say = None


def _init(settings: dict[str, Any], messages, parent: int) -> None:
    global _say
    try:  # a worker must not outlive a parent killed by a signal (Linux; elsewhere best effort)
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died while this worker was starting
        os._exit(1)
    import signal

    # Ctrl-C reaches the whole process group: the parent alone handles it, ending the workers
    # (`bounds.running.cli`), so that an interrupt prints one line, not one traceback per worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import jax
    import matplotlib

    for name, value in settings.items():
        jax.config.update(name, value)
    matplotlib.use("Agg")  # this process only draws figures to files
    _say = messages.put
    import bounds.running.produce  # noqa: F401 (the toolkit, now, while the parent is still importing it)


def _ready() -> tuple[int, bool, bool]:
    """This worker's pid, whether it has imported the toolkit and switched float64 on."""
    import sys

    import jax

    return os.getpid(), "bounds.running.produce" in sys.modules, bool(jax.config.jax_enable_x64)


def produce(producer, sizes, seed: int, path, figures=None):
    """Run ``producer`` in this worker (`bounds.running.produce.produce`; a registered producer
    travels by name), progress to the parent, then draw its figures into the folder ``figures``
    (unless None) from its measurement and records."""
    from bounds.running import produce as running

    out = running.produce(producer, sizes, seed, path, _say)
    if figures is not None:
        running.draw_figures(producer.name, out[1], out[0], figures, _say)
    return out


class WorkerDied(RuntimeError):
    """A worker process ended abruptly (killed, out of memory) while running a producer."""


class _Pool(cf.ProcessPoolExecutor):
    """A process pool whose futures name the producer a dead worker was running: the pool's own
    `BrokenProcessPool` says only that "a process terminated abruptly"."""

    def submit(self, fn, /, *args, **kwargs):
        inner = super().submit(fn, *args, **kwargs)
        if fn is not produce:
            return inner
        outer: cf.Future = cf.Future()
        name = getattr(args[0], "name", repr(args[0]))

        def settle(done: cf.Future) -> None:
            if done.cancelled():
                outer.cancel()
                outer.set_running_or_notify_cancel()
            elif isinstance(done.exception(), cf.BrokenExecutor):
                outer.set_exception(WorkerDied(
                    f"producer {name}: its worker process ended abruptly (killed, or out of memory); "
                    "finished producers are kept: the same command resumes the run"))
            elif done.exception() is not None:
                outer.set_exception(done.exception())
            else:
                outer.set_result(done.result())

        inner.add_done_callback(settle)
        return outer


@dataclasses.dataclass
class Workers:
    """Started worker processes: the pool, the queue their progress lines come back on, and how
    many there are. Used once (`bounds.running.ledger.run_suite` shuts it down); `close` is idempotent."""

    pool: cf.ProcessPoolExecutor
    messages: Any
    jobs: int

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def current_settings() -> dict[str, Any]:
    """This process's values of the `INHERITED` ``jax.config`` settings."""
    import jax

    return {name: getattr(jax.config, name) for name in INHERITED}


def start(jobs: int, settings: dict[str, Any] | None = None) -> Workers:
    """Spawn ``jobs`` worker processes now, each configuring JAX as ``settings`` (default: this
    process's `INHERITED` settings) and importing the toolkit at once."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs={jobs!r} must be an integer >= 1")
    ctx = multiprocessing.get_context("spawn")
    messages = ctx.Queue()
    settings = current_settings() if settings is None else dict(settings)
    pool = _Pool(max_workers=jobs, mp_context=ctx, initializer=_init,
                                  initargs=(settings, messages, os.getpid()))
    for _ in range(jobs):  # a pool spawns its processes on demand: one trivial task each, now
        pool.submit(_ready)
    return Workers(pool, messages, jobs)


__all__ = ["INHERITED", "Workers", "WorkerDied", "current_settings", "start"]
