"""Table 5 analogue: how far the local models drift apart, MIM vs CL.

Writes ``table5.md`` (summed layer-wise l2 distances of the encoders, local vs local and local
vs global, absolute and relative to the global encoder's norm, 99% t-intervals over seeds;
the paper's reported Table 5; every ``table5-mim-divergence-le-cl-divergence`` verdict) and
``table5.png`` (the absolute distances as bars). The summary numbers come from ``bounds.downstream``'s tables
of the measurement the ledger judged; every verdict from that producer's records.
"""

from __future__ import annotations

import pathlib
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from bounds import Record, downstream
from figures._io import claim_records, save_figure, save_table
from figures.table1 import bar_stat, md_row, verdict_lines
from sim.studies import DISTANCES, LOSS_OF, METHODS, SKEWS, Experiment

PRODUCER = "downstream"


def _pm(stat) -> str:
    """``mean ± half-width`` of a ``(mean, (lo, hi))`` pair (``n/a`` where a run diverged)."""
    mean, (lo, hi) = stat
    if not np.isfinite(mean):
        return "n/a"
    half = (hi - lo) / 2
    return f"{mean:.3f} ± {half:.3f}" if np.isfinite(half) else f"{mean:.3f}"


def markdown(measurement: dict[str, Experiment], records: Sequence[Record]) -> str:
    lines = ["# Table 5 analogue", ""]
    for exp in measurement.values():
        lines += _simulation_lines(exp, records)
    table = downstream.reported_table5()
    lines += ["", "## Reported (the paper's Table 5)", "",
              "Which of the three columns is local-vs-local and which local-vs-global is not stated; they are in the "
              "paper's order.", "",
              md_row(["method", *table["columns"]]), "|---|" + "---|" * len(table["columns"])]
    for row in table["rows"]:
        lines.append(md_row([row["method"], *(f"{v:.2f}" for v in row["distance"])]))
    lines += [""] + verdict_lines(claim_records(records, downstream.TABLE5, level="reported"), downstream.TABLE5, ("MIM", "CL"))
    lines += ["", "Rule (simulation): 99% t-interval of the mean paired difference dist_CL - dist_MIM over seeds; "
              "holds if above 0, fails if below 0, else inconclusive.", ""]
    return "\n".join(lines)


def _simulation_lines(exp: Experiment, records: Sequence[Record]) -> list[str]:
    st = exp.study
    kinds = [*DISTANCES, *(f"{kind} (relative)" for kind in DISTANCES)]
    lines = [
        f"## Simulation, {exp.data_model} data model", "",
        f"Summed layer-wise l2 distance between the final local encoders (mean over client pairs: local vs local; "
        f"mean over clients: local vs global), mean ± half-width of the 99% t-interval over {st.n_seeds} seeds; "
        f"'relative' divides by the global encoder's summed layer norms. FedAvg, {st.n_clients} clients, "
        f"{st.rounds} rounds x {st.local_steps} local steps.", "",
        md_row(["method", "model", "split", *kinds]), "|---|---|---|---|---|---|---|",
    ]
    for row in downstream.distance_table(exp):
        lines.append(md_row([f"{row['method']} ({row['loss']})", row["model"], row["skew"]]
                          + [_pm(row[kind]) for kind in kinds]))
    mine = claim_records(records, downstream.TABLE5, level="simulation", data_model=exp.data_model)
    lines += [""] + verdict_lines(mine, downstream.TABLE5, ("MIM", "CL"))
    return lines + [""]


def make(measurement: dict[str, Experiment], records: Sequence[Record], out_dir: pathlib.Path) -> list[pathlib.Path]:
    """``table5.md`` and ``table5.png`` of the downstream measurement (one Experiment per data
    model: one row of panels each; a diverged cell draws no bar)."""
    md = save_table(markdown(measurement, records), out_dir, "table5")
    fig, axes = plt.subplots(len(measurement), len(DISTANCES), figsize=(12, 4.5 * len(measurement)),
                             constrained_layout=True, squeeze=False)
    width = 0.38
    for ax_row, exp in zip(axes, measurement.values()):
        rows = {(r["method"], r["model"], r["skew"]): r for r in downstream.distance_table(exp)}
        groups = [(model, skew) for model in exp.study.models for skew in SKEWS]
        for ax, kind in zip(ax_row, DISTANCES):
            for j, method in enumerate(METHODS):
                bars = [bar_stat(rows[(method, m, s)][kind]) for m, s in groups]
                ax.bar(np.arange(len(groups)) + (j - 0.5) * width, [m for m, _ in bars], width,
                       yerr=[h for _, h in bars], capsize=3, label=f"{method} ({LOSS_OF[method]})")
            ax.set(xticks=range(len(groups)), xticklabels=[f"{m}\n{s}" for m, s in groups],
                   ylabel="summed layer-wise l2", title=f"{kind} encoder distance ({exp.data_model} data model)")
            ax.tick_params(axis="x", labelsize=8)
            ax.legend()
    return [md, save_figure(fig, out_dir, "table5")]
