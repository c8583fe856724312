"""Command line: ``dssl-bounds verify | figures | sweep | diff`` (also ``python -m bounds``).

Imports are lazy so that ``--help`` answers at once, and every argument is checked before
any computation (a bad one exits 2 with a one-line message naming it). The process-wide
settings the library leaves to its caller are made here: float64 (representabilities are
compared at the 1e-6 scale), OpenBLAS threads, the matplotlib backend and JAX's persistent
compilation cache.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time
from typing import Sequence

#: Environment defaults the CLI process and its workers (spawned, they inherit the environment)
#: run under, set by `main` before numpy or JAX is loaded; a user's own setting wins.
#: OPENBLAS_NUM_THREADS: JAX's CPU eigensolver runs on OpenBLAS, whose threads oversubscribe
#: small machines (batched 256x256 eigendecompositions: 12-62 s with default threads, 0.4-1.7 s
#: with one). TF_CPP_MIN_LOG_LEVEL: jaxlib 0.9.2 logs, for every program it loads from the
#: persistent compilation cache, a C++ warning ("Assume version compatibility. PjRt-IFRT does not
#: track XLA executable versions.") and, on CPUs whose LLVM tuning includes +prefer-no-gather /
#: +prefer-no-scatter (tuning preferences, not instruction sets), two ERROR lines of about 2.5 kB
#: each claiming a machine mismatch although the program was compiled on this very host
#: (jax-ml/jax#38445, openxla/xla#44565; the program loads and runs). A warm default `verify`
#: printed 856 of them (2 MB). Level 3 keeps only FATAL; XLA's real errors reach Python as exceptions.
ENVIRONMENT = (("OPENBLAS_NUM_THREADS", "1"), ("TF_CPP_MIN_LOG_LEVEL", "3"))

SUITE_NAMES = ("smoke", "default", "full", "paper")  # checked against bounds.running.suite when a suite runs
SEED_RANGE = 2**32


def _progress(stream=sys.stderr):
    start = time.perf_counter()

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s] {message}", file=stream, flush=True)

    return say


def host_tag() -> str:
    """12 hex digits naming this host's CPU: its architecture and instruction-set flags.

    JAX's cache key hashes the program, the compile options and the platform ("cpu"), not the
    CPU model, and XLA:CPU compiles for the host's instruction set: a cache shared between
    different CPUs (a home folder on a cluster's network file system) would load AVX-512 code on a
    machine without it, which XLA's loader only logs ("could lead to execution errors such as
    SIGILL"). One cache folder per CPU kind avoids that.

    >>> len(host_tag()) == 12 and host_tag() == host_tag()
    True
    """
    import hashlib
    import platform

    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            flags = next((line for line in info if line.startswith(("flags", "Features"))), "")
    except OSError:  # not Linux: the processor string is what the platform offers
        flags = platform.processor()
    return hashlib.sha256(f"{platform.machine()} {flags.strip()}".encode()).hexdigest()[:12]


def cache_dir() -> pathlib.Path:
    """The persistent compilation cache: ``$XDG_CACHE_HOME/dssl-bounds/jax/<host_tag()>`` (default
    ``~/.cache/dssl-bounds/jax/...``), one folder per CPU kind. A second process then loads the
    compiled programs instead of compiling them again (compilation is most of a cold ``verify``)."""
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "dssl-bounds" / "jax" / host_tag()


#: jaxlib releases whose CPU LAPACK kernels (Cholesky, QR, eigh) split a batch over XLA's
#: intra-op thread pool and block a pool thread until it is done: two such calls running at once
#: inside a compiled loop can wait on each other forever (seen in `verify` at d = 1024 on 2 cores:
#: every pool thread in `ParallelBatchMap`). pyproject.toml excludes them.
DEADLOCKING_JAXLIB = ("0.10.", "0.11.0")  # (a series, a release)


def jaxlib_warning(version: str) -> str | None:
    """A warning for a jaxlib ``version`` known to deadlock here, else None.

    >>> jaxlib_warning("0.9.2") is None, jaxlib_warning("0.11.1") is None
    (True, True)
    >>> jaxlib_warning("0.10.2").split(":")[0]
    'jaxlib 0.10.2 can deadlock on CPU (batched LAPACK calls wait on each other)'
    """
    series, release = DEADLOCKING_JAXLIB
    if version.startswith(series) or version == release:
        return (f"jaxlib {version} can deadlock on CPU (batched LAPACK calls wait on each other): "
                "python3 -m pip install -e . installs a supported one")
    return None


def _configure(*, cache: bool, say) -> None:
    import jax
    import jaxlib
    import matplotlib

    warning = jaxlib_warning(jaxlib.__version__)
    if warning:
        say(f"warning: {warning}")
    jax.config.update("jax_enable_x64", True)
    matplotlib.use("Agg")
    jax.config.update("jax_enable_compilation_cache", cache)
    if cache:
        path = cache_dir()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            say(f"compilation cache off: cannot create {path} ({err.strerror})")
            jax.config.update("jax_enable_compilation_cache", False)
            return
        jax.config.update("jax_compilation_cache_dir", str(path))
        # Most programs here compile in well under JAX's default 1 s threshold; cache them all.
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def _check_out(path: pathlib.Path, option: str = "--out", *, subfolders: tuple[str, ...] = ("figures",)) -> pathlib.Path:
    """An output folder that can be written and that the toolkit may write into (new, empty, or
    an earlier run's: `bounds.running.rundir.check_owned`), checked before any computation."""
    from bounds.running import rundir

    try:
        if path.exists() and not path.is_dir():
            raise ValueError(f"{option}={str(path)!r} is a file; it must be a folder (created if missing)")
        parent = next((p for p in (path, *path.parents) if p.exists()), pathlib.Path("."))
        if not parent.is_dir():
            raise ValueError(f"{option}={str(path)!r} cannot be created: {str(parent)!r} is a file, not a folder")
        writable = os.access(parent, os.W_OK | os.X_OK)
    except OSError as err:  # e.g. a path component longer than the file system allows
        raise ValueError(f"{option}={str(path)!r} cannot be used: {err.strerror or err}") from None
    if not writable:
        raise ValueError(f"{option}={str(path)!r} cannot be created: {str(parent)!r} is not writable")
    return rundir.check_owned(path, option, subfolders=subfolders)


def _integer(option: str, low: int, high: int | None = None, shown: str | None = None):
    """An argparse type: an integer in ``[low, high)`` (``high`` None: no upper limit), refused
    with the option's name, the value and the range."""
    allowed = shown or (f"in [{low}, {high})" if high is not None else f">= {low}")

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value >= high):
            raise argparse.ArgumentTypeError(f"{option}={text!r} must be an integer {allowed}")
        return value

    return parse


_seed = _integer("seed", 0, SEED_RANGE, "in [0, 2**32)")
_jobs = _integer("jobs", 1)


def _verify(args, say) -> None:
    from bounds.running.registry import producer_names

    if args.seed + args.seeds > SEED_RANGE:
        raise ValueError(f"--seeds={args.seeds}: the last master seed {args.seed + args.seeds - 1} must be < 2**32")
    out = _check_out(args.out)
    _configure(cache=not args.no_cache, say=say)
    running = len(set(args.only or producer_names()))
    started = None
    if args.jobs > 1 and running > 1:
        # Workers first: their import of the toolkit overlaps this process's (`bounds.running.workers`).
        from bounds.running import workers

        started = workers.start(min(args.jobs, running))
    try:
        from bounds.running.ledger import verify
        from bounds.running.report import terminal_summary

        ledger, drawn = verify(out, args.suite, seed=args.seed, only=args.only, figures=not args.no_figures,
                               resume=not args.fresh, progress=say, jobs=args.jobs, workers=started, seeds=args.seeds)
    finally:
        if started is not None:
            started.close()
    print(terminal_summary(ledger, out / "report.md", full=args.full, matrix=args.matrix))
    print(f"wrote {out / 'ledger.json'}, {out / 'report.md'}"
          + (f" and {len(drawn)} figures in {out / 'figures'}" if drawn else ""))


def _figures(args, say) -> None:
    from bounds.running import registry, rundir
    from bounds.running.produce import draw_figures, produce
    from bounds.running.suite import get_suite

    out = _check_out(args.out, subfolders=(".",))  # the figures are written into the folder itself
    needed = registry.figure_producers(args.only)
    suite = get_suite(args.suite)
    _configure(cache=not args.no_cache, say=say)
    with rundir.run_in(out, "--out", command="figures", suite=suite.name, seed=args.seed) as files:
        for name in needed:  # each figure reads its producer's measurement and records
            records, measurement, _ = produce(registry.load_producer(name), suite, args.seed, None, say)
            for path in draw_figures(name, measurement, records, out, say, only=args.only):
                files[str(path.relative_to(out))] = rundir.digest(path)
                print(f"wrote {path}")


def _sweep(args, say) -> None:
    from bounds.running import rundir
    from bounds.running.sweep import prepare_sweep, run_sweep

    plan = prepare_sweep(args.config)  # reads and checks the whole grid first
    _check_out(plan.out, "out", subfolders=())
    _configure(cache=not args.no_cache, say=say)
    with rundir.run_in(plan.out, "out", command="sweep", config=str(plan.config), seed=plan.seed) as files:
        summary = run_sweep(plan, progress=say)
        files.update({p.name: rundir.digest(p) for p in (*plan.out.glob("point-*.json"), summary)})
    print(f"wrote {summary}")


def _diff(args, say) -> int:
    from bounds.running.diff import diff_ledgers, load_ledger, render_diff

    a, b = load_ledger(args.a), load_ledger(args.b)
    result = diff_ledgers(a, b, rel_tol=args.rel_tol)
    print(render_diff(result, full=args.full))
    return 1 if result.changed else 0


def _parser() -> argparse.ArgumentParser:
    from bounds import toolkit_version
    from bounds.producers import default_jobs
    from bounds.running.registry import figure_names, producer_names

    producers, figures_ = producer_names(), figure_names()

    parser = argparse.ArgumentParser(prog="dssl-bounds", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {toolkit_version()}",
                        help="print the toolkit version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p, *, out: pathlib.Path, what: str) -> None:
        p.add_argument("--suite", default="default", choices=SUITE_NAMES,
                       help="sizes: smoke (about a minute), default (about 3.5 minutes cold on 2 CPU cores, 2 warm), full (tens of minutes); "
                            "default: default")
        p.add_argument("--out", default=out, type=pathlib.Path, help=f"{what} (created if missing; default: {out})")
        p.add_argument("--seed", default=0, type=_seed, help="root seed of the run, in [0, 2**32) (default: 0)")
        p.add_argument("--no-cache", action="store_true",
                       help=f"do not use the persistent compilation cache (default: on, in {cache_dir()})")

    verify = sub.add_parser("verify", help="run a suite of claims; write ledger.json, report.md and the figures",
                            description="Run the suite; print one conclusion per claim; write ledger.json, "
                                        "report.md and figures/ as one unit (run.json marks it complete). "
                                        "An interrupted run resumes from its checkpoints when rerun.")
    common(verify, out=pathlib.Path("results"), what="output folder")
    verify.add_argument("--only", nargs="+", metavar="PRODUCER", choices=producers,
                        help=f"run only these record producers, among: {', '.join(producers)}")
    verify.add_argument("--no-figures", action="store_true", help="do not draw the figures")
    verify.add_argument("--full", action="store_true", help="print every record after the conclusions")
    verify.add_argument("--jobs", type=_jobs, default=default_jobs(),
                        help="producers run at once, each in its own process (default: the CPU cores, "
                             f"{default_jobs()} here); 1 runs them one after another in this process")
    verify.add_argument("--fresh", action="store_true",
                        help="ignore the checkpoints of an interrupted run and recompute everything")

    verify.add_argument("--seeds", type=_integer("seeds", 1), default=1, metavar="K",
                        help="run K master seeds (--seed, --seed + 1, ...), each checkpointed; every record keeps "
                             "its verdict in each seed and every conclusion says in how many it replicates "
                             "(default: 1)")
    verify.add_argument("--matrix", action="store_true",
                        help="print the claim x reading matrix after the conclusions")
    figures = sub.add_parser("figures", help="measure and draw the figure and table analogues (without a ledger)")
    common(figures, out=pathlib.Path("results") / "figures", what="folder of the figures")
    figures.add_argument("--only", nargs="+", metavar="NAME", choices=figures_,
                         help=f"draw only these figures, among: {', '.join(figures_)}")
    sweep = sub.add_parser("sweep", help="run a parameter sweep from a TOML config (resumable)",
                           description="Run the grid of linear studies a TOML [sweep] table describes; every "
                                       "point is checked before the first runs, and finished points are kept, "
                                       "so a rerun resumes.")
    sweep.add_argument("config", type=pathlib.Path, help="TOML file with a [sweep] table (see examples/)")
    sweep.add_argument("--no-cache", action="store_true", help="do not use the persistent compilation cache")
    diff = sub.add_parser("diff", help="which verdicts and numbers changed between two ledgers",
                          description="Compare two ledgers (ledger.json files or verify output folders), "
                                      "records keyed by claim, level, source and reading. Exit 0 when they "
                                      "agree, 1 when something changed.")
    diff.add_argument("a", type=pathlib.Path, help="the old ledger.json (or its folder)")
    diff.add_argument("b", type=pathlib.Path, help="the new ledger.json (or its folder)")
    diff.add_argument("--rel-tol", type=float, default=1e-9,
                      help="relative tolerance below which numbers count as equal (default: 1e-9)")
    diff.add_argument("--full", action="store_true", help="list every changed row (default: the first 40)")
    return parser


def _interrupt(signum, frame) -> None:
    """SIGINT and SIGTERM: end every worker process now (they ignore SIGINT themselves,
    `bounds.running.workers`), then unwind this process as a KeyboardInterrupt, so that the run
    marker says ``interrupted``, the lock is released and finished checkpoints stay."""
    import multiprocessing

    for child in multiprocessing.active_children():
        child.terminate()
    for child in multiprocessing.active_children():
        child.join(timeout=5)
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    import signal

    for name, value in ENVIRONMENT:  # before anything loads numpy or JAX (`ENVIRONMENT`)
        os.environ.setdefault(name, value)
    args = _parser().parse_args(argv)
    say = _progress()
    handlers = {s: signal.signal(s, _interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if args.command == "verify":
            _verify(args, say)
        elif args.command == "figures":
            _figures(args, say)
        elif args.command == "sweep":
            _sweep(args, say)
        elif args.command == "diff":
            return _diff(args, say)
    except KeyboardInterrupt:
        print("dssl-bounds: interrupted; finished work is kept: the same command resumes it", file=sys.stderr)
        return 130
    except ValueError as err:
        print(f"dssl-bounds: error: {err}", file=sys.stderr)
        return 2
    except FloatingPointError as err:  # a run that diverged outside a producer's own handling
        print(f"dssl-bounds: computation diverged: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # a full disk, a folder made read-only mid-run: finished work is kept
        where = f" {err.filename}" if err.filename else ""
        print(f"dssl-bounds: error: cannot write{where}: {err.strerror or err}; finished work is kept: "
              "the same command resumes it", file=sys.stderr)
        return 1
    except RuntimeError as err:  # e.g. a worker process that died (`bounds.running.workers.WorkerDied`)
        from bounds.running.workers import WorkerDied

        if not isinstance(err, WorkerDied):
            raise
        print(f"dssl-bounds: error: {err}", file=sys.stderr)
        return 1
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
