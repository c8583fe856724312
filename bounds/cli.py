"""Command line: ``dssl-bounds verify | figures | sweep`` (also ``python -m bounds``).

Imports are lazy so that ``--help`` answers at once; the process-wide settings the library
leaves to its caller are made here: float64 (representabilities are compared at the 1e-6
scale), OpenBLAS threads, the matplotlib backend.
"""

from __future__ import annotations

import os

# JAX's CPU eigensolver runs on OpenBLAS, whose threads oversubscribe small machines (batched
# 256x256 eigendecompositions: 12-62 s with default threads, 0.4-1.7 s with one). Set before
# numpy loads OpenBLAS; only a default, a user's setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Sequence  # noqa: E402

SUITE_NAMES = ("smoke", "default", "full")  # checked against bounds.suite when a suite runs


def _progress(stream=sys.stderr):
    start = time.perf_counter()

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s] {message}", file=stream, flush=True)

    return say


def _configure() -> None:
    import jax
    import matplotlib

    jax.config.update("jax_enable_x64", True)
    matplotlib.use("Agg")


def _check_out(path: pathlib.Path) -> pathlib.Path:
    """An output folder that can be written, checked before any computation."""
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out={str(path)!r} is a file; it must be a folder (created if missing)")
    parent = next((p for p in (path, *path.parents) if p.exists()), pathlib.Path("."))
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"--out={str(path)!r} cannot be created: {str(parent)!r} is not a writable folder")
    return path


def _verify(args, say) -> None:
    from bounds.ledger import run_suite, write_ledger
    from bounds.report import claims_table, render_report, verdict_counts
    from bounds.ledger import write_atomic
    from figures import make_figures

    out = _check_out(args.out)
    ledger, measurements = run_suite(args.suite, seed=args.seed, only=args.only, progress=say)
    figures = [] if args.no_figures else make_figures(measurements, out / "figures", progress=say)
    json_path = write_ledger(ledger, out)
    report_path = out / "report.md"
    write_atomic(report_path, render_report(ledger, out, figures))
    print(claims_table(ledger.records, fmt="text"))
    print()
    print("verdicts:", ", ".join(f"{k} {v}" for k, v in verdict_counts(ledger.records).items()))
    print(f"wrote {json_path} and {report_path}" + (f" ({len(figures)} figures in {out / 'figures'})" if figures else ""))


def _figures(args, say) -> None:
    from bounds.ledger import measure
    from bounds.suite import get_suite
    from figures import make_figures, producers_for

    out = _check_out(args.out)
    suite = get_suite(args.suite)
    needed = producers_for(args.only)
    measurements = {}
    for name in needed:
        say(f"{name}: measuring")
        measurements[name] = measure(name, suite, seed=args.seed)
    for path in make_figures(measurements, out, only=args.only, progress=say):
        print(f"wrote {path}")


def main(argv: Sequence[str] | None = None) -> int:
    from bounds.producers import PRODUCER_NAMES

    parser = argparse.ArgumentParser(prog="dssl-bounds", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="run a suite of claims; write ledger.json, report.md and the figures")
    verify.add_argument("--suite", default="default", choices=SUITE_NAMES, help="sizes (default: default)")
    verify.add_argument("--out", default=pathlib.Path("results"), type=pathlib.Path, help="output folder (default: results)")
    verify.add_argument("--seed", default=0, type=int, help="root seed of the run, in [0, 2**32) (default: 0)")
    verify.add_argument("--only", nargs="+", metavar="PRODUCER", choices=PRODUCER_NAMES,
                        help=f"run only these record producers: {', '.join(PRODUCER_NAMES)}")
    verify.add_argument("--no-figures", action="store_true", help="do not draw the figures")
    figures = sub.add_parser("figures", help="regenerate the figure and table analogues")
    figures.add_argument("--only", nargs="+", metavar="NAME", help="draw only these figures")
    figures.add_argument("--out", default=pathlib.Path("results") / "figures", type=pathlib.Path,
                         help="output folder (default: results/figures)")
    figures.add_argument("--suite", default="default", choices=SUITE_NAMES, help="sizes (default: default)")
    figures.add_argument("--seed", default=0, type=int, help="root seed, as for verify (default: 0)")
    sweep = sub.add_parser("sweep", help="run a parameter sweep from a TOML config (resumable)")
    sweep.add_argument("config", type=pathlib.Path, help="TOML file with a [sweep] table")
    args = parser.parse_args(argv)

    _configure()
    say = _progress()
    try:
        if args.command == "verify":
            _verify(args, say)
        elif args.command == "figures":
            _figures(args, say)
        elif args.command == "sweep":
            from bounds.sweep import run_sweep

            print(f"wrote {run_sweep(args.config, progress=say)}")
    except ValueError as err:
        print(f"dssl-bounds: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
