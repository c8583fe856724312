"""Fig. 3 analogue: 2-D PCA of encoder features, MIM vs CL, local vs global.

Rows: MIM (MAE) and CL (SimSiam). Columns: the final local encoder of client 1, of client K
(the last client) and the FedAvg global encoder, all from the downstream measurement's first
seed under label skew (the two-layer encoder when the study trains it, else the linear one).
Each panel projects the features of the IID test set on their own top-2 principal components
(the paper uses PCA then UMAP; PCA alone keeps the picture deterministic) and colours them by
class; each title gives the fraction of the features' variance the two components hold. One
figure per data model (``fig3_features.png`` for the paper's, ``fig3_features_<name>.png`` for
the others); an encoder whose features are not finite (a diverged run) gets a panel that says so.
"""

from __future__ import annotations

import pathlib
from typing import Sequence

import jax
import matplotlib.pyplot as plt
import numpy as np

from bounds import Record
from figures._io import save_figure
from sim import encode
from sim.studies import METHODS, Experiment

PRODUCER = "downstream"


def pca2(features: np.ndarray) -> tuple[np.ndarray, float]:
    """Projection on the top-2 principal components and the fraction of variance they hold."""
    centred = features - features.mean(axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T, float((s[:2] ** 2).sum() / max((s**2).sum(), 1e-300))


def scatter_panel(ax, features: np.ndarray, labels: np.ndarray, n_classes: int, title: str):
    """One PCA panel of ``features`` coloured by class, or a 'diverged' note when they are not
    finite; returns the scatter (None for a diverged panel)."""
    if not np.isfinite(features).all():
        ax.text(0.5, 0.5, "diverged (non-finite features)", ha="center", va="center", transform=ax.transAxes)
        ax.set(title=title, xticks=[], yticks=[])
        return None
    xy, share = pca2(features)
    ax.set(title=f"{title}\nPC1+PC2 hold {100 * share:.0f}% of the variance", xlabel="PC 1", ylabel="PC 2")
    return ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap=plt.get_cmap("tab10", n_classes), s=6,
                      vmin=-0.5, vmax=n_classes - 0.5)


def make(measurement: dict[str, Experiment], records: Sequence[Record], out_dir: pathlib.Path) -> list[pathlib.Path]:
    """``fig3_features[_<data model>].png`` of the downstream measurement."""
    return [_figure(exp, out_dir) for exp in measurement.values()]


def _figure(exp: Experiment, out_dir: pathlib.Path) -> pathlib.Path:
    st = exp.study
    model = st.models[-1]
    run = exp.run_index(0, "label")
    K, n_classes = st.n_clients, st.n_classes
    fig, axes = plt.subplots(2, 3, figsize=(13, 8.5), constrained_layout=True)
    drawn = []
    for row, method in enumerate(METHODS):
        cfg = st.shallow(method, model)
        global_params, client_params = exp.models[(method, model)]
        encoders = [("client 1 (local)", jax.tree_util.tree_map(lambda a: a[run, 0], client_params["encoder"])),
                    (f"client {K} (local)", jax.tree_util.tree_map(lambda a: a[run, K - 1], client_params["encoder"])),
                    ("global (FedAvg)", jax.tree_util.tree_map(lambda a: a[run], global_params["encoder"]))]
        for col, (name, enc) in enumerate(encoders):
            drawn.append(scatter_panel(axes[row, col], np.asarray(encode(cfg, enc, exp.probe_x)), exp.probe_y,
                                       n_classes, f"{method} ({cfg.loss}), {name}"))
    drawn = [d for d in drawn if d is not None]
    if drawn:
        fig.colorbar(drawn[0], ax=axes, shrink=0.6, label="class", ticks=range(n_classes))
    fig.suptitle(f"{exp.data_model} data model, {model} encoder, label skew (Dirichlet alpha = {st.alpha:g}), seed 0")
    name = "fig3_features" if exp.data_model == "paper" else f"fig3_features_{exp.data_model}"
    return save_figure(fig, out_dir, name)
