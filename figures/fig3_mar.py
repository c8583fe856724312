"""Fig. 3 analogue, MAR column: 2-D PCA of encoder features, MIM vs MAR, local vs global.

Rows: plain MIM (FedAvg MAE) and MAR (FedMAR, cosine schedule, A-MMD). Columns: the final local
encoder of client 1, of client K and the global encoder, seed 0, Dirichlet ``table_alpha``, the
latent data model; the IID test set coloured by class (as the downstream Fig. 3 analogue).
"""

from __future__ import annotations

import pathlib
from typing import Sequence

import jax
import matplotlib.pyplot as plt
import numpy as np

from bounds import Record
from bounds import mar
from figures._io import save_figure
from figures.fig3_features import scatter_panel
from sim import encode
from sim.studies import MARExperiment

PRODUCER = "mar"


def make(measurement: MARExperiment, records: Sequence[Record], out_dir: pathlib.Path) -> list[pathlib.Path]:
    """``fig3_mar.png``."""
    exp = measurement
    st = exp.study
    cfg = st.shallow()
    K, a = st.n_clients, st.table_alpha
    fig, axes = plt.subplots(2, 3, figsize=(13, 8.5), constrained_layout=True)
    drawn = []
    for row, (name, setting) in enumerate((("MIM", mar.mim("FL", a)), ("MAR", mar.mar("FL", a)))):
        global_params, client_params = exp.models[setting]
        encoders = [("client 1 (local)", jax.tree_util.tree_map(lambda v: v[0], client_params["encoder"])),
                    (f"client {K} (local)", jax.tree_util.tree_map(lambda v: v[K - 1], client_params["encoder"])),
                    ("global", global_params["encoder"])]
        for col, (title, enc) in enumerate(encoders):
            drawn.append(scatter_panel(axes[row, col], np.asarray(encode(cfg, enc, exp.probe_x)), exp.probe_y,
                                       2 * st.N, f"{name}, {title}"))
    drawn = [d for d in drawn if d is not None]
    if drawn:
        fig.colorbar(drawn[0], ax=axes, shrink=0.6, label="class", ticks=range(2 * st.N))
    fig.suptitle(f"latent data model, {st.model} MAE, Dirichlet alpha = {a:g}, seed 0")
    return [save_figure(fig, out_dir, "fig3_mar")]
