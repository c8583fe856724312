"""The symbols shared by the claims and the one shape every bound of Thm 4.2/4.3 has.

Every representability lower bound of Theorems 4.2 and 4.3 (Lemma A.11) reads

    r_k >= 1 - noise / (signal * connectivity + noise),

with ``signal = a * d^{2/5}`` (``a = 2p(1-p)`` for MIM, ``1`` for CL with similar
augmentations, ``tr(H)`` for CL with dissimilar ones) and ``noise = C d^{-2/5}`` (MIM) or
``C d^{-1/5}`` (CL). The connectivity factor is ``1`` (local), ``1 - 1/|A|`` (DecL) and, for FL,
``signal - Theta(d^{7/20})`` with the Theta-term replaced by what it stands for in the proof,
``signal / N`` (Section 4), so each FL formula equals its DecL formula at ``|A| = N``.
The sensitivity the proofs use is ``s = 1 - (lower bound) = noise / denominator``.
"""

from __future__ import annotations

from typing import Literal

import sympy as sp

Family = Literal["mim", "cl-similar", "cl-dissimilar"]
Level = Literal["local", "decl", "fl"]
FAMILIES: tuple[str, ...] = ("mim", "cl-similar", "cl-dissimilar")
LEVELS: tuple[str, ...] = ("local", "decl", "fl")

# All symbols are positive so sympy can simplify d**(2/5) etc.; the tighter domains (p < 1,
# A_bar >= 2, ...) are hypotheses of the claims and are stated in DOMAINS.
d = sp.Symbol("d", positive=True)
p = sp.Symbol("p", positive=True)
N = sp.Symbol("N", positive=True)
A_bar = sp.Symbol("A_bar", positive=True)
C = sp.Symbol("C", positive=True)
C_M = sp.Symbol("C_M", positive=True)
C_C = sp.Symbol("C_C", positive=True)
tr_H = sp.Symbol("tr_H", positive=True)
r_k = sp.Symbol("r_k", real=True)
m = sp.Symbol("m", positive=True, integer=True)

#: The proofs' success probability: the concentration step gives ``1 - 1/2 e^{-d^{1/10}}`` per
#: client matrix; a model built from ``m`` client matrices holds by a union bound (Section 4).
STATED_PROBABILITY = 1 - m / 2 * sp.exp(-(d ** sp.Rational(1, 10)))

DOMAINS: dict[str, str] = {
    "d": "d > 0 (input dimension; the statements are asymptotic, d -> oo)",
    "p": "p in (0, 1) (mask ratio: probability that a mask entry is 0)",
    "N": "N >= 2 (number of clients)",
    "A_bar": "A_bar in [2, N] (average closed-neighbourhood size |A|, self included)",
    "C": "C > 0 (the hidden O()-constant; default 1)",
    "C_M": "C_M > 0 (hidden O()-constant of the MIM bound; default 1)",
    "C_C": "C_C > 0 (hidden O()-constant of the CL bound; default 1)",
    "tr_H": "tr_H > 0 (tr(P H_sym P) of the augmentation transform H, Assumption A.9)",
    "r_k": "r_k in [0, 1] (representability of a class coordinate k in [N] minus {i})",
    "m": "m >= 1 (client matrices the model is built from: the union bound's count)",
}

_HYPOTHESES: dict[str, tuple[sp.Basic, ...]] = {
    "d": (sp.Gt(d, 0),),
    "p": (sp.Gt(p, 0), sp.Lt(p, 1)),
    "N": (sp.Ge(N, 2),),
    "A_bar": (sp.Ge(A_bar, 2), sp.Le(A_bar, N)),
    "C": (sp.Gt(C, 0),),
    "C_M": (sp.Gt(C_M, 0),),
    "C_C": (sp.Gt(C_C, 0),),
    "tr_H": (sp.Gt(tr_H, 0),),
    "r_k": (sp.Ge(r_k, 0), sp.Le(r_k, 1)),
    "m": (sp.Ge(m, 1),),
}

_SYMBOLS = {s.name: s for s in (d, p, N, A_bar, C, C_M, C_C, tr_H, r_k, m)}
CONSTANTS: frozenset[str] = frozenset({"C", "C_M", "C_C"})


def symbol_table(*names: str) -> dict[str, sp.Symbol]:
    """The shared symbols called ``names`` (name -> Symbol)."""
    return {n: _SYMBOLS[n] for n in names}


def domain_table(*names: str) -> dict[str, str]:
    return {n: DOMAINS[n] for n in names}


def hypotheses_for(*names: str) -> tuple[sp.Basic, ...]:
    """The domain hypotheses of ``names`` as sympy relations, in the order given."""
    return tuple(h for n in names for h in _HYPOTHESES[n])


def constant_defaults(*names: str) -> dict[str, float]:
    """Default value 1 for every hidden constant among ``names`` (Section 4: unit constants)."""
    return {n: 1.0 for n in names if n in CONSTANTS}


def signal_coefficient(family: Family) -> sp.Expr:
    """``a`` in ``signal = a d^{2/5}``: 2p(1-p) (MIM), 1 (CL similar), tr(H) (CL dissimilar)."""
    return {"mim": 2 * p * (1 - p), "cl-similar": sp.Integer(1), "cl-dissimilar": tr_H}[_check(family, FAMILIES)]


def _check(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{value!r} must be one of {allowed}")
    return value


def sensitivity(family: Family, level: Level, *, sign: int = 1, constant: sp.Symbol = C) -> sp.Expr:
    """``s = noise / denominator`` = 1 - (representability lower bound), in the paper's form.

    ``sign`` is the sign of the noise term in the denominator; only the CL DecL bound has the
    choice (the statement prints ``+C d^{-1/5}``, the proof ``-C d^{-1/5}``, Section 4).
    """
    _check(level, LEVELS)
    if sign not in (1, -1):
        raise ValueError(f"sign={sign!r} must be +1 or -1")
    if sign == -1 and not (family != "mim" and level == "decl"):
        raise ValueError("sign=-1 exists only for the CL DecL bound (the proof of Thm 4.3)")
    signal = signal_coefficient(family) * d ** sp.Rational(2, 5)
    noise = constant * d ** (sp.Rational(-2, 5) if family == "mim" else sp.Rational(-1, 5))
    if level == "local":
        denominator = signal + noise
    elif level == "decl":
        denominator = signal * (1 - 1 / A_bar) + sign * noise
    else:  # FL: signal - Theta(d^{7/20}) + noise, the Theta-term being signal / N in the proof
        denominator = signal - signal / N + noise
    return noise / denominator


def stated_order(family: Family) -> sp.Expr:
    """Theorem 4.4's order of the sensitivity: ``s^M = Theta(d^{-4/5})``, ``s^C = Theta(d^{-3/5})``."""
    return d ** (sp.Rational(-4, 5) if _check(family, FAMILIES) == "mim" else sp.Rational(-3, 5))


def rv_lower_bound(family: Family, level: Level, *, sign: int = 1, constant: sp.Symbol = C) -> sp.Expr:
    """The paper's lower bound on the representability ``r_k`` of a class coordinate."""
    return 1 - sensitivity(family, level, sign=sign, constant=constant)


def free_names(family: Family, level: Level) -> tuple[str, ...]:
    """Names of the symbols the bound of (family, level) involves, besides the constant."""
    names = ["d"]
    if family == "mim":
        names.append("p")
    if family == "cl-dissimilar":
        names.append("tr_H")
    if level == "decl":
        names += ["A_bar", "N"]  # A_bar <= N is a hypothesis, so N belongs to the claim
    if level == "fl":
        names.append("N")
    return tuple(names)


def representability_claim(claim_id: str, source: str, family: Family, level: Level, *, note: str = ""):
    """The lower-bound `Claim` ``r_k >= rv_lower_bound(family, level)`` of Thm 4.2 / 4.3.

    The CL DecL claim gets a second bound, ``"proof"``, with the proof's ``-C d^{-1/5}``.
    """
    from theory.claims import Claim

    names = (*free_names(family, level), "C", "r_k", "m")
    bounds = {"statement": rv_lower_bound(family, level)}
    readings = ["mim" if family == "mim" else "cl", "sensitivity", "constants"]
    if level == "decl":
        readings.insert(1, "decl")
        if family != "mim":
            bounds["proof"] = rv_lower_bound(family, level, sign=-1)
            readings.append("variant")
    return Claim(
        id=claim_id,
        source=source,
        kind="lower-bound",
        symbols=symbol_table(*names),
        domains=domain_table(*names),
        hypotheses=hypotheses_for(*names),
        statement=sp.Ge(r_k, bounds["statement"]),
        readings=tuple(readings),
        bounds=bounds,
        terms={f"sensitivity_{k}": 1 - v for k, v in bounds.items()},
        defaults=constant_defaults(*names),
        note=note,
        family="mim" if family == "mim" else "cl",
        scope=level,
        variant=None if family == "mim" else family.split("-")[1],
        order=stated_order(family),
        probability=STATED_PROBABILITY,
    )
