"""The paper's experimental claims (Section 5, its Tables and Fig. 2b) as `Claim` values.

Each is a comparison (or, for the toolkit-added ``sensitivity-predicts-accuracy``, a sign) of
quantities that an experiment measures: accuracy drops from IID (Table 1), distances between
model weights (Table 5), probe accuracies (Fig. 2b, Tables 7 and 8), a rank correlation.
The statement is a sympy relation over named symbols, one per measured quantity, so a judge
reads which side is which from the claim; the ledger's records of a claim say, in their
``source``, which table cell (``"Table 1 (CIFAR-10, CNN, feature non-IID)"``) or which analogue
(``"Table 1 analogue (...)"``) they come from, prefixed by the claim's ``source``.

    >>> from theory import get_claim
    >>> get_claim("table1-mim-drop-le-cl-drop").statement
    drop_M <= drop_C
"""

from __future__ import annotations

import sympy as sp

from theory.claims import Claim


def _comparison(claim_id: str, source: str, *, smaller: tuple[str, str], larger: tuple[str, str],
                readings: tuple[str, ...], scope: str | None, note: str) -> Claim:
    """The claim ``smaller <= larger``, each side given as (symbol name, its domain)."""
    names = dict((smaller, larger))
    symbols = {name: sp.Symbol(name, real=True) for name in names}
    return Claim(
        id=claim_id,
        source=source,
        kind="comparison",
        symbols=symbols,
        domains=names,
        hypotheses=(),
        statement=sp.Le(symbols[smaller[0]], symbols[larger[0]]),
        readings=readings,
        family="experiment",
        scope=scope,
        note=note,
    )


_DROP = "accuracy drop from IID under non-IID data, acc(IID) - acc(non-IID), of the {} model (real)"
_DISTANCE = "summed layer-wise l2 distance between the final local models (Table 5's measure) of {} (>= 0)"

TABLE1 = _comparison(
    "table1-mim-drop-le-cl-drop", "Table 1",
    smaller=("drop_M", _DROP.format("MIM (MAE)")), larger=("drop_C", _DROP.format("CL (SimSiam)")),
    readings=("mim", "cl"), scope="fl",
    note=("Section 5: under label or feature non-IID data, MIM (MAE) loses no more downstream accuracy than "
          "CL (SimSiam), per dataset, backbone and skew (the experimental face of Theorem 4.4)."),
)
TABLE5_MIM_CL = _comparison(
    "table5-mim-divergence-le-cl-divergence", "Table 5",
    smaller=("dist_M", _DISTANCE.format("MIM (MAE)")), larger=("dist_C", _DISTANCE.format("CL (SimSiam)")),
    readings=("mim", "cl"), scope="fl",
    note="Section 5: MIM's local models diverge less from each other (and from the global model) than CL's.",
)
_rho = sp.Symbol("rho", real=True)
SENSITIVITY_ACCURACY = Claim(
    id="sensitivity-predicts-accuracy",
    source="Definition 4.1 vs downstream accuracy (toolkit-added)",
    kind="monotone",
    symbols={"rho": _rho},
    domains={"rho": "rho in [-1, 1] (Spearman rank correlation of a global model's sensitivity and its "
                    "probe accuracy)"},
    hypotheses=(),
    statement=sp.Lt(_rho, 0),
    readings=("sensitivity",),
    family="experiment",
    note=("Toolkit-added: the paper's premise that a lower sensitivity (Definition 4.1) means a more robust "
          "model, read as: over trained models, accuracy decreases as sensitivity grows."),
)
FIG2B = _comparison(
    "fig2b-mar-ge-mim", "Fig. 2b",
    smaller=("acc_MIM", "probe accuracy of the MIM (MAE) global model (in [0, 1])"),
    larger=("acc_MAR", "probe accuracy of the MAR global model, Eq. 6 with Eq. 7's cosine schedule (in [0, 1])"),
    readings=("mim", "variant"), scope=None,
    note="Section 5: FedMAR and DecMAR reach at least plain MIM's accuracy at every Dirichlet alpha.",
)
TABLE7 = _comparison(
    "table7-ammd-mean-best", "Table 7",
    smaller=("acc_rival", "the best probe accuracy among the other alignment metrics of Table 7 (in [0, 1])"),
    larger=("acc_ammd_mean", "probe accuracy with A-MMD and the mean bandwidth (Eq. 6) (in [0, 1])"),
    readings=("mim", "variant"), scope="fl",
    note="Section 5 / Table 7: at a constant gamma, A-MMD with the mean bandwidth is the best alignment metric.",
)
TABLE8 = _comparison(
    "table8-cosine-best", "Table 8",
    smaller=("acc_constant", "the best probe accuracy among the constant gammas of Table 8 (in [0, 1])"),
    larger=("acc_cosine", "probe accuracy with Eq. 7's cosine schedule 0.1 -> 0.001 (in [0, 1])"),
    readings=("mim", "variant"), scope="fl",
    note="Section 5 / Table 8: the cosine schedule of gamma (Eq. 7) beats every constant gamma.",
)
TABLE5_MAR = _comparison(
    "table5-mar-divergence-le-mim", "Table 5",
    smaller=("dist_MAR", _DISTANCE.format("MAR")), larger=("dist_MIM", _DISTANCE.format("MIM (MAE)")),
    readings=("mim", "variant"), scope="fl",
    note="Section 5 / Table 5 (MAR rows): MAR's alignment term keeps local models closer than plain MIM's.",
)

CLAIMS = (TABLE1, TABLE5_MIM_CL, SENSITIVITY_ACCURACY, FIG2B, TABLE7, TABLE8, TABLE5_MAR)
