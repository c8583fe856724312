"""Run the ``paper`` suite's MAR analogues (FL: 100 clients, 5 per round, 100 rounds of 2 local
epochs; the five Dirichlet alphas of Fig. 2b; 3 seeds), with progress and checkpoints, and report
rounds per second.

    python benchmarks/paper_suite.py --out DIR                 # the whole paper suite (all producers)
    python benchmarks/paper_suite.py --out DIR --only mar      # the MAR analogues alone
    python benchmarks/paper_suite.py --out DIR --only mar --rounds 2 6   # a timing run

``--rounds R1 R2`` runs the MAR study at R1 and at R2 rounds instead of 100 (timing runs: their
ledgers are not the paper suite's); compilation does not grow with the rounds (``lax.scan``), so
the seconds per round are the difference of the two walls over ``R2 - R1``, and the time of the
paper's 100 rounds is extrapolated from them, printed as such. A finished producer is
checkpointed under ``DIR/checkpoints`` and a rerun with the same arguments resumes from it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import time

import jax


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=pathlib.Path)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--rounds", type=int, nargs=2, default=None, metavar=("R1", "R2"),
                    help="two MAR round counts for a timing run (default: the suite's rounds, one run)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    jax.config.update("jax_enable_x64", True)  # as the CLI does; library code never sets it
    from bounds.running.ledger import run_suite
    from bounds.running.suite import get_suite

    paper = get_suite("paper")
    runs = [paper] if args.rounds is None else [
        dataclasses.replace(paper, name=f"paper-at-{r}-rounds", mar=dataclasses.replace(paper.mar, rounds=r))
        for r in args.rounds]
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    say = lambda message: print(f"[{time.perf_counter() - t0:8.1f} s] {message}", flush=True)  # noqa: E731
    walls = []
    for suite in runs:
        start = time.perf_counter()
        ledger, _ = run_suite(suite, seed=args.seed, only=args.only, progress=say,
                              checkpoints=args.out / suite.name / "checkpoints")
        walls.append(time.perf_counter() - start)
        (args.out / suite.name).mkdir(parents=True, exist_ok=True)
        (args.out / suite.name / "ledger.json").write_text(json.dumps(ledger.to_json(), indent=1))
        say(f"{suite.name}: {len(ledger.records)} records in {walls[-1]:.1f} s, ledger in {args.out / suite.name}")
    line = {"suites": [s.name for s in runs], "only": args.only, "wall_s": [round(w, 1) for w in walls],
            "devices": [str(d) for d in jax.devices()]}
    if args.rounds is not None:
        (r1, r2), (w1, w2) = args.rounds, walls
        per_round = (w2 - w1) / (r2 - r1)
        line |= {"s_per_round": round(per_round, 2), "rounds_per_s": round(1 / per_round, 3) if per_round > 0 else None,
                 "extrapolated_wall_s_at_paper_rounds": round(w1 + (paper.mar.rounds - r1) * per_round)}
    print(json.dumps(line))
    (args.out / "timing.json").write_text(json.dumps(line, indent=1))

if __name__ == "__main__":
    main()
