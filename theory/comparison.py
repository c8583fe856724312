"""Theorem 4.4: MIM is more robust than CL, ``s^C > s^M`` as ``d -> oo`` (DecL and FL).

The sensitivities are the proofs' ``s = 1 - (lower bound)`` of Thm 4.2 and Thm 4.3 with
separate hidden constants ``C_M`` (MIM) and ``C_C`` (CL), so the threshold ``d*`` above which
the ordering holds shows how it depends on both. The statement relation uses CL with similar
augmentations; ``terms`` also holds the dissimilar sensitivity and, for DecL, the proof-sign
variants, e.g. ``claim.lambdify(claim.terms["s_C_dissimilar"] - claim.terms["s_M"])``.
"""

from __future__ import annotations

import sympy as sp

from theory._forms import (
    C_C,
    C_M,
    constant_defaults,
    domain_table,
    hypotheses_for,
    sensitivity,
    symbol_table,
)
from theory.claims import Claim


def comparison_terms(level: str) -> dict[str, sp.Expr]:
    """The sensitivities Thm 4.4 compares at ``level`` ("decl" or "fl")."""
    terms = {"s_M": sensitivity("mim", level, constant=C_M)}
    for augmentation in ("similar", "dissimilar"):
        terms[f"s_C_{augmentation}"] = sensitivity(f"cl-{augmentation}", level, constant=C_C)
        if level == "decl":
            terms[f"s_C_{augmentation}_proof"] = sensitivity(f"cl-{augmentation}", level, sign=-1, constant=C_C)
    return terms


def _claim(level: str, source_level: str) -> Claim:
    names = ("d", "p", "tr_H", "C_M", "C_C") + {"local": (), "fl": ("N",), "decl": ("N", "A_bar")}[level]
    terms = comparison_terms(level)
    domains = domain_table(*names)
    domains["d"] = "d -> oo (asymptotic claim: holds for every d above a threshold d*)"
    return Claim(
        id=f"thm4.4-{level}",
        source=f"Theorem 4.4 ({source_level})",
        kind="comparison",
        symbols=symbol_table(*names),
        domains=domains,
        hypotheses=hypotheses_for(*names),
        statement=sp.Gt(terms["s_C_similar"], terms["s_M"]),
        readings=("mim", "cl", "decl", "sensitivity", "constants", "variant") if level == "decl" else
        ("mim", "cl", "sensitivity", "constants"),
        terms=terms,
        defaults=constant_defaults(*names),
        family="comparison",
        scope=level,
        note=(
            "s^C > s^M for d large, any p in (0, 1)"
            + (", A_bar in [2, N]" if level == "decl" else "")
            + (" (toolkit-added: the theorem compares DecL and FL; the local bounds of Theorems 4.2"
               " and 4.3 give the same comparison for one client's model)" if level == "local" else "")
            + ". Orders: s^M = Theta(d^{-4/5}), s^C = Theta(d^{-3/5}). The statement relation uses "
            "similar augmentations; terms['s_C_dissimilar'] is the dissimilar side (tr_H treated "
            "as a constant by the paper)."
        ),
    )


THM4_4_LOCAL = _claim("local", "local")
THM4_4_DECL = _claim("decl", "DecL")
THM4_4_FL = _claim("fl", "FL")
CLAIMS = (THM4_4_LOCAL, THM4_4_DECL, THM4_4_FL)
