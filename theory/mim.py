"""Masked image modelling: Theorem 4.2 and the exact mask average of the Eq. 4 objective.

Thm 4.2: for a class coordinate ``k in [N] minus {i}`` (with ``a = 2p(1-p)``)

    local  r_k >= 1 - C d^{-2/5} / (a d^{2/5} + C d^{-2/5})
    DecL   r_k >= 1 - C d^{-2/5} / (a (1 - 1/|A|) d^{2/5} + C d^{-2/5})
    FL     r_k >= 1 - C d^{-2/5} / (a d^{2/5} - a d^{2/5}/N + C d^{-2/5})

(``Theta(d^{7/20})`` of the FL statement replaced by ``a d^{2/5}/N``, Section 4).

``mim-alignment-zero-diagonal``: the paper's client matrix (Eq. 17) is ``2p(1-p) diag(S)``,
but averaging the Eq. 4 alignment objective over Bernoulli masks gives
``p(1-p) (S - diag S)``: ``E[m_k (1 - m_k)] = 0`` and ``E[m_k (1 - m_l)] = p(1-p)``. The claim
writes both expectations as explicit sums over the mask outcomes.
"""

from __future__ import annotations

import sympy as sp

from theory._forms import p, representability_claim
from theory.claims import Claim

_NOTE = (
    "Hidden O()-constant C (default 1); FL's Theta(d^{7/20}) replaced by 2p(1-p) d^{2/5}/N "
    "(Section 4). Holds with high probability as d -> oo under tau = d^{1/5}, mu = d^{-1/5}."
)

THM4_2_LOCAL = representability_claim("thm4.2-local", "Theorem 4.2 (local)", "mim", "local", note=_NOTE)
THM4_2_DECL = representability_claim("thm4.2-decl", "Theorem 4.2 (DecL)", "mim", "decl", note=_NOTE)
THM4_2_FL = representability_claim("thm4.2-fl", "Theorem 4.2 (FL)", "mim", "fl", note=_NOTE)

# m = 1 keeps an entry, m = 0 masks it; P(m = 0) = p.
m_k, m_l = sp.symbols("m_k m_l", integer=True, nonnegative=True)


def _pmf(m: sp.Symbol) -> sp.Expr:
    return p ** (1 - m) * (1 - p) ** m


def mask_expectation(f: sp.Expr) -> sp.Expr:
    """``E[f(m_k, m_l)]`` over independent masks, as an unevaluated sum over the 4 outcomes."""
    return sp.Sum(_pmf(m_k) * _pmf(m_l) * f, (m_k, 0, 1), (m_l, 0, 1))


MIM_ALIGNMENT_ZERO_DIAGONAL = Claim(
    id="mim-alignment-zero-diagonal",
    source="Eq. 4 averaged over masks (toolkit-added; Section 3.3 vs Eq. 17)",
    kind="identity",
    symbols={"p": p},
    domains={"p": "p in (0, 1) (mask ratio: probability that a mask entry is 0)"},
    hypotheses=(sp.Gt(p, 0), sp.Lt(p, 1)),
    statement=sp.Eq(mask_expectation(m_k * (1 - m_k)), 0, evaluate=False),
    readings=("mim",),
    family="mim",
    terms={
        "diagonal": mask_expectation(m_k * (1 - m_k)),
        "off_diagonal": mask_expectation(m_k * (1 - m_l)),
    },
    note=(
        "The mask-averaged Eq. 4 client matrix is p(1-p)(S - diag S): its diagonal is "
        "E[m_k(1-m_k)] = 0, its off-diagonal E[m_k(1-m_l)] (k != l) = p(1-p); the paper's Eq. 17 "
        "instead keeps only a diagonal 2p(1-p) diag(S)."
    ),
)

CLAIMS = (THM4_2_LOCAL, THM4_2_DECL, THM4_2_FL, MIM_ALIGNMENT_ZERO_DIAGONAL)
