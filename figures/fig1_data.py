"""Fig. 1 analogue: the constructed non-IID data of the paper's data model.

Left: which client holds what in the paper's construction (two classes per client plus a rare
class). Middle: the balanced Dirichlet label skew of the downstream measurement's first seed,
with its measured heterogeneity. Right: what samples look like — one sample per class (rows)
over the coordinates, taken from the measurement's IID test set, plus each client's rare
sample ``e_{h_i} + mu xi``. Sizes are the downstream study's.
"""

from __future__ import annotations

import pathlib
from typing import Sequence

import jax
import matplotlib.pyplot as plt
import numpy as np

from bounds import Record
from figures._io import save_figure
from sim import heterogeneity, paper_partition, sample_clients
from sim.studies import SKEWS, Experiment

PRODUCER = "downstream"


def _counts_panel(ax, counts, title):
    ax.imshow(counts, cmap="Blues", aspect="auto")
    for (k, c), v in np.ndenumerate(counts):
        if v:
            ax.text(c, k, str(int(v)), ha="center", va="center", fontsize=7,
                    color="white" if v > counts.max() / 2 else "black")
    ax.set(xlabel="class", ylabel="client", title=title, xticks=range(counts.shape[1]), yticks=range(counts.shape[0]))


def make(measurement: dict[str, Experiment], records: Sequence[Record], out_dir: pathlib.Path) -> list[pathlib.Path]:
    """``fig1_data.png`` of the downstream measurement on the paper's data model (Fig. 1 shows
    the paper's construction; nothing is drawn when the suite did not run that model)."""
    if "paper" not in measurement:
        return []
    exp = measurement["paper"]
    st = exp.study
    cfg = st.data_config()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), constrained_layout=True,
                             gridspec_kw={"width_ratios": [1, 1.3, 2.2]})
    paper = paper_partition(cfg)
    h = heterogeneity(paper.counts).summary()
    _counts_panel(axes[0], paper.counts, f"paper construction\nN = {cfg.N}, n = {cfg.n}, n_rare = {cfg.n_rare}, "
                                         f"TV = {h['tv_distance']:.2f}")
    label = exp.counts[0, SKEWS.index("label")]
    h = heterogeneity(label).summary()
    _counts_panel(axes[1], label,
                  f"Dirichlet label skew (alpha = {st.alpha:g}, balanced), seed 0\nclasses/client = "
                  f"{h['classes_per_client']:.2f}, top-2 mass = {h['top2_mass']:.2f}, TV = {h['tv_distance']:.2f}")
    main = np.stack([exp.probe_x[np.flatnonzero(exp.probe_y == c)[0]] for c in range(2 * cfg.N)])
    # The downstream study never samples the paper's construction; its rare samples are drawn
    # from a stream of the measurement's key that the study itself does not use.
    x, y = (np.asarray(a) for a in sample_clients(cfg, key=jax.random.fold_in(exp.key, 1)))
    rare = np.stack([x[i][y[i] == cfg.rare_class[i]][0] for i in range(cfg.N)])
    rows = np.concatenate([main, rare])
    names = [f"class {c}" for c in range(2 * cfg.N)] + [f"rare h_{i} = {cfg.rare_class[i]}" for i in range(cfg.N)]
    lim = np.abs(rows).max()
    im = axes[2].imshow(rows, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    axes[2].axvline(cfg.N - 0.5, color="k", lw=0.8)
    axes[2].axhline(2 * cfg.N - 0.5, color="k", lw=0.8)
    axes[2].set(yticks=range(len(names)), yticklabels=names, xlabel="coordinate k",
                title=f"one sample per class (d = {cfg.d}, tau = {cfg.tau:.2f}, mu = {cfg.mu:.2f});\n"
                      f"class coordinates left of the line")
    fig.colorbar(im, ax=axes[2], shrink=0.8)
    return [save_figure(fig, out_dir, "fig1_data")]
