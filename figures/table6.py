"""Table 6 analogue: DecL MIM under the five consensus rules at |Ā| ≈ 5 and ≈ 10.

D-PSGD on the exact expected MIM alignment loss (Eq. 4, ``mim-alignment``), "general" graphs
from the reference-code generator, clients of unequal size (so data-size weights differ from
uniform), one graph per (seed, |Ā|) and one initialisation per seed shared by every rule; FL
(complete graph) as the reference row. Reported per rule and connectivity: the global model's
sensitivity (``class`` and ``proof`` variants, mean ± sd over seeds; smaller is more robust)
and the spectral gap ``1 - |λ_2(W)|`` of the rule's matrix. The paper's fine-tuning accuracies
are listed alongside for orientation (a different quantity: higher is better there). The rows
are the ``distributed`` producer's consensus measurement; diverged runs are left out of the
mean ± sd and counted in the cell ("diverged" when every seed's run did).
"""

from __future__ import annotations

import pathlib
from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from bounds import Record
from figures._io import cell, save_figure, save_table

PRODUCER = "distributed"
#: The paper's Table 6 (fine-tuning accuracy %, DecL MIM): rule -> (|Ā|≈5, |Ā|≈10).
TABLE6_REPORTED: Mapping[str, tuple[float, float]] = {
    "data-size": (46.62, 52.28), "degree-normalised": (45.34, 52.08),
    "metropolis-hastings": (45.22, 52.18), "push-sum": (45.19, 52.22),
}
#: The paper's FL row of Table 6.
FL_REPORTED = 52.72


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values)]


def _fmt(values: np.ndarray) -> str:
    ok = _finite(values)
    if ok.size == 0:
        return "diverged"
    lost = np.asarray(values).size - ok.size
    return f"{np.mean(ok):.4f} ± {np.std(ok):.4f}" + (f" ({lost} diverged)" if lost else "")


def _row(cells) -> str:
    return "| " + " | ".join(cell(c) for c in cells) + " |"


def make(measurement: Any, records: Sequence[Record], out_dir: pathlib.Path) -> list[pathlib.Path]:
    """``table6.md`` and ``table6.png`` of the distributed measurement's ``consensus`` rows."""
    st, rows = measurement.consensus.study, measurement.consensus.rows
    fl = next(r for r in rows if r.rule == "fl")
    levels = sorted({r.level for r in rows if r.rule != "fl"})
    by = {(r.rule, r.level): r for r in rows}
    rules = [r for r in dict.fromkeys(r.rule for r in rows) if r != "fl"]
    header = ["rule"] + [f"{what}, |Ā|≈{a}" for a in levels for what in ("s class", "s proof", "gap", "paper")]
    lines = [
        "# Table 6 analogue — DecL MIM (Eq. 4, exact expected loss) under consensus rules",
        "",
        f"N = {st.N} clients, d = {st.d}, c = {st.c}, {st.rounds} rounds x {st.local_steps} local GD steps, "
        f"{st.n_seeds} seeds, 'general' graphs (reference generator), unequal client sizes. "
        "s = sensitivity of the gossip-trained global model (smaller = more robust); gap = spectral gap "
        f"1 - |λ2(W)|; paper = reported fine-tuning accuracy % (higher = better; FL {FL_REPORTED}).",
        "",
        _row(header),
        "|" + "---|" * len(header),
    ]
    for rule in rules:
        cells = [rule]
        paper = TABLE6_REPORTED.get(rule)
        for j, a in enumerate(levels):
            r = by[(rule, a)]
            cells += [_fmt(r.s_class), _fmt(r.s_proof), f"{np.mean(r.spectral_gap):.3f}",
                      f"{paper[j]:.2f}" if paper and j < len(paper) else "—"]
        lines.append(_row(cells))
    lines.append(_row(["FL (complete)"] + [_fmt(fl.s_class), _fmt(fl.s_proof), "1.000", f"{FL_REPORTED:.2f}"] * len(levels)))
    md = save_table("\n".join(lines) + "\n", out_dir, "table6")

    fig, axes = plt.subplots(1, len(levels), figsize=(6 * len(levels), 4), constrained_layout=True, sharey=True)
    names = rules + ["fl"]
    for ax, a in zip(np.atleast_1d(axes), levels):
        data = [by[(r, a)].s_class if r != "fl" else fl.s_class for r in names]
        data = [_finite(v) for v in data]  # diverged runs left out; an all-diverged bar is empty
        ax.bar(range(len(names)), [np.mean(v) if v.size else 0.0 for v in data],
               yerr=[np.std(v) if v.size else 0.0 for v in data], color="C0", alpha=0.8)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        ax.set(title=f"|Ā| ≈ {a}", ylabel="s (class) of the global model")
    return [md, save_figure(fig, out_dir, "table6")]
