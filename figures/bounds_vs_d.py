"""Theorems 4.2 / 4.3 bound against the empirical representability, over the dimension d.

One panel per reading (MIM: paper-surrogate, alignment-exact, reconstruction; CL: similar,
dissimilar): the sensitivity ``s = 1 - min_k r_k`` (the quantity the lower bound controls),
local and FL, median over seeds with a 10-90% band, against the bound's ``1 - bound`` on
log-log axes. Last panel: the ratio ``s^C / s^M`` with the unit-constant threshold ``d*``.
The numbers come from ``bounds.compare`` and ``bounds.evaluate``, the functions the tests
and the ledger use. Trials with ``s = 0`` (the surrogate's binary ``r_k``) cannot appear on a
log axis and are counted in the panel title instead.
"""

from __future__ import annotations

import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import jax  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bounds import compare  # noqa: E402
from bounds.evaluate import sensitivity_bound  # noqa: E402
from bounds.formula import threshold_d_star  # noqa: E402
from bounds.report import save_figure  # noqa: E402

SWEEP = {"smoke": ((24, 48), 4), "default": ((32, 64, 128, 256, 384), 8), "full": ((32, 64, 128, 256, 512, 1024, 2048), 32)}
CLAIMS = {"mim": ("thm4.2-local", "thm4.2-fl"), "cl-similar": ("thm4.3-local-similar", "thm4.3-fl-similar"),
          "cl-dissimilar": ("thm4.3-local-dissimilar", "thm4.3-fl-dissimilar")}


def _claims(objective: str) -> tuple[str, str]:
    return CLAIMS["mim" if objective.startswith("mim") else objective]


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


def make(out_dir: pathlib.Path, *, suite: str = "default", seed: int = 0) -> list[pathlib.Path]:
    d_values, n_seeds = SWEEP[suite]
    sweep = compare.sweep_measurements(d_values, n_seeds=n_seeds, key=jax.random.key(seed, impl="rbg"))
    d = np.array([m.study.data.d for m in sweep], dtype=float)
    dense = np.geomspace(d.min(), d.max(), 64)
    p = sweep[0].study.p
    objectives = compare.OBJECTIVES
    fig, axes = plt.subplots(2, 3, figsize=(15, 9), constrained_layout=True)
    for ax, objective in zip(axes.flat, objectives):
        zeros = 0
        for scope, color, claim in (("local", "C0", _claims(objective)[0]), ("global", "C3", _claims(objective)[1])):
            s = np.stack([compare.sensitivities(m, objective, "proof", scope).ravel() for m in sweep])
            zeros += _band(ax, d, s, f"empirical ({'local' if scope == 'local' else 'FL'})", color)
            N = np.array([m.study.data.N for m in sweep], dtype=float)
            tr_H = np.interp(dense, d, [m.trace_H for m in sweep])
            bound = sensitivity_bound(claim, d=dense, p=p, N=np.interp(dense, d, N), A_bar=np.interp(dense, d, N),
                                      C=1.0, tr_H=tr_H)
            ax.plot(dense, bound, "--", color=color, label=f"bound 1 - r ({claim})")
        ax.set(xscale="log", yscale="log", xlabel="d", ylabel="s = 1 - min_k r_k",
               title=f"{objective}" + (f" ({zeros} trials with s = 0 not shown)" if zeros else ""))
        ax.legend(fontsize=7)
    ax = axes.flat[len(objectives)]
    for mim_obj, cl_obj, color in (("mim-alignment", "cl-similar", "C1"), ("mim-reconstruction", "cl-similar", "C2"),
                                   ("mim-alignment", "cl-dissimilar", "C4")):
        ratio = []
        for m in sweep:
            s_m = compare.sensitivities(m, mim_obj, "proof", "local").ravel()
            s_c = compare.sensitivities(m, cl_obj, "proof", "local").ravel()
            ok = (s_m > 0) & np.isfinite(s_c / np.where(s_m > 0, s_m, 1))
            ratio.append(s_c[ok] / s_m[ok])
        _band(ax, d, ratio, f"empirical {cl_obj} / {mim_obj}", color)
    ratio_bound = sensitivity_bound("thm4.3-local-similar", d=dense, C=1.0) / sensitivity_bound("thm4.2-local", d=dense, p=p, C=1.0)
    ax.plot(dense, ratio_bound, "k--", label="bound ratio (similar / MIM)")
    d_star = threshold_d_star("similar", p=p, tr_H=1.0)
    ax.axvline(d_star, color="k", lw=0.8)
    ax.axhline(1.0, color="grey", lw=0.5)
    ax.set(xscale="log", yscale="log", xlabel="d", ylabel="s^C / s^M", title=f"ratio; d* = {d_star:.1f} at p = {p}")
    ax.legend(fontsize=7)
    return [save_figure(fig, out_dir, "bounds_vs_d")]


if __name__ == "__main__":
    print(*make(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "results/figures")), sep="\n")
