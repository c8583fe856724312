"""Fig. 3 analogue: 2-D PCA of encoder features, MIM vs CL, local vs global.

Rows: MIM (MAE) and CL (SimSiam). Columns: the final local encoder of client 1, of client K
(the last client) and the FedAvg global encoder, all from the downstream measurement's first
seed under label skew (the two-layer encoder when the study trains it, else the linear one).
Each panel projects the features of the IID test set on their own top-2 principal components
(the paper uses PCA then UMAP; PCA alone keeps the picture deterministic) and colours them by
class; each title gives the fraction of the features' variance the two components hold.
"""

from __future__ import annotations

import pathlib

import jax
import matplotlib.pyplot as plt
import numpy as np

from figures._io import save_figure
from sim.shallow import encode
from sim.studies.downstream import METHODS, Experiment

PRODUCER = "downstream"


def pca2(features: np.ndarray) -> tuple[np.ndarray, float]:
    """Projection on the top-2 principal components and the fraction of variance they hold."""
    centred = features - features.mean(axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T, float((s[:2] ** 2).sum() / max((s**2).sum(), 1e-300))


def make(measurement: Experiment, out_dir: pathlib.Path) -> list[pathlib.Path]:
    """``fig3_features.png`` of the downstream measurement."""
    exp = measurement
    st = exp.study
    model = st.models[-1]
    run = exp.run_index(0, "label")
    K, n_classes = st.n_clients, 2 * st.N
    fig, axes = plt.subplots(2, 3, figsize=(13, 8.5), constrained_layout=True)
    for row, method in enumerate(METHODS):
        cfg = st.shallow(method, model)
        global_params, client_params = exp.models[(method, model)]
        encoders = [("client 1 (local)", jax.tree_util.tree_map(lambda a: a[run, 0], client_params["encoder"])),
                    (f"client {K} (local)", jax.tree_util.tree_map(lambda a: a[run, K - 1], client_params["encoder"])),
                    ("global (FedAvg)", jax.tree_util.tree_map(lambda a: a[run], global_params["encoder"]))]
        for col, (name, enc) in enumerate(encoders):
            ax = axes[row, col]
            xy, share = pca2(np.asarray(encode(cfg, enc, exp.probe_x)))
            scatter = ax.scatter(xy[:, 0], xy[:, 1], c=exp.probe_y, cmap=plt.get_cmap("tab10", n_classes), s=6,
                                 vmin=-0.5, vmax=n_classes - 0.5)
            ax.set(title=f"{method} ({cfg.loss}), {name}\nPC1+PC2 hold {100 * share:.0f}% of the variance",
                   xlabel="PC 1", ylabel="PC 2")
    fig.colorbar(scatter, ax=axes, shrink=0.6, label="class", ticks=range(n_classes))
    fig.suptitle(f"{model} encoder, label skew (Dirichlet alpha = {st.alpha:g}), seed 0")
    return [save_figure(fig, out_dir, "fig3_features")]
