"""Fig. 2a analogue: sensitivity against average connectivity |Ā| (Corollary 4.5, Theorem 4.6).

Rows: the DecL readings (``per-neighbourhood`` and ``objective-eq1`` in closed form on the
suite's connectivity study; ``gossip``, D-PSGD-trained on the smaller training study). Columns:
MIM (reconstruction, alignment-exact) and CL (similar). Each panel: DecL on "uniform" (random
regular) and "general" (reference-code generator) graphs at the realised |Ā|, median over
seeds with a 10-90% band; FL (|A_i| = N) as the horizontal reference; and the paper's bound
curve ``s = 1 - (DecL lower bound)`` of Theorems 4.2 / 4.3 over |Ā| (unit constants), FL's
bound dotted. Sensitivity variant ``proof`` (``1 - min_k r_k`` over the class coordinates, the
quantity the bounds control). The numbers are the ``distributed`` producer's measurement, the
one its records were judged on.
"""

from __future__ import annotations

import pathlib
from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np

import theory
from bounds import Record, sensitivity_bound
from figures._io import save_figure
from sim import get_objective
from sim.studies import Sweep

PRODUCER = "distributed"
OBJECTIVES = ("mim-reconstruction", "mim-alignment", "cl-similar")
VARIANT = "proof"


def _bound_sensitivity(objective: str, scope: str, sw: Sweep, **at) -> np.ndarray:
    """``1 - bound`` of the Theorem 4.2 / 4.3 claim of ``objective`` at ``scope`` (unit constants)."""
    o = get_objective(objective)
    claim = theory.find_claim(family=o.family, scope=scope, variant=o.variant)
    st = sw.study
    return sensitivity_bound(claim.id, d=st.d, p=st.mask_ratio, N=st.N, tr_H=float(np.mean(sw.tr_H)), C=1.0, **at)


def _finite_quantiles(block: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """Quantiles ``qs`` per column over the finite entries (NaN for a column with none), without
    the all-NaN warnings of ``np.nanquantile``."""
    out = np.full((len(qs), block.shape[1]), np.nan)
    for col in range(block.shape[1]):
        values = block[:, col][np.isfinite(block[:, col])]
        if values.size:
            out[:, col] = np.quantile(values, qs)
    return out


def _panel(ax, sw: Sweep, reading: str, objective: str) -> None:
    st = sw.study
    if objective not in sw.s.get(reading, {}):
        ax.text(0.5, 0.5, f"{objective}\nnot trained in this suite", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    s = sw.sensitivity(reading, objective, VARIANT)
    s_fl = sw.fl_sensitivity(reading, objective, VARIANT)
    for kind, color in (("uniform", "C0"), ("general", "C1")):
        idx = sw.graphs.index(kind)
        x = sw.graphs.avg[:, idx].mean(axis=0)
        median, low, high = _finite_quantiles(s[:, idx], (0.5, 0.1, 0.9))
        ax.plot(x, median, "o-", color=color, label=f"DecL {kind}")
        ax.fill_between(x, low, high, color=color, alpha=0.25)
    fl_median, fl_low, fl_high = _finite_quantiles(s_fl[:, None], (0.5, 0.1, 0.9))[:, 0]
    if np.isfinite(fl_median):
        ax.axhline(fl_median, color="k", lw=1.2, label="FL")
        ax.axhspan(fl_low, fl_high, color="k", alpha=0.08)
    diverged = int(np.sum(sw.diverged[objective])) if objective in sw.diverged else 0
    dense = np.linspace(2, st.N, 64)
    ax.plot(dense, _bound_sensitivity(objective, "decl", sw, A_bar=dense), ":", color="C3", label="bound, DecL")
    ax.axhline(float(_bound_sensitivity(objective, "fl", sw)), ls=":", color="k", lw=0.8, label="bound, FL")
    ax.set(xscale="log", yscale="log", xlabel="average connectivity |Ā|", ylabel=f"s ({VARIANT})",
           title=f"{objective}, {reading} (N={st.N}, d={st.d})" + (f"\n{diverged} diverged runs left out" if diverged else ""))
    ax.set_xticks(list(st.levels))
    ax.set_xticklabels([str(a) for a in st.levels])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.legend(fontsize=7)


def make(measurement: Any, records: Sequence[Record], out_dir: pathlib.Path) -> list[pathlib.Path]:
    """``fig2a_connectivity.png`` of the distributed measurement (``connectivity`` and ``gossip`` sweeps)."""
    closed, trained = measurement.connectivity, measurement.gossip
    rows = (("per-neighbourhood", closed), ("objective-eq1", closed), ("gossip", trained))
    fig, axes = plt.subplots(len(rows), len(OBJECTIVES), figsize=(15, 12), constrained_layout=True)
    for (reading, sw), row in zip(rows, axes):
        for ax, objective in zip(row, OBJECTIVES):
            _panel(ax, sw, reading, objective)
    fig.suptitle("Sensitivity vs average connectivity (Fig. 2a analogue): median and 10-90% band over "
                 f"{closed.study.n_seeds} / {trained.study.n_seeds} seeds")
    return [save_figure(fig, out_dir, "fig2a_connectivity")]
