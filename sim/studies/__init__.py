"""Measurement programs: each study has explicit sizes and ``*, key`` and returns arrays
(representabilities, sensitivities, accuracies) — the same arrays the ledger's verdicts are
judged on and the figures plot.

Modules (``from sim.studies import linear``; each has ``measure(sizes, *, key)``):

    linear        closed-form stationary points of every objective, client and FL level
    connectivity  DecL readings over graphs of growing connectivity, trained D-PSGD / FedAvg
    downstream    two-layer and linear MIM / CL encoders under label and feature skew
    mar           MAR (Eqs. 6-7): FedMAR / DecMAR on the latent data model
    heterogeneity the map of where label skew costs MIM / CL / MAR probe accuracy

Sizes and measurements others read:

    LinearStudy                                    the linear study's sizes
    ConnectivityStudy, Sweep, Consensus,           the DecL study's sizes, its measurement (one
    SENSITIVITIES, TOPOLOGY_KINDS                  sweep of graphs; the consensus-rule rows) and
                                                   its sensitivity variants and graph kinds
    DownstreamStudy, Experiment, METHODS, LOSS_OF, the downstream study's sizes, its measurement
    SKEWS, DISTANCES, PROBE_METHOD,                (one per data model), and its vocabularies
    sensitivity_accuracy
    MARStudy, MARExperiment, Setting, ALGORITHMS,  the MAR study's sizes, measurement, run
    TABLE7_METRICS, PAPER_METRIC                   settings and vocabularies
    HeterogeneityStudy, HeterogeneityMap, Regime,  the heterogeneity map's sizes, measurement, cells,
    MAP_METHODS, IID                               methods and IID split name
"""

from sim.studies import connectivity, downstream, heterogeneity, linear, mar
from sim.studies.connectivity import SENSITIVITIES, TOPOLOGY_KINDS, ConnectivityStudy, Consensus, Sweep
from sim.studies.downstream import (
    DISTANCES,
    LOSS_OF,
    METHODS,
    PROBE_METHOD,
    SKEWS,
    DownstreamStudy,
    Experiment,
    sensitivity_accuracy,
)
from sim.studies.heterogeneity import IID, MAP_METHODS, HeterogeneityMap, HeterogeneityStudy, Regime
from sim.studies.linear import LinearStudy
from sim.studies.mar import ALGORITHMS, PAPER_METRIC, TABLE7_METRICS, MARExperiment, MARStudy, Setting

__all__ = [
    # modules
    "linear", "connectivity", "downstream", "mar", "heterogeneity",
    # linear
    "LinearStudy",
    # connectivity
    "ConnectivityStudy", "Sweep", "Consensus", "SENSITIVITIES", "TOPOLOGY_KINDS",
    # downstream
    "DownstreamStudy", "Experiment", "METHODS", "LOSS_OF", "SKEWS", "DISTANCES", "PROBE_METHOD",
    "sensitivity_accuracy",
    # mar
    "MARStudy", "MARExperiment", "Setting", "ALGORITHMS", "TABLE7_METRICS", "PAPER_METRIC",
    # heterogeneity map
    "HeterogeneityStudy", "HeterogeneityMap", "Regime", "MAP_METHODS", "IID",
]
