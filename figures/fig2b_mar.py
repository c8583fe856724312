"""Fig. 2b analogue: probe accuracy vs Dirichlet alpha, MIM vs MAR, FL and DecL.

Writes ``fig2b_mar.png`` (one panel per algorithm: mean accuracy with 99% t-intervals over
seeds against alpha on a log axis, MIM and MAR, the untrained encoder as a reference line) and
``fig2b_mar.md`` (the numbers and every ``fig2b-mar-ge-mim`` verdict). The summary numbers
come from ``bounds.mar``'s tables of the measurement the ledger judged, the verdicts from its
records; a cell whose runs all diverged reads n/a
and draws no point.
"""

from __future__ import annotations

import pathlib
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from bounds import Record, mar, rules
from figures._io import claim_records, save_figure, save_table
from figures.table1 import md_row, pm
from sim.studies import ALGORITHMS, MARExperiment

PRODUCER = "mar"


def verdicts(records, claim: str) -> list[str]:
    """The Markdown table of ``claim``'s records (level, cell, verdict, empirical, bound, margin, CI)."""
    f = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    lines = [f"## Verdicts: `{claim}`", "", md_row(("level", "cell", "verdict", "empirical", "bound", "margin", "CI")),
             "|---|---|---|---|---|---|---|"]
    for r in records:
        if r.claim == claim:
            ci = "" if r.ci is None else f"[{r.ci[0]:.4f}, {r.ci[1]:.4f}]"
            lines.append(md_row((r.level, r.source, f"**{r.verdict}**", f(r.empirical), f(r.bound), f(r.margin), ci)))
    return lines


def markdown(exp: MARExperiment, records: Sequence[Record]) -> str:
    st = exp.study
    untrained = rules.mean_ci(exp.untrained)
    lines = ["# Fig. 2b analogue", "",
             f"Probe accuracy (%) of the global encoder, mean ± half-width of the 99% t-interval over {st.n_seeds} "
             f"seeds, latent data model (d = {st.d}, {2 * st.N} classes), {st.n_clients} clients, {st.model} MAE. "
             f"MAR: cosine schedule 0.1 -> 0.001 (Eq. 7), A-MMD with the mean bandwidth (Eq. 6). Untrained "
             f"encoder: {pm(untrained)}.", "",
             md_row(("algorithm", "alpha", "MIM", "MAR", "MAR - MIM")), "|---|---|---|---|---|"]
    for row in mar.fig2b_table(exp):
        lines.append(md_row((row["algorithm"], f"{row['alpha']:g}", pm(row["MIM"]), pm(row["MAR"]), pm(row["MAR - MIM"]))))
    return "\n".join(lines + [""] + verdicts(claim_records(records, mar.FIG2B), mar.FIG2B) + [""])


def make(measurement: MARExperiment, records: Sequence[Record], out_dir: pathlib.Path) -> list[pathlib.Path]:
    """``fig2b_mar.md`` and ``fig2b_mar.png``."""
    exp = measurement
    md = save_table(markdown(exp, records), out_dir, "fig2b_mar")
    rows = mar.fig2b_table(exp)
    fig, axes = plt.subplots(1, len(ALGORITHMS), figsize=(11, 4.2), constrained_layout=True, sharey=True)
    untrained = rules.mean_ci(exp.untrained)[0]
    for ax, algorithm in zip(axes, ALGORITHMS):
        cells = [r for r in rows if r["algorithm"] == algorithm]
        for j, method in enumerate(("MIM", "MAR")):
            pts = [(r["alpha"], *r[method]) for r in cells if np.isfinite(r[method][0])]
            if not pts:
                continue
            a, m, ci = zip(*pts)
            half = [(hi - lo) / 2 if np.isfinite(hi - lo) else 0.0 for lo, hi in ci]
            ax.errorbar(np.asarray(a) * (1.08 if j else 1 / 1.08), 100 * np.asarray(m), yerr=100 * np.asarray(half),
                        marker="o", capsize=3, label=method)
        if np.isfinite(untrained):
            ax.axhline(100 * untrained, color="gray", ls=":", label="untrained encoder")
        ax.set(xscale="log", xlabel="Dirichlet alpha", ylabel="probe accuracy (%)", title=algorithm)
        ax.invert_xaxis()
        ax.legend()
    fig.suptitle("MAR vs MIM on the latent data model (99% t-intervals over seeds)")
    return [md, save_figure(fig, out_dir, "fig2b_mar")]
