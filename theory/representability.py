"""Representability (Definition 4.1) and the corrected finite-``d`` lower bound.

Def. 4.1: ``r_k = ||Pi_{row W}(e_k)||^2 = sum_{j<=c} (e_k^T v_j)^2`` for an orthonormal basis
``v_1..v_c`` of ``row(W)``; each ``r_k in [0, 1]`` and ``sum_k r_k = c``.

``corrected-rv`` (reading 2): the proofs bound ``sum_{j<=d} (e_k^T v_j)^2``, which is
identically 1. A valid replacement for the top-``c`` eigenspace of a symmetric ``X`` with
eigenvalues ``lam_1 >= ... >= lam_d``, ``lam_1 > lam_{c+1}``: from
``X_kk = sum_j lam_j (e_k^T v_j)^2 <= lam_1 r_k + lam_{c+1} (1 - r_k)``,

    r_k >= (X_kk - lam_{c+1}) / (lam_1 - lam_{c+1}),

which holds for every sample and is computed from the realised spectrum (``lam_c1`` stands
for ``lam_{c+1}``).
"""

from __future__ import annotations

import sympy as sp

from theory.claims import Claim

r = sp.IndexedBase("r", real=True)
k = sp.Symbol("k", positive=True, integer=True)
c = sp.Symbol("c", positive=True, integer=True)
d_dim = sp.Symbol("d", positive=True, integer=True)
r_k = sp.Symbol("r_k", real=True)

DEF4_1 = Claim(
    id="def4.1",
    source="Definition 4.1",
    kind="identity",
    symbols={"r": r.label, "k": k, "c": c, "d": d_dim},
    domains={
        "r": "r_k in [0, 1], k = 1..d (representability vector)",
        "k": "k in {1, ..., d} (coordinate)",
        "c": "c in {2N, ..., d} (encoder width)",
        "d": "d >= c (dimension)",
    },
    hypotheses=(sp.Ge(r[k], 0), sp.Le(r[k], 1), sp.Le(c, d_dim)),
    statement=sp.Eq(sp.Sum(r[k], (k, 1, d_dim)), c),
    readings=("sensitivity",),
    note="r_k = sum_{j<=c} (e_k^T v_j)^2 for an orthonormal basis v_1..v_c of row(W); no numeric form.",
)

X_kk, lam_1, lam_c1 = sp.symbols("X_kk lam_1 lam_c1", real=True)
CORRECTED_BOUND = (X_kk - lam_c1) / (lam_1 - lam_c1)

CORRECTED_RV = Claim(
    id="corrected-rv",
    source="reading 2 (toolkit-added replacement for the proofs' eigen step)",
    kind="lower-bound",
    symbols={"X_kk": X_kk, "lam_1": lam_1, "lam_c1": lam_c1, "r_k": r_k},
    domains={
        "X_kk": "X_kk real (diagonal entry k of the symmetric client matrix X)",
        "lam_1": "lam_1 real (largest eigenvalue of X)",
        "lam_c1": "lam_c1 < lam_1 ((c+1)-th largest eigenvalue of X)",
        "r_k": "r_k in [0, 1] (representability of coordinate k in the top-c eigenspace)",
    },
    hypotheses=(
        sp.Gt(lam_1, lam_c1),
        sp.Le(X_kk, lam_1 * r_k + lam_c1 * (1 - r_k)),
        sp.Ge(r_k, 0),
        sp.Le(r_k, 1),
    ),
    statement=sp.Ge(r_k, CORRECTED_BOUND),
    readings=("mim", "cl", "variant"),
    bounds={"statement": CORRECTED_BOUND},
    note="Holds for every sample (no probability, no asymptotics); vacuous when X_kk <= lam_c1.",
)

CLAIMS = (DEF4_1, CORRECTED_RV)
