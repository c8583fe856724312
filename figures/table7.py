"""Table 7 analogue: the alignment metric of MAR at constant gamma.

Writes ``table7.md`` (probe accuracy per metric at each constant gamma and at gamma = 0, 99%
t-intervals over seeds; the paper's Table 7; every ``table7-ammd-mean-best`` verdict) and
``table7.png`` (grouped bars, simulation and reported).
"""

from __future__ import annotations

import pathlib
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from bounds import Record, mar, rules
from figures._io import claim_records, save_figure, save_table
from figures.fig2b_mar import pm, verdicts
from figures.table1 import bar_stat, md_row
from sim.studies import TABLE7_METRICS, MARExperiment

PRODUCER = "mar"


def markdown(exp: MARExperiment, records: Sequence[Record]) -> str:
    st = exp.study
    gammas = st.table7_gammas
    base = rules.mean_ci(exp.accuracy[mar.mim("FL", st.table_alpha)])
    lines = ["# Table 7 analogue", "",
             f"Probe accuracy (%), FedMAR at constant gamma, Dirichlet alpha = {st.table_alpha:g}, latent data model; "
             f"gamma = 0 (plain MIM): {pm(base)}; untrained encoder: {pm(rules.mean_ci(exp.untrained))}. "
             f"99% t-intervals over {st.n_seeds} seeds.", "",
             md_row(["metric", *(f"gamma = {g:g}" for g in gammas)]), "|---|" + "---|" * len(gammas)]
    for row in mar.table7_table(exp):
        lines.append(md_row([row["metric"], *(pm(row[g]) for g in gammas)]))
    table = mar.reported_table7()
    lines += ["", f"## Reported (the paper's Table 7; gamma = 0: {table['baseline']['accuracy']:.2f})", "",
              md_row(["metric", *table["columns"]]), "|---|" + "---|" * len(table["columns"])]
    for row in table["rows"]:
        lines.append(md_row([row["metric"], *(f"{v:.2f}" for v in row["accuracy"])]))
    return "\n".join(lines + [""] + verdicts(claim_records(records, mar.TABLE7), mar.TABLE7) + [""])


def make(measurement: MARExperiment, records: Sequence[Record], out_dir: pathlib.Path) -> list[pathlib.Path]:
    """``table7.md`` and ``table7.png``."""
    exp = measurement
    md = save_table(markdown(exp, records), out_dir, "table7")
    gammas = exp.study.table7_gammas
    rows = {r["metric"]: r for r in mar.table7_table(exp)}
    rep = {r["metric"]: r["accuracy"] for r in mar.reported_table7()["rows"]}
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.2), constrained_layout=True)
    width = 0.8 / len(TABLE7_METRICS)
    for j, metric in enumerate(TABLE7_METRICS):
        bars = [bar_stat(rows[metric][g]) for g in gammas]
        ax.bar(np.arange(len(gammas)) + (j - 1.5) * width, [100 * m for m, _ in bars], width,
               yerr=[100 * h for _, h in bars], capsize=3, label=metric)
        ax2.bar(np.arange(len(gammas)) + (j - 1.5) * width, rep[metric], width, label=metric)
    for a, title in ((ax, "simulation (99% t-intervals)"), (ax2, "reported (the paper's Table 7)")):
        a.set(xticks=range(len(gammas)), xticklabels=[f"gamma = {g:g}" for g in gammas], ylabel="accuracy (%)",
              title=title)
        a.legend(fontsize=8)
    return [md, save_figure(fig, out_dir, "table7")]
