"""Theorems 4.2 / 4.3 bound against the empirical representability, over the dimension d.

One panel per reading (MIM: paper-surrogate, alignment-exact, reconstruction; CL: similar,
dissimilar): the sensitivity ``s = 1 - min_k r_k`` (the quantity the lower bound controls),
local and FL, median over seeds with a 10-90% band, against the bound's ``1 - bound`` on
log-log axes. Last panel: the ratio ``s^C / s^M`` with the unit-constant threshold ``d*`` of
Theorem 4.4, read from the Theorem 4.4 records (their ``bound``). The points are the linear producer's order sweep — the measurements its records
were judged on. Trials with ``s = 0`` (the surrogate's binary ``r_k``) cannot appear on a log
axis and are counted in the panel title instead.
"""

from __future__ import annotations

import pathlib

from typing import Any, Sequence

import numpy as np

import theory
from bounds import Record, sensitivity_bound
from figures._io import save_figure
from sim import OBJECTIVES, get_objective

PRODUCER = "linear"


def _band(ax, d, s, label, color):
    """Median and 10-90% band over trials of the positive values; returns the count of zeros."""
    med, lo, hi = [], [], []
    for row in s:
        pos = row[row > 0]
        med.append(np.median(pos) if pos.size else np.nan)
        lo.append(np.quantile(pos, 0.1) if pos.size else np.nan)
        hi.append(np.quantile(pos, 0.9) if pos.size else np.nan)
    keep = np.isfinite(med)
    if keep.any():
        ax.plot(d[keep], np.asarray(med)[keep], "o-", color=color, label=label)
        ax.fill_between(d[keep], np.asarray(lo)[keep], np.asarray(hi)[keep], color=color, alpha=0.25)
    return int(sum(np.sum(row <= 0) for row in s))


def bound_claim(objective: str, scope: str) -> theory.Claim:
    """The Theorem 4.2 / 4.3 claim that bounds ``objective`` at ``scope`` (its family and variant)."""
    o = get_objective(objective)
    return theory.find_claim(family=o.family, scope=scope, variant=o.variant)


def d_star(records: Sequence[Record]) -> float:
    """Theorem 4.4's unit-constant ``d*`` for similar augmentations at the local level: the
    ``bound`` of its simulation records (one value at the study's ``p``)."""
    claim = theory.find_claim(family="comparison", scope="local")
    values = {r.bound for r in records if r.claim == claim.id and r.level == "simulation"
              and r.reading.get("cl") == "similar" and r.bound is not None and "variant" not in r.reading}
    if len(values) != 1:
        raise ValueError(f"records: need one d* of {claim.id} (cl=similar), found {sorted(values)}")
    return values.pop()


def make(ms: Any, records: Sequence[Record], out_dir: pathlib.Path) -> list[pathlib.Path]:
    """``bounds_vs_d.png`` of the linear measurement (``ms.sweep``) and its records."""
    import matplotlib.pyplot as plt

    sweep = sorted(ms.sweep, key=lambda m: m.study.data.d)
    d = np.array([m.study.data.d for m in sweep], dtype=float)
    dense = np.geomspace(d.min(), d.max(), 64)
    p = sweep[0].study.mask_ratio
    N = np.interp(dense, d, [m.study.data.N for m in sweep])
    tr_H = np.interp(dense, d, [float(np.mean(m.trace_H)) for m in sweep])
    fig, axes = plt.subplots(2, 3, figsize=(15, 9), constrained_layout=True)
    for ax, objective in zip(axes.flat, OBJECTIVES):
        zeros = 0
        for scope, color in (("local", "C0"), ("fl", "C3")):
            claim = bound_claim(objective, scope)
            s = [m.sensitivities(objective, "proof", scope).ravel() for m in sweep]
            zeros += _band(ax, d, s, f"empirical ({scope})", color)
            bound = sensitivity_bound(claim.id, d=dense, p=p, N=N, A_bar=N, C=1.0, tr_H=tr_H)
            ax.plot(dense, bound, "--", color=color, label=f"bound 1 - r ({claim.source})")
        ax.set(xscale="log", yscale="log", xlabel="d", ylabel="s = 1 - min_k r_k",
               title=objective + (f" ({zeros} trials with s = 0 not shown)" if zeros else ""))
        ax.legend(fontsize=7)
    ax = axes.flat[len(OBJECTIVES)]
    for mim_obj, cl_obj, color in (("mim-alignment", "cl-similar", "C1"), ("mim-reconstruction", "cl-similar", "C2"),
                                   ("mim-alignment", "cl-dissimilar", "C4")):
        ratio = []
        for m in sweep:
            s_m = m.sensitivities(mim_obj, "proof", "local").ravel()
            s_c = m.sensitivities(cl_obj, "proof", "local").ravel()
            ok = s_m > 0
            ratio.append(s_c[ok] / s_m[ok])
        _band(ax, d, ratio, f"empirical {cl_obj} / {mim_obj}", color)
    local_cl, local_mim = bound_claim("cl-similar", "local"), bound_claim("mim-alignment", "local")
    ratio_bound = sensitivity_bound(local_cl.id, d=dense, C=1.0) / sensitivity_bound(local_mim.id, d=dense, p=p, C=1.0)
    ax.plot(dense, ratio_bound, "k--", label="bound ratio (similar / MIM)")
    threshold = d_star(records)
    ax.axvline(threshold, color="k", lw=0.8)
    ax.axhline(1.0, color="grey", lw=0.5)
    ax.set(xscale="log", yscale="log", xlabel="d", ylabel="s^C / s^M", title=f"ratio; d* = {threshold:.1f} at p = {p}")
    ax.legend(fontsize=7)
    return [save_figure(fig, out_dir, "bounds_vs_d")]
