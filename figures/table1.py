"""Table 1 analogue: downstream accuracy IID / label skew / feature skew, MIM vs CL.

Writes ``table1.md`` (the simulation analogue with 99% t-intervals over seeds, the paper's
reported numbers, and every ``table1-mim-drop-le-cl-drop`` verdict) and ``table1.png`` (bar
charts of the drops: simulation with intervals, and the paper's reported drops). Numbers come
from ``bounds.downstream``, the functions the ledger and the tests use.
"""

from __future__ import annotations

import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bounds import downstream  # noqa: E402
from bounds.report import save_figure, save_table  # noqa: E402


def _pm(stat, scale: float = 100.0) -> str:
    mean, (lo, hi) = stat
    if not np.isfinite(mean):
        return "n/a"
    half = (hi - lo) / 2 * scale
    return f"{mean * scale:.1f} ± {half:.1f}" if np.isfinite(half) else f"{mean * scale:.1f}"


def markdown(exp: downstream.Experiment, records) -> str:
    st = exp.settings
    lines = [
        f"# Table 1 analogue (suite `{exp.suite}`, seed {exp.seed})", "",
        f"Probe accuracy (%) of the FedAvg global encoder, mean ± half-width of the 99% t-interval over "
        f"{st.n_seeds} seeds. Data: SPEC 1.2 model, d = {st.d}, 2N = {2 * st.N} classes, {st.n_clients} clients x "
        f"{st.samples_per_client} samples; label skew = Dirichlet(alpha = {st.alpha:g}, balanced); feature skew = "
        f"per-client {st.feature_transform} (strength {st.feature_strength:g}). {st.rounds} rounds x "
        f"{st.local_steps} local steps; features c = {st.c}; probe: {downstream.PROBE_METHOD} regression. "
        f"'untrained' is the probe accuracy of the initial random encoder.", "",
        "| method | model | untrained | IID | label skew | feature skew | drop (label) | drop (feature) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in downstream.accuracy_table(exp):
        lines.append(f"| {row['method']} ({row['loss']}) | {row['model']} | {_pm(row['untrained'])} | {_pm(row['iid'])} | "
                     f"{_pm(row['label'])} | {_pm(row['feature'])} | {_pm(row['drop_label'])} | {_pm(row['drop_feature'])} |")
    lines += ["", "Measured heterogeneity (means over clients and seeds):", "",
              "| split | classes per client | top-2 class mass | TV to global |", "|---|---|---|---|"]
    for skew, h in exp.heterogeneity.items():
        lines.append(f"| {skew} | {h['classes_per_client']:.2f} | {h['top2_mass']:.2f} | {h['tv_distance']:.2f} |")
    table = downstream.reported_table1()
    lines += ["", "## Reported (the paper's Table 1, accuracy %, IID / label / feature)", "",
              "| dataset | backbone | SimSiam | MAE | SimSiam drop (label / feature) | MAE drop (label / feature) |",
              "|---|---|---|---|---|---|"]
    by_cell = {}
    for row in downstream.reported_drops():
        by_cell.setdefault((row["dataset"], row["backbone"]), []).append(row)
    acc = {(r["method"], r["backbone"], r["dataset"]): r["accuracy"] for r in table["rows"]}
    for (dataset, backbone), rows in by_cell.items():
        s, m = acc[("SimSiam", backbone, dataset)], acc[("MAE", backbone, dataset)]
        cols = [s, m, [r["simsiam_drop"] for r in rows], [r["mae_drop"] for r in rows]]
        lines.append(f"| {dataset} | {backbone} | " + " | ".join(" / ".join(f"{v:.2f}" for v in c) for c in cols) + " |")
    lines += ["", "## Verdicts: `table1-mim-drop-le-cl-drop`", "",
              "| level | cell | verdict | MIM drop | CL drop | margin | CI |", "|---|---|---|---|---|---|---|"]
    for r in records:
        if r.claim != "table1-mim-drop-le-cl-drop":
            continue
        ci = "" if r.ci is None else f"[{r.ci[0]:.4f}, {r.ci[1]:.4f}]"
        lines.append(f"| {r.level} | {r.source} | **{r.verdict}** | {r.empirical:.4f} | {r.bound:.4f} | {r.margin:.4f} | {ci} |")
    lines += ["", "Simulation drops are accuracy fractions, reported drops accuracy points. Rule (simulation): 99% "
              "t-interval of the mean paired difference drop_CL - drop_MIM over seeds; holds if it lies above 0, fails "
              "if below 0, else inconclusive; holds-trivially when the MIM encoder's IID accuracy is not above its "
              "untrained encoder's. Reported: the paper's means compared directly (no error bars were reported).", ""]
    return "\n".join(lines)


def make(out_dir: pathlib.Path, *, suite: str = "default", seed: int = 0) -> list[pathlib.Path]:
    exp = downstream.run_experiment(suite, seed=seed)
    records = downstream.records(suite, seed=seed)
    md = save_table(markdown(exp, records), out_dir, "table1")

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(14, 4.8), constrained_layout=True,
                                  gridspec_kw={"width_ratios": [1, 2]})
    rows = downstream.accuracy_table(exp)
    cells = [(model, skew) for model in exp.settings.models for skew in downstream.SKEWS[1:]]
    width = 0.38
    for j, method in enumerate(downstream.METHODS):
        means, errs = [], []
        for model, skew in cells:
            mean, (lo, hi) = next(r for r in rows if r["method"] == method and r["model"] == model)[f"drop_{skew}"]
            means.append(100 * mean)
            errs.append(100 * (hi - lo) / 2)
        ax.bar(np.arange(len(cells)) + (j - 0.5) * width, means, width, yerr=errs, capsize=3,
               label=f"{method} ({downstream.LOSS_OF[method]})")
    ax.axhline(0, color="k", lw=0.6)
    ax.set(xticks=range(len(cells)), xticklabels=[f"{m}\n{s} skew" for m, s in cells], ylabel="drop from IID (points)",
           title=f"simulation (suite {suite!r}, 99% t-intervals)")
    ax.legend()
    rep = downstream.reported_drops()
    x = np.arange(len(rep))
    ax2.bar(x - width / 2, [r["mae_drop"] for r in rep], width, label="MAE (MIM)", color="C0")
    ax2.bar(x + width / 2, [r["simsiam_drop"] for r in rep], width, label="SimSiam (CL)", color="C1")
    ax2.set(xticks=x, xticklabels=[f"{r['dataset']}\n{r['backbone']} {r['skew']}" for r in rep],
            ylabel="drop from IID (points)", title="reported (the paper's Table 1)")
    ax2.tick_params(axis="x", labelsize=7)
    ax2.legend()
    return [md, save_figure(fig, out_dir, "table1")]


if __name__ == "__main__":
    print(*make(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "results/figures")), sep="\n")
