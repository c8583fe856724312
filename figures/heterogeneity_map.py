"""The heterogeneity map: where label skew costs MIM, CL and MAR probe accuracy (latent data model).

Writes ``heterogeneity_map.md`` (per regime and non-IID split: the untrained encoder, each
method's IID accuracy, its drop from IID and its features' effective rank, the pooled drop, all
with 99% t-intervals over seeds; then the regime the analogues' rule selects) and
``heterogeneity_map.png`` (one panel per non-IID split: each method's drop per regime, with
intervals). A cell whose runs diverged reads n/a and draws no point.
"""

from __future__ import annotations

import pathlib
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from bounds import Record, rules
from figures._io import save_figure, save_table
from figures.table1 import md_row, pm
from sim.studies import MAP_METHODS
from sim.studies import HeterogeneityMap, heterogeneity

PRODUCER = "heterogeneity_map"


def markdown(exp: HeterogeneityMap) -> str:
    st = exp.study
    lines = ["# Heterogeneity map", "",
             f"Probe accuracy (%) of the FedAvg global encoder, mean ± half-width of the 99% t-interval over "
             f"{st.n_seeds} paired seeds, latent data model (d = {st.d}, k = {st.latent_k}, {2 * st.N} classes), "
             f"{st.n_clients} clients x {st.samples_per_client} samples, {st.model} encoder. Drop = acc(IID) - "
             "acc(split); pooled = mean of the three methods' drops per seed; rank = effective rank of the "
             "features on the probe set.", "",
             md_row(("regime", "split", "TV", "untrained", *[f"{m} IID" for m in MAP_METHODS],
                     *[f"{m} drop (rank)" for m in MAP_METHODS], "pooled drop")),
             "|" + "---|" * (4 + 2 * len(MAP_METHODS) + 1)]
    for row in heterogeneity.map_table(exp, rules.mean_ci):
        lines.append(md_row((row["regime"].label(), row["split"], f"{row['heterogeneity']['tv_distance']:.2f}",
                             pm(row["untrained"]), *[pm(row[m]["iid"]) for m in MAP_METHODS],
                             *[f"{pm(row[m]['drop'])} ({row[m]['rank']:.2f})" for m in MAP_METHODS],
                             pm(row["pooled_drop"]))))
    idle = [f"{m} at {r.label()}" for r in st.regimes for m in MAP_METHODS
            if not rules.mean_ci(exp.accuracy[(r, m, "iid")] - exp.untrained[r])[1][0] > 0]
    lines += ["", "Learned nothing the probe can use (IID accuracy minus the untrained encoder's, paired 99% interval "
              f"not above 0; such a method has nothing to lose): {', '.join(idle) if idle else 'none'}."]
    chosen = heterogeneity.select_regime(exp, rules.mean_ci)
    lines += ["", f"Regime rule (fixed before comparing methods): the cheapest regime whose pooled drop at "
              f"{heterogeneity.selection_split(exp)} has a 99% interval above 0. Selected: "
              f"{chosen.label() if chosen else 'none — no regime of this map shows a cost of label skew'}.", ""]
    return "\n".join(lines)


def make(measurement: HeterogeneityMap, records: Sequence[Record], out_dir: pathlib.Path) -> list[pathlib.Path]:
    """``heterogeneity_map.md`` and ``heterogeneity_map.png``."""
    exp = measurement
    md = save_table(markdown(exp), out_dir, "heterogeneity_map")
    rows = heterogeneity.map_table(exp, rules.mean_ci)
    splits = exp.study.splits[1:]
    labels = [r.label() for r in exp.study.regimes]
    fig, axes = plt.subplots(1, len(splits), figsize=(5.5 * len(splits), 4.5), constrained_layout=True,
                             squeeze=False, sharey=True)
    for ax, split in zip(axes[0], splits):
        cells = [r for r in rows if r["split"] == split]
        for j, method in enumerate(MAP_METHODS):
            pts = [(i, *r[method]["drop"]) for i, r in enumerate(cells) if np.isfinite(r[method]["drop"][0])]
            if not pts:
                continue
            i, m, ci = zip(*pts)
            half = [(hi - lo) / 2 if np.isfinite(hi - lo) else 0.0 for lo, hi in ci]
            ax.errorbar(np.asarray(i) + 0.15 * (j - 1), 100 * np.asarray(m), yerr=100 * np.asarray(half),
                        marker="o", ls="none", capsize=3, label=method)
        ax.axhline(0.0, color="gray", ls=":")
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        ax.set(ylabel="accuracy drop from IID (points)", title=split)
        ax.legend()
    fig.suptitle("Where label skew costs probe accuracy (99% t-intervals over seeds)")
    return [md, save_figure(fig, out_dir, "heterogeneity_map")]
