"""Downstream records: the Table 1 and Table 5 analogues and their reported levels.

The measurement is ``sim.studies.downstream`` (shallow MAE and SimSiam encoders trained with
FedAvg on IID, label-skewed and feature-skewed splits, probed on IID data), once per data model
of the suite (the paper's Section 3.2 model and the latent model, same key, so the two are
paired); this module only judges it, with the rules of ``bounds.judging.rules``. Every simulation record
names its data model and carries the untrained encoders' probe accuracies beside the trained
ones:

- ``table1-mim-drop-le-cl-drop`` (simulation, per model x skew): the paired per-seed
  differences ``drop_CL - drop_MIM`` (``drop = acc(iid) - acc(skew)``), judged by
  ``rules.mean_difference``. ``holds`` becomes ``holds-trivially`` when the MIM model is shown
  to have learned nothing the probe can use: the interval of ``acc_MIM(iid) - acc(untrained MIM
  encoder)`` lies below 0 (a model below its own initialisation has nothing to lose). An
  interval containing 0 is only a non-rejection: the verdict stays ``holds`` and the note says
  that MIM's gain is not established. A cell with a diverged run is ``inconclusive``.
- ``table1-mim-drop-le-cl-drop`` (reported, per dataset x backbone x skew): the paper's Table 1
  means compared directly; no error bars were reported, so whether the margin exceeds seed
  noise is unknown.
- ``table5-mim-divergence-le-cl-divergence`` (simulation, per model x skew x distance): the
  encoder's summed layer-wise l2 distances between the final local models (the measure of
  Table 5), ``dist_CL - dist_MIM`` per seed, the same rule. Reported level: the paper's
  Table 5 columns, MAE vs SimSiam.
- ``sensitivity-predicts-accuracy`` (simulation, per sensitivity variant): Spearman rank
  correlation, over all trained runs, between the global model's sensitivity (Definition 4.1)
  and its probe accuracy; ``holds`` if negative at one-sided level ``ALPHA``, ``fails`` if
  positive at that level, else ``inconclusive``.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json

import jax
import numpy as np

import theory
from bounds.judging import rules
from bounds.judging.records import Record
from bounds.running.suite import Suite
from sim.linear.metrics import SENSITIVITY_VARIANTS
from sim.studies import downstream as study
from sim.studies.downstream import DISTANCES, LOSS_OF, METHODS, SKEWS, Experiment, sensitivity_accuracy

#: The ids of the claims judged here (`theory.experiments`: Tables 1 and 5, and the toolkit-added
#: link of Definition 4.1 to accuracy).
TABLE1 = theory.get_claim("table1-mim-drop-le-cl-drop").id
TABLE5 = theory.get_claim("table5-mim-divergence-le-cl-divergence").id
SENSITIVITY = theory.get_claim("sensitivity-predicts-accuracy").id
#: Both tables compare the paper's MIM stand-in (MAE) with its CL stand-in (SimSiam).
READING: tuple[theory.Reading, ...] = (theory.Reading("mim", LOSS_OF["MIM"]), theory.Reading("cl", LOSS_OF["CL"]))


# ----------------------------------------------------------------------------- producer

def measure(suite: Suite, *, key: jax.Array) -> dict[str, Experiment]:
    """The downstream study at ``suite.downstream`` sizes, one :class:`Experiment` per data model
    (all with ``key``: the same splits, initialisations and training keys)."""
    return {name: study.measure(suite.downstream, key=key, data_model=name) for name in suite.downstream.data_models}


def judge(measurement: dict[str, Experiment], suite: Suite) -> list[Record]:
    """Every downstream record (see the module docstring) of ``measurement`` (by data model);
    the reported-level records once."""
    for exp in measurement.values():
        suite.require_sizes("downstream", exp.study)
    out = []
    for exp in measurement.values():
        out += table1_records(exp, reported=False) + table5_records(exp, reported=False)
        if exp.data_model == "paper":  # sensitivity (Definition 4.1) is about the paper's class coordinates
            out += sensitivity_records(exp)
    out += reported_table1_records() + reported_table5_records()
    return [dataclasses.replace(r, params={**r.params, "suite": suite.name}) if r.level == "simulation" else r
            for r in out]


def cell_name(exp: Experiment, cell: str) -> str:
    """A record's cell, prefixed with the data model unless it is the paper's."""
    return cell if exp.data_model == "paper" else f"{exp.data_model} data model, {cell}"


def cell_source(claim_id: str, cell: str, *, analogue: bool) -> str:
    """A record's ``source``: the claim's (e.g. ``"Table 1"``), ``" analogue"`` for the toolkit's
    simulation of it, then the cell, e.g. ``"Table 1 analogue (linear encoder, label skew)"``."""
    return f"{theory.get_claim(claim_id).source}{' analogue' if analogue else ''} ({cell})"


def records(suite: Suite, *, key: jax.Array) -> list[Record]:
    """``judge(measure(suite, key=key), suite)``."""
    return judge(measure(suite, key=key), suite)


# ----------------------------------------------------------------------------- tables

def accuracy_table(exp: Experiment) -> list[dict]:
    """One row per (method, model): mean and CI of the accuracy on each split and of the drops
    (the Table 1 analogue)."""
    rows = []
    for method, model in exp.study.pairs:
        row = {"method": method, "loss": LOSS_OF[method], "model": model,
               "untrained": rules.mean_ci(exp.untrained[(method, model)])}
        for skew in SKEWS:
            row[skew] = rules.mean_ci(exp.accuracy[(method, model, skew)])
        for skew in SKEWS[1:]:
            row[f"drop_{skew}"] = rules.mean_ci(exp.drop(method, model, skew))
        rows.append(row)
    return rows


def _relative(exp: Experiment, method: str, model: str, skew: str, k: int) -> np.ndarray:
    """Distance ``k`` over the global encoder's summed layer norms, per seed."""
    dist = exp.distances[(method, model, skew)]
    return dist[:, k] / dist[:, 2]


def distance_table(exp: Experiment) -> list[dict]:
    """One row per (method, model, skew): mean and CI of the encoder distances, absolute and
    relative to the global encoder's summed layer norms (the Table 5 analogue)."""
    rows = []
    for method, model in exp.study.pairs:
        for skew in SKEWS:
            row = {"method": method, "loss": LOSS_OF[method], "model": model, "skew": skew}
            for k, kind in enumerate(DISTANCES):
                row[kind] = rules.mean_ci(exp.distances[(method, model, skew)][:, k])
                row[f"{kind} (relative)"] = rules.mean_ci(_relative(exp, method, model, skew, k))
            rows.append(row)
    return rows


# ----------------------------------------------------------------------------- reported numbers

def load_data(name: str) -> dict:
    """A JSON file of the paper's reported numbers shipped in ``bounds/data``."""
    return json.loads(importlib.resources.files("bounds").joinpath("data", name).read_text())


def reported_table1() -> dict:
    """The paper's Table 1 (downstream accuracy %, IID / label / feature non-IID)."""
    return load_data("table1.json")


def reported_table5() -> dict:
    """The paper's Table 5 (summed layer-wise l2 distances between model weights; SimSiam, MAE and MAR rows)."""
    return load_data("table5.json")


def reported_drops() -> list[dict]:
    """One row per (dataset, backbone, skew) of Table 1: SimSiam's and MAE's drops from IID (points)."""
    table = reported_table1()
    acc = {(r["method"], r["backbone"], r["dataset"]): r["accuracy"] for r in table["rows"]}
    rows = []
    for (method, backbone, dataset), a in acc.items():
        if method != "MAE":
            continue
        s = acc[("SimSiam", backbone, dataset)]
        for j, skew in enumerate(table["columns"][1:], start=1):
            rows.append({"dataset": dataset, "backbone": backbone, "skew": skew, "mae": [a[0], a[j]],
                         "simsiam": [s[0], s[j]], "mae_drop": a[0] - a[j], "simsiam_drop": s[0] - s[j]})
    return rows


def _reported(claim: str, source: str, *, mae: float, simsiam: float, what: str, **fields) -> Record:
    """A reported-level record: the paper's means compared directly (MAE's <= SimSiam's)."""
    judgement = rules.identity([simsiam - mae], tolerance=0.0, what=f"MAE {what} <= SimSiam {what}")
    return Record.judged(judgement, claim=claim, source=source, level="reported", reading=READING,
                         bound=simsiam, empirical=mae, margin=simsiam - mae,
                         statistic=f"bound = SimSiam {what}, empirical = MAE {what}, margin = bound - empirical",
                         **fields)


# ----------------------------------------------------------------------------- records

def diverged_fields(n_diverged: int, judgement: rules.Judgement) -> tuple[dict, str]:
    """Record overrides and the rule sentence for a cell: ``inconclusive`` (no CI) when
    ``n_diverged`` runs diverged (non-finite loss or features), else none and the rule's words."""
    if n_diverged:
        return {"verdict": "inconclusive", "ci": None}, \
            f"{n_diverged} run(s) diverged (non-finite loss or features); no verdict."
    return {}, judgement.rule + "."


def _paired(exp: Experiment, claim: str, source: str, *, cl: np.ndarray, mim: np.ndarray, cells, statistic: str,
            params: dict, note: str, learned: np.ndarray | None = None) -> Record:
    """A simulation record on the paired per-seed difference ``cl - mim``: ``rules.mean_difference``,
    ``inconclusive`` if a run of ``cells`` diverged, ``holds-trivially`` if ``learned`` (the MIM
    model's gain over its untrained encoder) is significantly negative, a note if it is neither
    significantly positive nor negative."""
    diff = cl - mim
    judgement = rules.mean_difference(diff)
    fields, rule = diverged_fields(sum(exp.diverged[cell] for cell in cells), judgement)
    if not fields:
        if judgement.verdict == "holds" and learned is not None:
            gain, (lo, hi) = rules.mean_ci(learned)
            what = f"its untrained encoder's (difference {gain:.3f}, two-sided 99% CI [{lo:.3f}, {hi:.3f}])"
            if hi < 0:
                fields = {"verdict": "holds-trivially"}
                rule += f" holds-trivially: the MIM model's IID accuracy is below {what}, so it had nothing to lose."
            elif not lo > 0:
                rule += (f" The MIM model's IID accuracy is not shown to differ from {what}: whether it learned "
                         "anything it could lose under skew is not established.")
    return Record.judged(judgement, claim=claim, source=source, level="simulation", reading=READING,
                         bound=finite_mean(cl), empirical=finite_mean(mim), margin=finite_mean(diff),
                         statistic=statistic,
                         n_seeds=int(diff.size),
                         params={**params, **exp.study.as_params(), "data_model": exp.data_model},
                         note=f"{note} {rule}", **fields)


def finite_mean(values) -> float:
    """Mean of the finite values (NaN when none: a record stores it as null)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def num(value: float, digits: int = 3) -> str:
    """A number for a note or table: never 'nan' (a diverged cell reads 'n/a (diverged)')."""
    return f"{value:.{digits}f}" if np.isfinite(value) else "n/a (diverged)"


def _untrained(exp: Experiment, model: str) -> dict[str, float]:
    return {m: float(np.mean(exp.untrained[(m, model)])) for m in METHODS}


def table1_records(exp: Experiment, *, reported: bool = True) -> list[Record]:
    """``table1-mim-drop-le-cl-drop``: the simulation cells, then (``reported``) the paper's Table 1."""
    out = []
    for model in exp.study.models:
        for skew in SKEWS[1:]:
            acc = {f"{m}_{s}": finite_mean(exp.accuracy[(m, model, s)]) for m in METHODS for s in ("iid", skew)}
            untrained = _untrained(exp, model)
            out.append(_paired(
                exp, TABLE1, cell_source(TABLE1, cell_name(exp, f"{model} encoder, {skew} skew"), analogue=True),
                cl=exp.drop("CL", model, skew), mim=exp.drop("MIM", model, skew),
                cells=[(m, model, s) for m in METHODS for s in ("iid", skew)],
                learned=exp.accuracy[("MIM", model, "iid")] - exp.untrained[("MIM", model)],
                statistic=("drop from IID in probe accuracy (fraction): bound = mean CL (SimSiam) drop, empirical = "
                           "mean MIM (MAE) drop, margin = mean of drop_CL - drop_MIM over paired seeds"),
                params={"model": model, "skew": skew, "mean_accuracy": acc,
                        "untrained_accuracy_mim": untrained["MIM"], "untrained_accuracy": untrained,
                        "heterogeneity": exp.heterogeneity[skew]},
                note=(f"Linear probe on the FedAvg global encoder, IID test set ({exp.data_model} data model). "
                      f"Probe accuracy, trained (IID / {skew}) vs untrained encoder: MIM "
                      f"{num(acc['MIM_iid'])} / {num(acc[f'MIM_{skew}'])} vs {num(untrained['MIM'])}, CL "
                      f"{num(acc['CL_iid'])} / {num(acc[f'CL_{skew}'])} vs {num(untrained['CL'])}."),
            ))
    return out + (reported_table1_records() if reported else [])


def reported_table1_records() -> list[Record]:
    """``table1-mim-drop-le-cl-drop`` at reported level: the paper's Table 1."""
    out = []
    table = reported_table1()
    for row in reported_drops():
        out.append(_reported(
            TABLE1, cell_source(TABLE1, f"{row['dataset']}, {row['backbone']}, {table['column_meaning'][row['skew']]}",
                                analogue=False),
            mae=row["mae_drop"], simsiam=row["simsiam_drop"], what="drop from IID (accuracy points)",
            n_seeds=int(table["n_seeds"]), params={k: row[k] for k in ("dataset", "backbone", "skew", "mae", "simsiam")},
            note="The paper's reported means; it gives no error bars, so whether the margin exceeds seed noise is unknown.",
        ))
    return out


def table5_records(exp: Experiment, *, reported: bool = True) -> list[Record]:
    """``table5-mim-divergence-le-cl-divergence``: the simulation cells, then (``reported``) the
    paper's Table 5."""
    out = []
    for model in exp.study.models:
        for skew in SKEWS[1:]:
            for k, kind in enumerate(DISTANCES):
                rel = {m: finite_mean(_relative(exp, m, model, skew, k)) for m in METHODS}
                out.append(_paired(
                    exp, TABLE5,
                    cell_source(TABLE5, cell_name(exp, f"{model} encoder, {skew} skew, {kind}"), analogue=True),
                    cl=exp.distances[("CL", model, skew)][:, k], mim=exp.distances[("MIM", model, skew)][:, k],
                    cells=[(m, model, skew) for m in METHODS],
                    statistic=(f"{kind} summed layer-wise l2 distance of the final local encoders: bound = CL "
                               f"(SimSiam) mean, empirical = MIM (MAE) mean, margin = mean CL - MIM over paired seeds"),
                    params={"model": model, "skew": skew, "distance": kind,
                            "mean_distance_iid": {m: finite_mean(exp.distances[(m, model, "iid")][:, k])
                                                  for m in METHODS},
                            "mean_relative_distance": rel},
                    note=(f"MIM and CL share the encoder architecture and initialisation ({exp.data_model} data "
                          f"model). Relative to the global encoder's summed layer norms: MIM {num(rel['MIM'])}, "
                          f"CL {num(rel['CL'])}."),
                ))
    return out + (reported_table5_records() if reported else [])


def reported_table5_records() -> list[Record]:
    """``table5-mim-divergence-le-cl-divergence`` at reported level: the paper's Table 5."""
    out = []
    table = reported_table5()
    dist = {r["method"]: r["distance"] for r in table["rows"]}
    for j, column in enumerate(table["columns"]):
        out.append(_reported(
            TABLE5, cell_source(TABLE5, column, analogue=False), mae=dist["MAE"][j], simsiam=dist["SimSiam"][j],
            what="distance between model weights", params={"column": column, "values": {m: dist[m][j] for m in dist}},
            note=("The paper's reported distances; which of its three columns is local-vs-local and which "
                  "local-vs-global is not stated, so they are kept in the paper's order."),
        ))
    return out


def sensitivity_records(exp: Experiment) -> list[Record]:
    """``sensitivity-predicts-accuracy``: one record per sensitivity variant (Definition 4.1)."""
    out = []
    for variant in SENSITIVITY_VARIANTS:
        s, a = sensitivity_accuracy(exp, variant)
        judgement = rules.negative_rank_correlation(s, a)
        out.append(Record.judged(
            judgement, claim=SENSITIVITY, source=theory.get_claim(SENSITIVITY).source,
            level="simulation", reading=[theory.Reading("sensitivity", variant)], bound=0.0,
            empirical=judgement.statistic,
            margin=-judgement.statistic, n_seeds=exp.study.n_seeds,
            statistic="Spearman rank correlation of sensitivity and probe accuracy: bound = 0, empirical = rho, "
                      "margin = -rho",
            params={"runs": int(s.size), **exp.study.as_params()},
            note=("Does a lower sensitivity of the global model go with a higher probe accuracy? Runs pooled over "
                  "MIM/CL, models, iid/label/feature and seeds; representability of row(W) (linear) or of the "
                  f"top-c right singular subspace of W1 (two-layer). {judgement.rule}"),
        ))
    return out


__all__ = [
    "READING", "SENSITIVITY", "TABLE1", "TABLE5", "accuracy_table", "cell_name", "cell_source", "distance_table",
    "diverged_fields", "finite_mean", "judge", "load_data", "num",
    "measure", "records",
    "reported_table1_records", "reported_table5_records",
    "reported_drops", "reported_table1", "reported_table5", "sensitivity_records", "table1_records",
    "table5_records",
]
