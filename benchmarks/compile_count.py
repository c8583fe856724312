"""Compiled XLA programs of one ``dssl-bounds verify`` run, per producer, with the persistent cache off.

Runs the verify pipeline in this process (``bounds.running.ledger.verify``, producers one after the
other, ``resume`` off, JAX configured as the CLI does with ``--no-cache``: float64, no
persistent compilation cache) and counts JAX's backend compilations through
``jax.monitoring`` (the ``/jax/core/compile/backend_compile_duration`` event, one per compiled
program). Each compilation is charged to the producer that was running (the pipeline's progress
lines say which), figures to ``figures``. Printed: per producer the number of programs, their
compile seconds, wall and CPU seconds (CPU: every thread of the process; their sum over the
producers divided by the cores bounds what running them in parallel can reach), and the
programs compiled most often by name (many variants of one function, or many single-op
programs such as ``jit(add)`` from op-by-op dispatch, are what this looks for); then the
totals, the wall and the CPU time.

Use the ``smoke`` suite during development; the default suite takes minutes. Not a test.

    python benchmarks/compile_count.py [--suite smoke] [--only P ...] [--no-figures] [--top 5] [--json]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the CLI: OpenBLAS threads oversubscribe small CPUs

import argparse  # noqa: E402
import collections  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import jax.monitoring  # noqa: E402

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


class CompileLog:
    """Backend compilations seen through ``jax.monitoring``, charged to the current phase."""

    def __init__(self):
        self.phase = "setup"
        self.programs: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self.name_seconds: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.wall: dict[str, float] = collections.defaultdict(float)
        self.cpu: dict[str, float] = collections.defaultdict(float)
        self._since = time.perf_counter()
        self._cpu_since = time.process_time()

    def _enter(self, phase: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.wall[self.phase] += now - self._since
        self.cpu[self.phase] += cpu - self._cpu_since
        self.phase, self._since, self._cpu_since = phase, now, cpu

    def listener(self, event: str, duration: float, **kwargs) -> None:
        if event == COMPILE_EVENT:
            self.programs[self.phase][kwargs.get("fun_name", "?")] += 1
            self.seconds[self.phase] += duration
            self.name_seconds[self.phase][kwargs.get("fun_name", "?")] += duration

    def progress(self, message: str) -> None:
        # The pipeline announces "<producer>: running" before a producer's first computation.
        head, _, rest = message.partition(": ")
        if rest == "running":
            self._enter(head)
        elif "figure" in message:
            self._enter("figures")


def main(argv=None) -> dict:
    from bounds import SUITES, producer_names

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="smoke", choices=sorted(SUITES))
    ap.add_argument("--only", nargs="+", metavar="PRODUCER", choices=producer_names())
    ap.add_argument("--no-figures", action="store_true", help="do not draw (nor compile for) the figures")
    ap.add_argument("--top", type=int, default=5, help="most-compiled program names shown per producer")
    ap.add_argument("--json", action="store_true",
                    help="last stdout line: JSON {producer: [programs, compile seconds, wall seconds, CPU seconds]}")
    args = ap.parse_args(argv)
    if args.top < 0:
        ap.error(f"--top={args.top} must be >= 0")

    import matplotlib

    matplotlib.use("Agg")
    jax.config.update("jax_enable_x64", True)  # the CLI's precision
    jax.config.update("jax_enable_compilation_cache", False)  # --no-cache: every program compiles

    from bounds import verify

    log = CompileLog()
    jax.monitoring.register_event_duration_secs_listener(log.listener)
    print(f"backend={jax.default_backend()} devices={jax.device_count()} jax={jax.__version__} "
          f"suite={args.suite} persistent cache off, producers in sequence", flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        verify(pathlib.Path(out), args.suite, only=args.only, figures=not args.no_figures, resume=False,
               progress=log.progress, jobs=1)
    wall = time.perf_counter() - start
    log._enter("done")

    # CPU s: the process's CPU time (every thread: XLA's pool, LLVM's workers) in the phase. On
    # a machine with k cores, producers run in parallel can at best finish in sum(CPU s) / k.
    print(f"{'phase':14s} {'programs':>8s} {'compile s':>9s} {'wall s':>7s} {'CPU s':>7s}  most compiled")
    for phase, counts in log.programs.items():
        top = ", ".join(f"{name} x{k}" for name, k in counts.most_common(args.top))
        costly = ", ".join(f"{name} {s:.1f}s" for name, s in log.name_seconds[phase].most_common(args.top))
        print(f"{phase:14s} {sum(counts.values()):8d} {log.seconds[phase]:9.2f} {log.wall[phase]:7.1f} "
              f"{log.cpu[phase]:7.1f}  {top}")
        print(f"{'':14s} {'':8s} {'':9s} {'':7s} {'':7s}  costliest: {costly}")
    total = sum(sum(c.values()) for c in log.programs.values())
    compile_s = sum(log.seconds.values())
    cpu = sum(log.cpu.values())
    print(f"{'total':14s} {total:8d} {compile_s:9.2f}  wall {wall:.1f} s ({100 * compile_s / wall:.0f}% compiling), "
          f"CPU {cpu:.1f} s")
    summary = {phase: [sum(c.values()), round(log.seconds[phase], 2), round(log.wall[phase], 1),
                       round(log.cpu[phase], 1)] for phase, c in log.programs.items()}
    summary["total"] = [total, round(compile_s, 2)]
    summary["wall_s"] = round(wall, 1)
    summary["cpu_s"] = round(cpu, 1)
    if args.json:
        print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
