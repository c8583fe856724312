"""Table 5 analogue: how far the local models drift apart, MIM vs CL.

Writes ``table5.md`` (summed layer-wise l2 distances of the encoders, local vs local and local
vs global, absolute and relative to the global encoder's norm, 99% t-intervals over seeds;
the paper's reported Table 5; every ``table5-mim-divergence-le-cl-divergence`` verdict) and
``table5.png`` (the absolute distances as bars). Numbers come from ``bounds.downstream``.
"""

from __future__ import annotations

import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bounds import downstream  # noqa: E402
from bounds.report import save_figure, save_table  # noqa: E402


def _pm(stat) -> str:
    mean, (lo, hi) = stat
    half = (hi - lo) / 2
    return f"{mean:.3f} ± {half:.3f}" if np.isfinite(half) else f"{mean:.3f}"


def markdown(exp: downstream.Experiment, records) -> str:
    st = exp.settings
    lines = [
        f"# Table 5 analogue (suite `{exp.suite}`, seed {exp.seed})", "",
        f"Summed layer-wise l2 distance between the final local encoders (mean over client pairs: local vs local; "
        f"mean over clients: local vs global), mean ± half-width of the 99% t-interval over {st.n_seeds} seeds; "
        f"'relative' divides by the global encoder's summed layer norms. FedAvg, {st.n_clients} clients, "
        f"{st.rounds} rounds x {st.local_steps} local steps.", "",
        "| method | model | split | local vs local | local vs global | local vs local (relative) | local vs global (relative) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in downstream.distance_table(exp):
        lines.append(f"| {row['method']} ({row['loss']}) | {row['model']} | {row['skew']} | {_pm(row['local-vs-local'])} | "
                     f"{_pm(row['local-vs-global'])} | {_pm(row['local-vs-local (relative)'])} | "
                     f"{_pm(row['local-vs-global (relative)'])} |")
    table = downstream.reported_table5()
    lines += ["", "## Reported (the paper's Table 5)", "", table["column_meaning"] + ".", "",
              "| method | " + " | ".join(table["columns"]) + " |", "|---|" + "---|" * len(table["columns"])]
    for row in table["rows"]:
        lines.append(f"| {row['method']} | " + " | ".join(f"{v:.2f}" for v in row["distance"]) + " |")
    lines += ["", "## Verdicts: `table5-mim-divergence-le-cl-divergence`", "",
              "| level | cell | verdict | MIM | CL | margin | CI |", "|---|---|---|---|---|---|---|"]
    for r in records:
        if r.claim != "table5-mim-divergence-le-cl-divergence":
            continue
        ci = "" if r.ci is None else f"[{r.ci[0]:.4f}, {r.ci[1]:.4f}]"
        lines.append(f"| {r.level} | {r.source} | **{r.verdict}** | {r.empirical:.4f} | {r.bound:.4f} | {r.margin:.4f} | {ci} |")
    lines += ["", "Rule (simulation): 99% t-interval of the mean paired difference dist_CL - dist_MIM over seeds; "
              "holds if above 0, fails if below 0, else inconclusive.", ""]
    return "\n".join(lines)


def make(out_dir: pathlib.Path, *, suite: str = "default", seed: int = 0) -> list[pathlib.Path]:
    exp = downstream.run_experiment(suite, seed=seed)
    records = downstream.records(suite, seed=seed)
    md = save_table(markdown(exp, records), out_dir, "table5")

    rows = downstream.distance_table(exp)
    fig, axes = plt.subplots(1, len(downstream.DISTANCES), figsize=(12, 4.5), constrained_layout=True)
    groups = [(model, skew) for model in exp.settings.models for skew in downstream.SKEWS]
    width = 0.38
    for ax, kind in zip(axes, downstream.DISTANCES):
        for j, method in enumerate(downstream.METHODS):
            stats_ = [next(r for r in rows if (r["method"], r["model"], r["skew"]) == (method, m, s))[kind] for m, s in groups]
            ax.bar(np.arange(len(groups)) + (j - 0.5) * width, [m for m, _ in stats_], width,
                   yerr=[(hi - lo) / 2 for _, (lo, hi) in stats_], capsize=3, label=f"{method} ({downstream.LOSS_OF[method]})")
        ax.set(xticks=range(len(groups)), xticklabels=[f"{m}\n{s}" for m, s in groups], ylabel="summed layer-wise l2",
               title=f"{kind} encoder distance")
        ax.tick_params(axis="x", labelsize=8)
        ax.legend()
    return [md, save_figure(fig, out_dir, "table5")]


if __name__ == "__main__":
    print(*make(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "results/figures")), sep="\n")
