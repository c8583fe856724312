"""Connectivity: Corollary 4.5, Theorem 4.6 and the Eq. 1 reading of DecL.

- ``cor4.5``: in DecL every sensitivity decreases as the average connectivity ``|A|`` grows,
  ``d s_Dec / d A_bar < 0`` (through the factor ``1 - 1/|A|``).
- ``thm4.6``: FL is no less robust, ``s_Dec >= s_Fed`` for ``|A| <= N``, with equality at
  ``|A| = N``.
- ``eq1-regular-equals-fl``: the minimiser of Eq. 1 uses ``sum_j pi_j X_j`` with
  ``pi_j = (1/N) sum_{i: j in A_i} 1/|A_i|``; on a regular graph (every ``|A_i| = a``, each
  ``j`` in exactly ``a`` neighbourhoods) ``pi_j = 1/N``, i.e. exactly FL.
  `stationary_weights` computes ``pi`` of any graph exactly.
"""

from __future__ import annotations

from typing import Sequence

import sympy as sp

from theory._forms import (
    A_bar,
    N,
    constant_defaults,
    domain_table,
    hypotheses_for,
    sensitivity,
    symbol_table,
)
from theory.claims import Claim

_SENSITIVITIES = (
    ("s_M", "mim", 1),
    ("s_C_similar", "cl-similar", 1),
    ("s_C_similar_proof", "cl-similar", -1),
    ("s_C_dissimilar", "cl-dissimilar", 1),
    ("s_C_dissimilar_proof", "cl-dissimilar", -1),
)
_NAMES = ("d", "p", "N", "A_bar", "tr_H", "C")


def _decl_terms() -> dict[str, sp.Expr]:
    return {name: sensitivity(family, "decl", sign=sign) for name, family, sign in _SENSITIVITIES}


def _dec_fed_terms() -> dict[str, sp.Expr]:
    terms = {}
    for name, family, sign in _SENSITIVITIES:
        if sign == 1:
            terms[f"{name}_decl"] = sensitivity(family, "decl")
            terms[f"{name}_fl"] = sensitivity(family, "fl")
    terms["s_C_similar_proof_decl"] = sensitivity("cl-similar", "decl", sign=-1)
    terms["s_C_dissimilar_proof_decl"] = sensitivity("cl-dissimilar", "decl", sign=-1)
    return terms


_DECL_TERMS = _decl_terms()
COR4_5 = Claim(
    id="cor4.5",
    source="Corollary 4.5",
    kind="monotone",
    symbols=symbol_table(*_NAMES),
    domains=domain_table(*_NAMES),
    hypotheses=hypotheses_for(*_NAMES),
    statement=sp.Lt(sp.Derivative(_DECL_TERMS["s_M"], A_bar), 0),
    readings=("mim", "cl", "decl", "sensitivity", "constants", "variant"),
    family="connectivity",
    scope="decl",
    terms=_DECL_TERMS,
    defaults=constant_defaults(*_NAMES),
    note=(
        "d s_Dec / d A_bar < 0: DecL sensitivities decrease with connectivity. The statement "
        "relation is the MIM one; terms hold every DecL sensitivity (CL with both signs)."
    ),
)

_DEC_FED_TERMS = _dec_fed_terms()
THM4_6 = Claim(
    id="thm4.6",
    source="Theorem 4.6",
    kind="comparison",
    symbols=symbol_table(*_NAMES),
    domains=domain_table(*_NAMES),
    hypotheses=hypotheses_for(*_NAMES),
    statement=sp.Ge(_DEC_FED_TERMS["s_M_decl"], _DEC_FED_TERMS["s_M_fl"]),
    readings=("mim", "cl", "decl", "sensitivity", "constants", "variant"),
    family="connectivity",
    terms=_DEC_FED_TERMS,
    defaults=constant_defaults(*_NAMES),
    note=(
        "s_Dec >= s_Fed for A_bar <= N, equality at A_bar = N. The statement relation is the MIM "
        "one; terms hold the DecL and FL sensitivities of every family."
    ),
)

# Eq. 1 on a regular graph: j lies in exactly `a` neighbourhoods, each of size `a`.
a = sp.Symbol("a", positive=True, integer=True)
_i = sp.Symbol("i", positive=True, integer=True)
PI_REGULAR = sp.Sum(1 / a, (_i, 1, a)) / N

EQ1_REGULAR_EQUALS_FL = Claim(
    id="eq1-regular-equals-fl",
    source="Eq. 1 minimiser on a regular graph (toolkit-added; reading 3)",
    kind="identity",
    symbols={"N": N, "a": a},
    domains={"N": "N >= 2 (number of clients)", "a": "a in [2, N] (common closed-neighbourhood size |A_i|)"},
    hypotheses=(sp.Ge(N, 2), sp.Ge(a, 2), sp.Le(a, N)),
    statement=sp.Eq(PI_REGULAR, 1 / N, evaluate=False),
    readings=("decl",),
    family="connectivity",
    scope="decl",
    terms={"pi_j": PI_REGULAR},
    note="pi_j = (1/N) sum over the a neighbourhoods containing j of 1/a = 1/N: Eq. 1 on a regular graph is FL.",
)


def stationary_weights(neighbourhoods: Sequence[Sequence[int]]) -> list[sp.Rational]:
    """Exact Eq. 1 weights ``pi_j = (1/N) sum_{i: j in A_i} 1/|A_i|``.

    ``neighbourhoods[i]`` is the closed neighbourhood ``A_i`` (client ``i`` included) as a
    sequence of client indices ``0..N-1``.
    """
    n = len(neighbourhoods)
    for i, nbhd in enumerate(neighbourhoods):
        if i not in nbhd:
            raise ValueError(f"neighbourhoods[{i}]={list(nbhd)} must contain {i} (closed neighbourhood)")
        if not all(0 <= j < n for j in nbhd):
            raise ValueError(f"neighbourhoods[{i}]={list(nbhd)} must hold indices in [0, {n})")
    return [
        sp.Rational(1, n) * sum((sp.Rational(1, len(set(nbhd))) for nbhd in neighbourhoods if j in nbhd), sp.Integer(0))
        for j in range(n)
    ]


CLAIMS = (COR4_5, THM4_6, EQ1_REGULAR_EQUALS_FL)
