"""Fig. 1 analogue: the constructed non-IID data of SPEC 1.2.

Left: which client holds what in the paper's construction (two classes per client plus a rare
class). Middle: the same classes split by the balanced Dirichlet label skew the downstream
experiment uses, with its measured heterogeneity. Right: what samples look like — one draw
per class (rows) over the coordinates, plus each client's rare sample ``e_{h_i} + mu xi``.
Data model and label skew at the downstream experiment's size for ``suite``.
"""

from __future__ import annotations

import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bounds.downstream import SETTINGS  # noqa: E402
from bounds.suites import check_suite  # noqa: E402
from sim import partition  # noqa: E402
from sim.data import sample_clients, sample_labelled  # noqa: E402
from bounds.report import save_figure  # noqa: E402


def _counts_panel(ax, counts, title):
    ax.imshow(counts, cmap="Blues", aspect="auto")
    for (k, c), v in np.ndenumerate(counts):
        if v:
            ax.text(c, k, str(int(v)), ha="center", va="center", fontsize=7,
                    color="white" if v > counts.max() / 2 else "black")
    ax.set(xlabel="class", ylabel="client", title=title, xticks=range(counts.shape[1]), yticks=range(counts.shape[0]))


def make(out_dir: pathlib.Path, *, suite: str = "default", seed: int = 0) -> list[pathlib.Path]:
    st = SETTINGS[check_suite(suite)]
    cfg = st.data_config()
    key = jax.random.key(seed)
    k_split, k_main, k_rare = jax.random.split(key, 3)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), constrained_layout=True,
                             gridspec_kw={"width_ratios": [1, 1.3, 2.2]})
    paper = partition.paper(cfg)
    h = partition.heterogeneity(paper.counts).summary()
    _counts_panel(axes[0], paper.counts, f"paper construction\nN = {cfg.N}, n = {cfg.n}, n_rare = {cfg.n_rare}, "
                                         f"TV = {h['tv_distance']:.2f}")
    label = partition.dirichlet(2 * cfg.N, st.n_clients, st.samples_per_client, st.alpha, balanced=True, key=k_split)
    h = partition.heterogeneity(label.counts).summary()
    _counts_panel(axes[1], label.counts,
                  f"Dirichlet label skew (alpha = {st.alpha:g}, balanced)\nclasses/client = "
                  f"{h['classes_per_client']:.2f}, top-2 mass = {h['top2_mass']:.2f}, TV = {h['tv_distance']:.2f}")
    labels = jnp.arange(2 * cfg.N, dtype=jnp.int32)
    main = np.asarray(sample_labelled(cfg, labels, key=k_main))
    x, y = sample_clients(cfg, key=k_rare)
    rare = np.stack([np.asarray(x[i])[np.asarray(y[i]) == cfg.rare_class[i]][0] for i in range(cfg.N)])
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


if __name__ == "__main__":
    print(*make(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "results/figures")), sep="\n")
