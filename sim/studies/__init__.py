"""Measurement programs: each study has explicit sizes and ``*, key`` and returns arrays
(representabilities, sensitivities, accuracies) — the same arrays the ledger's verdicts are
judged on and the figures plot.

    linear        closed-form stationary points of every objective, client and FL level
    connectivity  DecL readings over graphs of growing connectivity, trained D-PSGD / FedAvg
    downstream    two-layer and linear MIM / CL encoders under label and feature skew
"""
