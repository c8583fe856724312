"""Command line: ``dssl-bounds verify | figures | sweep`` (also ``python -m bounds``)."""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import sys
import time
from typing import Sequence

from bounds.suites import SUITE_NAMES

FIGURES_DIR = pathlib.Path(__file__).resolve().parent.parent / "figures"


def _progress(stream=sys.stderr):
    start = time.perf_counter()

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s] {message}", file=stream, flush=True)

    return say


def figure_scripts() -> dict[str, pathlib.Path]:
    """Every figure script: ``figures/NAME.py`` defining ``make(out_dir, *, suite, seed)``."""
    if not FIGURES_DIR.is_dir():
        raise RuntimeError(f"no figures/ folder next to the bounds package ({FIGURES_DIR}): install from a source checkout")
    return {p.stem: p for p in sorted(FIGURES_DIR.glob("*.py")) if not p.stem.startswith("_")}


def run_figures(out_dir: pathlib.Path, *, only: Sequence[str] | None = None, suite: str = "default",
                seed: int = 0, progress=None) -> list[pathlib.Path]:
    """Regenerate the figure analogues (all, or those named in ``only``) into ``out_dir``."""
    scripts = figure_scripts()
    names = list(scripts) if not only else list(only)
    unknown = sorted(set(names) - set(scripts))
    if unknown:
        raise ValueError(f"figure names {unknown} must be among {sorted(scripts)}")
    say = progress or (lambda message: None)
    written: list[pathlib.Path] = []
    for name in names:
        spec = importlib.util.spec_from_file_location(f"dssl_figures_{name}", scripts[name])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        say(f"figure {name}")
        written.extend(module.make(out_dir, suite=suite, seed=seed))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dssl-bounds", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="run a suite of claims; write ledger.json and report.md")
    verify.add_argument("--suite", default="default", choices=SUITE_NAMES)
    verify.add_argument("--out", default="results", type=pathlib.Path, help="output folder (default: results)")
    verify.add_argument("--seed", default=0, type=int)
    verify.add_argument("--only", nargs="+", metavar="PRODUCER", help="run only these record producers")
    figures = sub.add_parser("figures", help="regenerate the figure and table analogues")
    figures.add_argument("--only", nargs="+", metavar="NAME")
    figures.add_argument("--out", default=pathlib.Path("results") / "figures", type=pathlib.Path)
    figures.add_argument("--suite", default="default", choices=SUITE_NAMES)
    figures.add_argument("--seed", default=0, type=int)
    sweep = sub.add_parser("sweep", help="run a parameter sweep from a TOML config (resumable)")
    sweep.add_argument("config", type=pathlib.Path)
    args = parser.parse_args(argv)

    say = _progress()
    try:
        if args.command == "verify":
            from bounds.ledger import run_suite, write_ledger
            from bounds.report import claims_table, verdict_counts

            ledger = run_suite(args.suite, seed=args.seed, only=args.only, progress=say)
            json_path, report_path = write_ledger(ledger, args.out)
            print(claims_table(ledger.records, fmt="text"))
            print()
            print("verdicts:", ", ".join(f"{k} {v}" for k, v in verdict_counts(ledger.records).items()))
            print(f"wrote {json_path} and {report_path}")
        elif args.command == "figures":
            for path in run_figures(args.out, only=args.only, suite=args.suite, seed=args.seed, progress=say):
                print(f"wrote {path}")
        elif args.command == "sweep":
            from bounds.sweep import run_sweep

            out = run_sweep(args.config, progress=say)
            print(f"wrote {out}")
    except ValueError as err:
        print(f"dssl-bounds: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
