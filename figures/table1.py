"""Table 1 analogue: downstream accuracy IID / label skew / feature skew, MIM vs CL.

Writes ``table1.md`` (per data model, the simulation analogue with 99% t-intervals over seeds
and the untrained encoders' accuracy; the paper's reported Table 1; every
``table1-mim-drop-le-cl-drop`` verdict) and ``table1.png`` (bar charts of the drops: one
simulation panel per data model with intervals, and the paper's reported drops). Cells with a
diverged run read ``n/a`` and draw no bar. The summary numbers come
from ``bounds.downstream``'s tables of the measurement the ledger judged; every verdict, margin
and interval from that producer's records.
"""

from __future__ import annotations

import pathlib
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from bounds import Record, downstream
from figures._io import cell, claim_records, save_figure, save_table
from sim.studies import LOSS_OF, METHODS, PROBE_METHOD, SKEWS, Experiment

PRODUCER = "downstream"


def pm(stat, scale: float = 100.0) -> str:
    """``mean ± half-width`` of a ``(mean, (lo, hi))`` pair."""
    mean, (lo, hi) = stat
    if not np.isfinite(mean):
        return "n/a"
    half = (hi - lo) / 2 * scale
    return f"{mean * scale:.1f} ± {half:.1f}" if np.isfinite(half) else f"{mean * scale:.1f}"


def md_row(values) -> str:
    """One Markdown table row, each cell escaped."""
    return "| " + " | ".join(cell(v) for v in values) + " |"


def verdict_lines(records, claim: str, columns: tuple[str, str]) -> list[str]:
    """The Markdown table of ``claim``'s records: level, cell, verdict, MIM, CL, margin, CI
    (shared with the Table 5 analogue)."""
    lines = [f"## Verdicts: `{claim}`", "", md_row(("level", "cell", "verdict") + columns + ("margin", "CI")),
             "|---|---|---|---|---|---|---|"]
    num = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    for r in records:
        if r.claim == claim:
            ci = "" if r.ci is None else f"[{r.ci[0]:.4f}, {r.ci[1]:.4f}]"
            lines.append(md_row((r.level, r.source, f"**{r.verdict}**", num(r.empirical), num(r.bound), num(r.margin), ci)))
    return lines


def bar_stat(stat):
    """``(mean, half-width)`` for a bar, 0-height and no error bar where a run diverged."""
    mean, (lo, hi) = stat
    half = (hi - lo) / 2
    return (mean, half if np.isfinite(half) else 0.0) if np.isfinite(mean) else (0.0, 0.0)


def markdown(measurement: dict[str, Experiment], records: Sequence[Record]) -> str:
    lines = ["# Table 1 analogue", ""]
    for exp in measurement.values():
        lines += _simulation_lines(exp, records)
    lines += _reported_lines()
    lines += [""] + verdict_lines(claim_records(records, downstream.TABLE1, level="reported"), downstream.TABLE1,
                                  ("MIM drop", "CL drop"))
    lines += ["", "Simulation drops are accuracy fractions, reported drops accuracy points. Rule (simulation): 99% "
              "t-interval of the mean paired difference drop_CL - drop_MIM over seeds; holds if it lies above 0, fails "
              "if below 0, else inconclusive; holds-trivially when the MIM encoder's IID accuracy is not above its "
              "untrained encoder's. Reported: the paper's means compared directly (no error bars were reported).", ""]
    return "\n".join(lines)


def _simulation_lines(exp: Experiment, records: Sequence[Record]) -> list[str]:
    st = exp.study
    lines = [
        f"## Simulation, {exp.data_model} data model", "",
        f"Probe accuracy (%) of the FedAvg global encoder, mean ± half-width of the 99% t-interval over "
        f"{st.n_seeds} seeds. Data: the {exp.data_model} data model, d = {st.d}, 2N = {2 * st.N} classes, {st.n_clients} "
        f"clients x {st.samples_per_client} samples; label skew = Dirichlet(alpha = {st.alpha:g}, balanced); feature "
        f"skew = per-client {st.feature_transform} (strength {st.feature_strength:g}). {st.rounds} rounds x "
        f"{st.local_steps} local steps; features c = {st.c}; probe: {PROBE_METHOD} regression. "
        f"'untrained' is the probe accuracy of the initial random encoder.", "",
        md_row(("method", "model", "untrained", "IID", "label skew", "feature skew", "drop (label)", "drop (feature)")),
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in downstream.accuracy_table(exp):
        lines.append(md_row([f"{row['method']} ({row['loss']})", row["model"]]
                          + [pm(row[k]) for k in ("untrained", "iid", "label", "feature", "drop_label", "drop_feature")]))
    lines += ["", "Measured heterogeneity (means over clients and seeds):", "",
              md_row(("split", "classes per client", "top-2 class mass", "TV to global")), "|---|---|---|---|"]
    for skew, h in exp.heterogeneity.items():
        lines.append(md_row((skew, f"{h['classes_per_client']:.2f}", f"{h['top2_mass']:.2f}", f"{h['tv_distance']:.2f}")))
    mine = claim_records(records, downstream.TABLE1, level="simulation", data_model=exp.data_model)
    lines += [""] + verdict_lines(mine, downstream.TABLE1, ("MIM drop", "CL drop")) + [""]
    return lines


def _reported_lines() -> list[str]:
    table = downstream.reported_table1()
    lines = ["", "## Reported (the paper's Table 1, accuracy %, IID / label / feature)", "",
              md_row(("dataset", "backbone", "SimSiam", "MAE", "SimSiam drop (label / feature)", "MAE drop (label / feature)")),
              "|---|---|---|---|---|---|"]
    by_cell = {}
    for row in downstream.reported_drops():
        by_cell.setdefault((row["dataset"], row["backbone"]), []).append(row)
    acc = {(r["method"], r["backbone"], r["dataset"]): r["accuracy"] for r in table["rows"]}
    for (dataset, backbone), rows in by_cell.items():
        cols = [acc[("SimSiam", backbone, dataset)], acc[("MAE", backbone, dataset)],
                [r["simsiam_drop"] for r in rows], [r["mae_drop"] for r in rows]]
        lines.append(md_row([dataset, backbone] + [" / ".join(f"{v:.2f}" for v in c) for c in cols]))
    return lines


def make(measurement: dict[str, Experiment], records: Sequence[Record], out_dir: pathlib.Path) -> list[pathlib.Path]:
    """``table1.md`` and ``table1.png`` of the downstream measurement (one Experiment per data
    model) and its records."""
    md = save_table(markdown(measurement, records), out_dir, "table1")
    n = len(measurement)
    fig, axes = plt.subplots(1, n + 1, figsize=(7 * n + 7, 4.8), constrained_layout=True,
                             gridspec_kw={"width_ratios": [1] * n + [2]})
    width = 0.38
    for ax, exp in zip(axes, measurement.values()):
        rows = {(r["method"], r["model"]): r for r in downstream.accuracy_table(exp)}
        cells = [(model, skew) for model in exp.study.models for skew in SKEWS[1:]]
        for j, method in enumerate(METHODS):
            bars = [bar_stat(rows[(method, model)][f"drop_{skew}"]) for model, skew in cells]
            ax.bar(np.arange(len(cells)) + (j - 0.5) * width, [100 * m for m, _ in bars], width,
                   yerr=[100 * h for _, h in bars], capsize=3, label=f"{method} ({LOSS_OF[method]})")
        ax.axhline(0, color="k", lw=0.6)
        ax.set(xticks=range(len(cells)), xticklabels=[f"{m}\n{s} skew" for m, s in cells],
               ylabel="drop from IID (points)", title=f"simulation, {exp.data_model} data model (99% t-intervals)")
        ax.legend()
    ax2 = axes[-1]
    rep = downstream.reported_drops()
    x = np.arange(len(rep))
    ax2.bar(x - width / 2, [r["mae_drop"] for r in rep], width, label="MAE (MIM)", color="C0")
    ax2.bar(x + width / 2, [r["simsiam_drop"] for r in rep], width, label="SimSiam (CL)", color="C1")
    ax2.set(xticks=x, xticklabels=[f"{r['dataset']}\n{r['backbone']} {r['skew']}" for r in rep],
            ylabel="drop from IID (points)", title="reported (the paper's Table 1)")
    ax2.tick_params(axis="x", labelsize=7)
    ax2.legend()
    return [md, save_figure(fig, out_dir, "table1")]
