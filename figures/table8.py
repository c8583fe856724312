"""Table 8 analogue: constant gammas vs the cosine schedule of MAR (Eq. 7).

Writes ``table8.md`` (probe accuracy per schedule, 99% t-intervals over seeds; the paper's
Table 8; every ``table8-cosine-best`` verdict), ``table8.png`` (simulation and reported), and
the MAR rows of the Table 5 analogue (``table5_mar.md``: encoder distances of MIM and MAR, and
every ``table5-mar-divergence-le-mim`` verdict), which come from the same FedMAR runs.
"""

from __future__ import annotations

import pathlib
from typing import Sequence

import matplotlib.pyplot as plt

from bounds import Record, mar
from figures._io import claim_records, save_figure, save_table
from figures.fig2b_mar import pm, verdicts
from figures.table1 import bar_stat, md_row
from sim.studies import MARExperiment

PRODUCER = "mar"


def markdown(exp: MARExperiment, records: Sequence[Record]) -> str:
    st = exp.study
    lines = ["# Table 8 analogue", "",
             f"Probe accuracy (%), FedMAR with A-MMD (mean bandwidth), Dirichlet alpha = {st.table_alpha:g}, latent "
             f"data model; 99% t-intervals over {st.n_seeds} seeds.", "",
             md_row(("schedule", "accuracy")), "|---|---|"]
    lines += [md_row((r["schedule"], pm(r["accuracy"]))) for r in mar.table8_table(exp)]
    lines += ["", "## Reported (the paper's Table 8)", "", md_row(("schedule", "accuracy")), "|---|---|"]
    for r in mar.reported_table8()["rows"]:
        name = f"constant {r['gamma']:g}" if r["schedule"] == "constant" else f"cosine {r['gamma_max']:g} -> {r['gamma_min']:g}"
        lines.append(md_row((name, f"{r['accuracy']:.2f}")))
    return "\n".join(lines + [""] + verdicts(claim_records(records, mar.TABLE8), mar.TABLE8) + [""])


def table5_markdown(exp: MARExperiment, records: Sequence[Record]) -> str:
    st = exp.study
    lines = ["# Table 5 analogue, MAR rows", "",
             f"Summed layer-wise l2 distance between the final local encoders (FedMAR vs FedAvg MAE, Dirichlet alpha "
             f"= {st.table_alpha:g}, latent data model), 99% t-intervals over {st.n_seeds} seeds.", "",
             md_row(("method", *mar.DISTANCES)), "|---|---|---|"]
    lines += [md_row((r["method"], *(pm(r[k], 1.0) for k in mar.DISTANCES))) for r in mar.distance_table(exp)]
    return "\n".join(lines + [""] + verdicts(claim_records(records, mar.TABLE5), mar.TABLE5) + [""])


def make(measurement: MARExperiment, records: Sequence[Record], out_dir: pathlib.Path) -> list[pathlib.Path]:
    """``table8.md``, ``table8.png`` and ``table5_mar.md``."""
    exp = measurement
    md = save_table(markdown(exp, records), out_dir, "table8")
    md5 = save_table(table5_markdown(exp, records), out_dir, "table5_mar")
    rows = mar.table8_table(exp)
    rep = mar.reported_table8()["rows"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.2), constrained_layout=True)
    bars = [bar_stat(r["accuracy"]) for r in rows]
    ax.bar(range(len(rows)), [100 * m for m, _ in bars], yerr=[100 * h for _, h in bars], capsize=3,
           color=["C0"] * (len(rows) - 1) + ["C3"])
    ax.set(xticks=range(len(rows)), xticklabels=[r["schedule"] for r in rows], ylabel="probe accuracy (%)",
           title="simulation (99% t-intervals)")
    ax2.bar(range(len(rep)), [r["accuracy"] for r in rep], color=["C0"] * (len(rep) - 1) + ["C3"])
    ax2.set(xticks=range(len(rep)), xticklabels=[r["schedule"] + (f" {r['gamma']:g}" if "gamma" in r else "")
                                                  for r in rep], ylabel="accuracy (%)",
            title="reported (the paper's Table 8)")
    for a in (ax, ax2):
        a.tick_params(axis="x", labelsize=8)
    return [md, md5, save_figure(fig, out_dir, "table8")]
