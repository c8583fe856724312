"""MAR records: the Fig. 2b, Table 7, Table 8 and Table 5 (MAR rows) analogues and their
reported levels.

The measurement is ``sim.studies.mar`` (FedMAR / DecMAR vs plain MIM on the latent data model,
probed on IID data); this module judges it with the rules of ``bounds.judging.rules``. Every simulation
record carries the untrained encoder's probe accuracy beside the trained ones, and a cell with
a diverged run is ``inconclusive`` with a note.

- ``fig2b-mar-ge-mim`` (simulation, per algorithm x Dirichlet alpha): paired per-seed
  ``acc_MAR - acc_MIM`` (MAR: Eq. 7's cosine schedule 0.1 -> 0.001, A-MMD of Eq. 6 with the mean
  bandwidth), ``rules.mean_difference``. The paper ships Fig. 2b as a plot only: no reported
  level.
- ``table7-ammd-mean-best`` (simulation, per constant gamma): A-MMD with the mean bandwidth
  against each other alignment metric of Table 7, ``acc_mean - acc_other`` per seed; each
  difference by ``rules.mean_difference`` at ``ALPHA / m`` (Bonferroni over the ``m`` rivals):
  holds if every interval lies above 0, fails if any lies below 0, else inconclusive.
  Reported: the paper's Table 7 means, per gamma column.
- ``table8-cosine-best`` (simulation): the cosine schedule against every constant gamma of
  Table 8, the same combined rule. Reported: the paper's Table 8 means.
- ``table5-mar-divergence-le-mim`` (simulation, per distance): FL at ``table_alpha``, paired
  ``dist_MIM - dist_MAR`` of the summed layer-wise l2 distances of the final local encoders.
  Reported: the paper's Table 5, MAR vs MAE per column.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

import theory
from bounds.judging import rules
from bounds.producers.downstream import cell_source, diverged_fields, finite_mean, load_data, num, reported_table5
from bounds.judging.records import Record
from bounds.running.suite import Suite
from sim.models.mar import GAMMA_MAX, GAMMA_MIN
from sim.studies import mar as study
from sim.studies.mar import PAPER_METRIC, TABLE7_METRICS, MARExperiment, Setting

#: The ids of the claims judged here (`theory.experiments`: Fig. 2b, Tables 7, 8 and Table 5's MAR rows).
FIG2B = theory.get_claim("fig2b-mar-ge-mim").id
TABLE7 = theory.get_claim("table7-ammd-mean-best").id
TABLE8 = theory.get_claim("table8-cosine-best").id
TABLE5 = theory.get_claim("table5-mar-divergence-le-mim").id
DISTANCES: tuple[str, ...] = ("local-vs-local", "local-vs-global")
#: The MIM stand-in (MAE) and the A-MMD normalisation of Eq. 6 as printed.
READING: tuple[theory.Reading, ...] = (theory.Reading("mim", "mae"), theory.Reading("variant", "paper"))


# ----------------------------------------------------------------------------- producer

def measure(suite: Suite, *, key: jax.Array) -> MARExperiment:
    """The MAR study at ``suite.mar`` sizes."""
    return study.measure(suite.mar, key=key)


def judge(measurement: MARExperiment, suite: Suite) -> list[Record]:
    """Every MAR record (see the module docstring) of ``measurement``."""
    suite.require_sizes("mar", measurement.study)
    out = fig2b_records(measurement) + table7_records(measurement) + table8_records(measurement) \
        + table5_records(measurement) + reported_records()
    return [dataclasses.replace(r, params={**r.params, "suite": suite.name}) if r.level == "simulation" else r
            for r in out]


def records(suite: Suite, *, key: jax.Array) -> list[Record]:
    """``judge(measure(suite, key=key), suite)``."""
    return judge(measure(suite, key=key), suite)


# ----------------------------------------------------------------------------- settings and tables

def mim(algorithm: str, alpha: float) -> Setting:
    return Setting(algorithm, alpha, PAPER_METRIC, 0.0, 0.0)


def mar(algorithm: str, alpha: float) -> Setting:
    """MAR as the paper runs it: cosine schedule (Eq. 7), A-MMD with the mean bandwidth (Eq. 6)."""
    return Setting(algorithm, alpha, PAPER_METRIC, GAMMA_MAX, GAMMA_MIN)


def constant(metric: str, gamma: float, alpha: float) -> Setting:
    return Setting("FL", alpha, metric, gamma, gamma)


def fig2b_table(exp: MARExperiment) -> list[dict]:
    """One row per (algorithm, alpha): mean and CI of MIM's and MAR's accuracy and of the paired
    difference (the Fig. 2b analogue)."""
    return [{"algorithm": a, "alpha": alpha, "MIM": rules.mean_ci(exp.accuracy[mim(a, alpha)]),
             "MAR": rules.mean_ci(exp.accuracy[mar(a, alpha)]),
             "MAR - MIM": rules.mean_ci(exp.accuracy[mar(a, alpha)] - exp.accuracy[mim(a, alpha)])}
            for a in study.ALGORITHMS for alpha in exp.study.alphas]


def table7_table(exp: MARExperiment) -> list[dict]:
    """One row per metric: mean and CI of the accuracy at each constant gamma (and gamma = 0)."""
    a = exp.study.table_alpha
    return [{"metric": m, **{g: rules.mean_ci(exp.accuracy[constant(m, g, a)]) for g in exp.study.table7_gammas}}
            for m in TABLE7_METRICS]


def table8_table(exp: MARExperiment) -> list[dict]:
    """One row per schedule: constant gammas, then the cosine schedule (A-MMD, mean bandwidth)."""
    a = exp.study.table_alpha
    rows = [{"schedule": f"constant {g:g}", "accuracy": rules.mean_ci(exp.accuracy[constant(PAPER_METRIC, g, a)])}
            for g in exp.study.table8_gammas]
    return rows + [{"schedule": f"cosine {GAMMA_MAX:g} -> {GAMMA_MIN:g}", "accuracy": rules.mean_ci(exp.accuracy[mar("FL", a)])}]


def distance_table(exp: MARExperiment) -> list[dict]:
    """MIM and MAR (FL, ``table_alpha``): mean and CI of each encoder distance."""
    a = exp.study.table_alpha
    return [{"method": name, **{kind: rules.mean_ci(exp.distances[s][:, k]) for k, kind in enumerate(DISTANCES)}}
            for name, s in (("MIM", mim("FL", a)), ("MAR", mar("FL", a)))]


# ----------------------------------------------------------------------------- reported numbers

def reported_table7() -> dict:
    """The paper's Table 7 (accuracy % per alignment metric at two constant gammas)."""
    return load_data("table7.json")


def reported_table8() -> dict:
    """The paper's Table 8 (accuracy % per gamma schedule)."""
    return load_data("table8.json")


def _reported(claim: str, source: str, margins: dict[str, float], *, bound: float, empirical: float, what: str,
              statistic: str, params: dict) -> Record:
    judgement = rules.identity(list(margins.values()), tolerance=0.0, what=what)
    return Record.judged(judgement, claim=claim, source=source, level="reported", reading=READING, bound=bound,
                         empirical=empirical, margin=min(margins.values()), statistic=statistic, n_seeds=3,
                         params={**params, "margins": margins},
                         note="The paper's reported means compared directly; it gives no error bars, so whether "
                              "the margins exceed seed noise is unknown.")


def reported_records() -> list[Record]:
    """The reported level of the Table 7, Table 8 and Table 5 (MAR) claims."""
    out = []
    t7 = reported_table7()
    acc7 = {r["metric"]: r["accuracy"] for r in t7["rows"]}
    for j, column in enumerate(t7["columns"]):
        best = acc7[PAPER_METRIC][j]
        margins = {m: best - acc7[m][j] for m in acc7 if m != PAPER_METRIC}
        rival = max(margins, key=lambda m: -margins[m])
        out.append(_reported(TABLE7, cell_source(TABLE7, t7["column_meaning"][column], analogue=False), margins,
                             bound=acc7[rival][j], empirical=best, what="A-MMD (mean) accuracy >= every other metric's",
                             statistic="accuracy (%): empirical = A-MMD mean, bound = the best other metric, "
                                       "margin = smallest A-MMD-mean-minus-other difference",
                             params={"column": column, "accuracy": {m: a[j] for m, a in acc7.items()},
                                     "baseline_gamma0": t7["baseline"]["accuracy"]}))
    t8 = reported_table8()
    cos = [r["accuracy"] for r in t8["rows"] if r["schedule"] == "cosine"][0]
    const = {f"gamma={r['gamma']:g}": r["accuracy"] for r in t8["rows"] if r["schedule"] == "constant"}
    margins = {k: cos - v for k, v in const.items()}
    out.append(_reported(TABLE8, cell_source(TABLE8, "cosine 0.1 -> 0.001 vs constant gamma", analogue=False), margins,
                         bound=max(const.values()), empirical=cos, what="cosine-schedule accuracy >= every constant gamma's",
                         statistic="accuracy (%): empirical = cosine schedule, bound = best constant gamma, "
                                   "margin = smallest cosine-minus-constant difference",
                         params={"accuracy": {**const, "cosine": cos}}))
    t5 = reported_table5()
    dist = {r["method"]: r["distance"] for r in t5["rows"]}
    for j, column in enumerate(t5["columns"]):
        out.append(_reported(TABLE5, cell_source(TABLE5, f"{column}, MAR vs MAE", analogue=False),
                             {"MAE - MAR": dist["MAE"][j] - dist["MAR"][j]},
                             bound=dist["MAE"][j], empirical=dist["MAR"][j],
                             what="MAR distance <= MAE distance",
                             statistic="distance between model weights: bound = MAE, empirical = MAR, margin = MAE - MAR",
                             params={"column": column, "values": {m: dist[m][j] for m in dist}}))
    return out


# ----------------------------------------------------------------------------- simulation records

def _judge_all(diffs: dict[str, np.ndarray]) -> rules.Judgement:
    """Every paired difference positive: each by ``rules.mean_difference`` at ``ALPHA / m``
    (Bonferroni); holds if all hold, fails if any fails. The CI is that of the least supported
    difference (smallest lower end); the p-value against the claim is the Bonferroni one,
    ``m`` times the smallest (so "fails" iff it is below ``ALPHA``, and the ledger's family
    correction sees one test), the power the smallest of the ``m`` tests' powers."""
    each = rules.ALPHA / len(diffs)
    judged = {name: rules.mean_difference(d, alpha=each) for name, d in diffs.items()}
    verdicts = [j.verdict for j in judged.values()]
    verdict = "fails" if "fails" in verdicts else "holds" if all(v == "holds" for v in verdicts) else "inconclusive"
    worst = min(judged, key=lambda n: judged[n].ci[0] if np.isfinite(judged[n].ci[0]) else -np.inf)
    rule = (f"two-sided {100 * (1 - each):.2f}% t-intervals (alpha {rules.ALPHA}/{len(diffs)}, Bonferroni) of the "
            f"mean paired differences: " + "; ".join(f"{n}: [{j.ci[0]:.4g}, {j.ci[1]:.4g}] -> {j.verdict}"
                                                      for n, j in judged.items()))
    ps = [j.p_value for j in judged.values() if j.p_value is not None]
    powers = [j.power for j in judged.values() if j.power is not None]
    p_value = min(1.0, len(diffs) * min(ps)) if len(ps) == len(diffs) else None
    return rules.Judgement(verdict, judged[worst].statistic, judged[worst].ci, p_value, rule,
                           power=min(powers) if len(powers) == len(diffs) else None)


def _record(exp: MARExperiment, claim: str, source: str, judgement: rules.Judgement, settings: list[Setting], *,
            bound: float, empirical: float, margin: float, statistic: str, params: dict, note: str) -> Record:
    n_div = sum(exp.diverged[s] for s in settings)
    fields, rule = diverged_fields(n_div, judgement)
    untrained = finite_mean(exp.untrained)
    return Record.judged(judgement, claim=claim, source=source, level="simulation", reading=READING, bound=bound,
                         empirical=empirical, margin=margin, statistic=statistic, n_seeds=exp.study.n_seeds,
                         params={**params, "untrained_accuracy": untrained, "diverged_runs": n_div,
                                 **exp.study.as_params()},
                         note=f"{note} Untrained encoder: {num(untrained)}. {rule}", **fields)


def fig2b_records(exp: MARExperiment) -> list[Record]:
    out = []
    for algorithm in study.ALGORITHMS:
        for alpha in exp.study.alphas:
            a_mim, a_mar = exp.accuracy[mim(algorithm, alpha)], exp.accuracy[mar(algorithm, alpha)]
            judgement = rules.mean_difference(a_mar - a_mim)
            out.append(_record(
                exp, FIG2B, cell_source(FIG2B, f"{algorithm}, Dirichlet alpha = {alpha:g}", analogue=True), judgement,
                [mim(algorithm, alpha), mar(algorithm, alpha)], bound=finite_mean(a_mim), empirical=finite_mean(a_mar),
                margin=finite_mean(a_mar - a_mim),
                statistic="probe accuracy (fraction): bound = mean MIM accuracy, empirical = mean MAR accuracy, "
                          "margin = mean of acc_MAR - acc_MIM over paired seeds",
                params={"algorithm": algorithm, "alpha": alpha, "heterogeneity": exp.heterogeneity[alpha],
                        "split_redraws": exp.redraws[alpha]},
                note=(f"Latent data model, {algorithm} ({'FedMAR' if algorithm == 'FL' else 'DecMAR'} vs "
                      f"{'FedAvg' if algorithm == 'FL' else 'D-PSGD'} MAE), linear probe on the global encoder. "
                      f"Accuracy MIM {num(finite_mean(a_mim))}, MAR {num(finite_mean(a_mar))}."),
            ))
    return out


def table7_records(exp: MARExperiment) -> list[Record]:
    out = []
    a = exp.study.table_alpha
    for g in exp.study.table7_gammas:
        best = exp.accuracy[constant(PAPER_METRIC, g, a)]
        rivals = [m for m in TABLE7_METRICS if m != PAPER_METRIC]
        diffs = {m: best - exp.accuracy[constant(m, g, a)] for m in rivals}
        means = {m: finite_mean(exp.accuracy[constant(m, g, a)]) for m in TABLE7_METRICS}
        out.append(_record(
            exp, TABLE7, cell_source(TABLE7, f"constant gamma = {g:g}, FL, alpha = {a:g}", analogue=True),
            _judge_all(diffs),
            [constant(m, g, a) for m in TABLE7_METRICS], bound=max(means[m] for m in rivals),
            empirical=means[PAPER_METRIC], margin=min(finite_mean(d) for d in diffs.values()),
            statistic="probe accuracy (fraction): empirical = A-MMD (mean bandwidth), bound = best other metric's "
                      "mean, margin = smallest mean paired difference",
            params={"gamma": g, "alpha": a, "mean_accuracy": means,
                    "mim_accuracy": finite_mean(exp.accuracy[mim("FL", a)])},
            note="Accuracy per metric: " + ", ".join(f"{m} {num(v)}" for m, v in means.items())
                 + f"; gamma = 0 (MIM) {num(finite_mean(exp.accuracy[mim('FL', a)]))}.",
        ))
    return out


def table8_records(exp: MARExperiment) -> list[Record]:
    a = exp.study.table_alpha
    cos = exp.accuracy[mar("FL", a)]
    diffs = {f"gamma={g:g}": cos - exp.accuracy[constant(PAPER_METRIC, g, a)] for g in exp.study.table8_gammas}
    means = {f"gamma={g:g}": finite_mean(exp.accuracy[constant(PAPER_METRIC, g, a)]) for g in exp.study.table8_gammas}
    return [_record(
        exp, TABLE8,
        cell_source(TABLE8, f"cosine {GAMMA_MAX:g} -> {GAMMA_MIN:g} vs constant gamma, FL, alpha = {a:g}",
                    analogue=True),
        _judge_all(diffs), [mar("FL", a)] + [constant(PAPER_METRIC, g, a) for g in exp.study.table8_gammas],
        bound=max(means.values()), empirical=finite_mean(cos), margin=min(finite_mean(d) for d in diffs.values()),
        statistic="probe accuracy (fraction): empirical = cosine schedule, bound = best constant gamma's mean, "
                  "margin = smallest mean paired difference",
        params={"alpha": a, "mean_accuracy": {**means, "cosine": finite_mean(cos)}},
        note="Accuracy: " + ", ".join(f"{k} {num(v)}" for k, v in means.items()) + f", cosine {num(finite_mean(cos))}.",
    )]


def table5_records(exp: MARExperiment) -> list[Record]:
    out = []
    a = exp.study.table_alpha
    for k, kind in enumerate(DISTANCES):
        d_mim, d_mar = exp.distances[mim("FL", a)][:, k], exp.distances[mar("FL", a)][:, k]
        out.append(_record(
            exp, TABLE5, cell_source(TABLE5, f"MAR vs MIM, FL, alpha = {a:g}, {kind}", analogue=True),
            rules.mean_difference(d_mim - d_mar),
            [mim("FL", a), mar("FL", a)], bound=finite_mean(d_mim), empirical=finite_mean(d_mar),
            margin=finite_mean(d_mim - d_mar),
            statistic=(f"{kind} summed layer-wise l2 distance of the final local encoders: bound = MIM mean, "
                       "empirical = MAR mean, margin = mean of MIM - MAR over paired seeds"),
            params={"alpha": a, "distance": kind},
            note=f"MIM and MAR share data, initialisation and keys. Distance MIM {num(finite_mean(d_mim))}, "
                 f"MAR {num(finite_mean(d_mar))}.",
        ))
    return out


__all__ = ["DISTANCES", "FIG2B", "READING", "TABLE5", "TABLE7", "TABLE8", "constant", "distance_table", "fig2b_records",
           "fig2b_table", "judge", "mar", "measure", "mim", "records", "reported_records", "reported_table7",
           "reported_table8", "table5_records", "table7_records", "table7_table", "table8_records", "table8_table"]
