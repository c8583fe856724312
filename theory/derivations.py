"""Symbolic facts about the claims, each derived by sympy (solve, factor, limit, diff).

`derivations()` returns one `Derivation` per fact: thresholds ``d*`` of Thm 4.4 and what the
proof's sign and a growing ``tr(H)`` do to them, signs of derivatives (Cor 4.5, the optimum
``p = 1/2``), equality cases and the ordering of Thm 4.6, orders in ``d``, the ranges of the
bounds, and the toolkit-added identities (corrected bound, zero diagonal, Eq. 1 weights).
Nothing here is typed in: each result is computed from the claims' expressions.

Working conventions: ``d = t^5`` with ``t > 0`` makes every power of ``d^{1/5}`` polynomial;
signs on a domain are decided by substituting positive parameters for the constraints
(``p = 1/(1+u)``, ``A_bar = 1 + w``, ``N = A_bar + v``, all ``u, w, v > 0``) and asking sympy
for the sign of each factor.

    >>> from theory import derivations
    >>> [x.value for x in derivations() if x.name == "thm4.4-decl threshold d* (similar)"]
    [134.84773662551...]
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Literal, Mapping

import sympy as sp

from theory._forms import A_bar, C, C_C, C_M, LEVELS, N, d, p, sensitivity, tr_H
from theory.claims import VERDICTS
from theory.connectivity import stationary_weights
from theory.readings import Reading, as_reading_mapping
from theory.registry import find_claim, get_claim

Verdict = Literal["holds", "holds-trivially", "fails", "inconclusive", "vacuous"]


@dataclasses.dataclass(frozen=True)
class Derivation:
    """One symbolic fact about a claim.

    Attributes:
      claim: id of the claim it is about (a key of ``CLAIMS``).
      name: unique, stable name, e.g. ``"thm4.4-decl threshold d* (similar)"``.
      statement: what is being checked, in words.
      result: the sympy object the derivation produced (threshold, limit, derivative, ...).
      verdict: ``"holds"``, ``"holds-trivially"``, ``"fails"`` or ``"inconclusive"``.
      value: a representative number (e.g. ``d*`` at ``p = 0.75`` with unit constants), or None.
      params: the parameters ``value`` was evaluated at.
      note: the symbolic result in words and formula.
      reading: the readings it was derived under, given as `Reading` values or as the mapping
        ``{axis: value}`` and stored as that mapping (e.g. ``{"cl": "dissimilar", "variant":
        "proof"}``); empty where no choice applies.
    """

    claim: str
    name: str
    statement: str
    result: sp.Basic
    verdict: Verdict
    value: float | None
    params: Mapping[str, Any]
    note: str
    reading: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"{self.name}: verdict={self.verdict!r} must be one of {VERDICTS}")
        try:
            object.__setattr__(self, "reading", as_reading_mapping(self.reading))
        except ValueError as err:
            raise ValueError(f"{self.name}: {err}") from None
        get_claim(self.claim)


t = sp.Symbol("t", positive=True)  # d = t**5
_u, _w, _v = sp.symbols("u w v", positive=True)
_UNIT = {C: 1, C_M: 1, C_C: 1}
_FAMILY_NAME = {"mim": "MIM", "cl-similar": "CL similar", "cl-dissimilar": "CL dissimilar"}
#: Where a representative value is evaluated (DecL connectivity 5 of 20 clients, Section 6).
REPRESENTATIVE: dict[sp.Symbol, sp.Expr] = {
    p: sp.Rational(3, 4), A_bar: sp.Integer(5), N: sp.Integer(20), tr_H: sp.Integer(2), d: sp.Integer(1000), **_UNIT
}


def _domain(*, fl_vs_decl: bool = False) -> dict[sp.Symbol, sp.Expr]:
    """Positive reparametrisation of p in (0,1), A_bar > 1 and N > 1 (or N > A_bar)."""
    return {p: 1 / (1 + _u), A_bar: 1 + _w, N: (1 + _w + _v) if fl_vs_decl else (1 + _v)}


def _in_t(expr: sp.Expr) -> sp.Expr:
    return sp.sympify(expr).subs(d, t**5)


def _to_d(expr: sp.Expr) -> sp.Expr:
    return sp.sympify(expr).subs(t, d ** sp.Rational(1, 5))


def _definite_sign(expr: sp.Expr) -> int | None:
    for candidate in (expr, sp.expand(expr)):
        if candidate.is_positive:
            return 1
        if candidate.is_negative:
            return -1
    return None


@dataclasses.dataclass(frozen=True)
class _Signs:
    """``expr = sign * (positive) * prod(open) / prod(singular)**even``, each factor in the
    original variables; ``open`` factors change sign on the domain, ``singular`` ones only
    vanish (they appear squared)."""

    sign: int
    open: tuple[sp.Expr, ...]
    singular: tuple[sp.Expr, ...]


def _signs(expr: sp.Expr, domain: Mapping[sp.Symbol, sp.Expr]) -> _Signs:
    sign, open_, singular = 1, [], []
    for factor in sp.Mul.make_args(sp.factor(sp.together(expr))):
        base, exponent = factor.as_base_exp()
        s = _definite_sign(sp.together(base.subs(domain)))
        if s is None:
            if exponent.is_integer and exponent.is_even:
                singular.append(base)
            elif exponent.is_integer and exponent.is_odd:
                open_.append(base)
            else:
                raise ValueError(f"cannot decide the sign of {factor}")
        elif s < 0 and exponent.is_integer and exponent.is_odd:
            sign = -sign
    return _Signs(sign, tuple(open_), tuple(singular))


def _num(expr: sp.Expr, at: Mapping[sp.Symbol, Any] = REPRESENTATIVE) -> float:
    return float(sp.N(sp.sympify(expr).subs(at)))


def _params(at: Mapping[sp.Symbol, Any], *extra: str) -> dict[str, float]:
    return {s.name: float(v) for s, v in at.items() if s.name in extra or s in _UNIT}


def _root_in_t(factor: sp.Expr) -> sp.Expr:
    """The one root of ``factor`` in ``t`` that is positive on the whole domain."""
    roots = [r for r in sp.solve(factor, t) if _definite_sign(sp.together(r.subs(_domain()))) == 1]
    if len(roots) != 1:
        raise ValueError(f"expected one positive root of {factor} in t, got {roots}")
    return roots[0]


# --------------------------------------------------------------------------- Thm 4.4


@functools.lru_cache(maxsize=None)
def _crossing(s_c: sp.Expr, s_m: sp.Expr) -> tuple[sp.Expr, int, _Signs]:
    """``s_c - s_m`` in ``t``: the one sign-changing factor's root ``d*`` and the sign of
    ``s_c - s_m`` above it (the factor is monotone in ``t``, so it crosses once)."""
    signs = _signs(_in_t(s_c - s_m), _domain())
    crossing = [f for f in signs.open if f.has(t)]
    if len(crossing) != 1 or signs.singular or len(signs.open) != 1:
        raise ValueError(f"s^C - s^M does not have a single sign-changing factor: {signs}")
    factor = crossing[0]
    slope = _definite_sign(sp.together(sp.diff(factor, t).subs(_domain())))
    if slope is None:
        raise ValueError(f"{factor} is not monotone in t on the domain")
    d_star = sp.simplify(_root_in_t(factor) ** 5)
    return d_star, signs.sign * slope, signs


def threshold(claim_id: str, augmentation: str) -> sp.Expr:
    """Theorem 4.4's ``d*``: the dimension above which the bounds give ``s^C > s^M`` (CL with
    ``augmentation``), solved by sympy from the claim's sensitivities.

    >>> threshold("thm4.4-fl", "similar")
    -C_M**5/(32*C_C**5*p**5*(p - 1)**5)
    """
    claim = get_claim(claim_id)
    if claim.family != "comparison" or augmentation not in ("similar", "dissimilar"):
        raise ValueError(f"threshold needs a Theorem 4.4 claim and augmentation 'similar' or 'dissimilar', "
                         f"got {claim_id!r}, {augmentation!r}")
    return _crossing(claim.terms[f"s_C_{augmentation}"], claim.terms["s_M"])[0]


def _threshold(level: str, augmentation: str) -> Derivation:
    claim = get_claim(f"thm4.4-{level}")
    s_c, s_m = claim.terms[f"s_C_{augmentation}"], claim.terms["s_M"]
    d_star, above, signs = _crossing(s_c, s_m)
    trace = tr_H if augmentation == "dissimilar" else 1
    base = C_M * trace / (2 * C_C * p * (1 - p))  # the form Section 4 quotes, checked below
    shown = f"({base})**5" if sp.simplify(d_star - base**5) == 0 else str(d_star)
    at = {p: sp.Rational(3, 4), tr_H: 2, **_UNIT} if augmentation == "dissimilar" else {p: sp.Rational(3, 4), **_UNIT}
    value = _num(d_star, at)
    at_half = _num(d_star, {**at, p: sp.Rational(1, 2)})
    connectivity = [s.name for s in (A_bar, N) if d_star.has(s)]
    return Derivation(
        claim=claim.id,
        name=f"thm4.4-{level} threshold d* ({augmentation})",
        statement=f"s^C ({augmentation}) > s^M for every d above a threshold d*, at any p in (0, 1)",
        result=d_star,
        verdict="holds" if above > 0 else "fails",
        value=value,
        params=_params(at, "p", "tr_H"),
        note=(
            f"s^C - s^M has the single sign-changing factor {signs.open[0]} (d = t^5), so "
            f"s^C {'>' if above > 0 else '<'} s^M iff d > d* = {shown}; with unit constants "
            f"d* = {value:.6g} at p = 0.75, {at_half:.6g} at p = 0.5"
            + (", tr_H = 2" if augmentation == "dissimilar" else "")
            + (f". d* depends on {connectivity}." if connectivity else ". d* does not involve A_bar or N.")
        ),
        reading=(Reading("cl", augmentation), *((Reading("variant", "statement"),) if level == "decl" else ())),
    )


def _threshold_connectivity_free() -> Derivation:
    claim = get_claim("thm4.4-decl")
    d_stars = [_crossing(claim.terms[f"s_C_{a}"], claim.terms["s_M"])[0] for a in ("similar", "dissimilar")]
    derivatives = sp.Tuple(*(sp.simplify(sp.diff(x, A_bar)) for x in d_stars))
    free = all(x == 0 for x in derivatives)
    return Derivation(
        claim=claim.id,
        name="thm4.4-decl d* independent of A_bar",
        statement="with the printed +C d^{-1/5}, the DecL threshold d* does not depend on the connectivity A_bar",
        result=derivatives,
        verdict="holds" if free else "fails",
        value=None,
        params={},
        note=f"d d*/d A_bar = {tuple(derivatives)} for (similar, dissimilar): the factor 1 - 1/A_bar cancels.",
        reading=(Reading("variant", "statement"),),
    )


def _proof_sign(augmentation: str) -> Derivation:
    """The proof's -C d^{-1/5}: s^C grows, the bound is valid only above a d, d* moves."""
    claim = get_claim("thm4.4-decl")
    s_c, s_m = claim.terms[f"s_C_{augmentation}_proof"], claim.terms["s_M"]
    s_c_statement = claim.terms[f"s_C_{augmentation}"]
    signs = _signs(_in_t(s_c - s_m), _domain())
    numerator = sp.expand(signs.sign * sp.Mul(*(f for f in signs.open if sp.degree(f, t) > 3)))
    validity = [f for f in signs.open if sp.degree(f, t) == 3]
    if len(validity) != 1 or not numerator.has(t):
        raise ValueError(f"unexpected sign structure of the proof-sign comparison: {signs}")
    d_valid = sp.simplify(_root_in_t(validity[0]) ** 5)
    gap = _signs(_in_t(s_c - s_c_statement), _domain())
    above_statement = gap.sign == 1 and gap.open == tuple(validity) and not gap.singular
    trace = 2 if augmentation == "dissimilar" else 1
    values = {}
    for connectivity in (2, 20):
        at = {p: sp.Rational(3, 4), A_bar: connectivity, N: 20, tr_H: trace, **_UNIT}
        t_valid = _num(_root_in_t(validity[0]), at)
        roots = [float(x) for x in sp.Poly(numerator.subs(at), t).real_roots() if x > 0]
        values[connectivity] = max([t_valid, *roots]) ** 5
    statement_d_star = _num(_crossing(s_c_statement, s_m)[0], {p: sp.Rational(3, 4), tr_H: trace, **_UNIT})
    return Derivation(
        claim=claim.id,
        name=f"thm4.4-decl proof sign -C d^(-1/5) ({augmentation})",
        statement=f"with the proof's -C d^{{-1/5}} in the CL DecL denominator, s^C ({augmentation}) > s^M still holds for large d",
        result=sp.Tuple(_to_d(numerator), d_valid),
        verdict="holds" if above_statement else "inconclusive",
        value=values[2],
        params={"p": 0.75, "A_bar": 2.0, "N": 20.0, "tr_H": float(trace), "C_M": 1.0, "C_C": 1.0},
        note=(
            f"The CL bound exists only for d > {d_valid} (where its denominator {validity[0]} (d = t^5) is "
            + (
                "positive); s^C_proof - s^C_statement has the sign of that denominator, so there s^C_proof > "
                "s^C_statement and the ordering holds at least from the statement's d* on. "
                if above_statement
                else f"positive); s^C_proof - s^C_statement has the sign structure {gap}. "
            )
            + f"s^C - s^M has the sign of the quartic {sp.collect(numerator, t)} in t, whose roots depend on "
            f"A_bar: with unit constants, p = 0.75, tr_H = {trace}, s^C > s^M for every d > {values[2]:.6g} at "
            f"A_bar = 2 and d > {values[20]:.6g} at A_bar = N = 20, against d* = {statement_d_star:.6g} (independent "
            f"of A_bar) for the printed +C d^{{-1/5}}."
        ),
        reading=(Reading("cl", augmentation), Reading("variant", "proof")),
    )


def _growing_trace(level: str) -> Derivation:
    claim = get_claim(f"thm4.4-{level}")
    s_c, s_m = claim.terms["s_C_dissimilar"].subs(tr_H, d), claim.terms["s_M"]
    d_rev, above, _ = _crossing(s_c, s_m)
    limit = sp.limit(sp.together(_in_t(s_c / s_m)), t, sp.oo)
    at = {**REPRESENTATIVE, d: sp.Integer(10) ** 4}
    ratio = _num(s_c / s_m, at)
    d_rev_unit = _num(d_rev, at)
    holds = above > 0 and limit.is_positive
    return Derivation(
        claim=claim.id,
        name=f"thm4.4-{level} reversal with tr_H = d (H = I_d, dissimilar)",
        statement="s^C (dissimilar) > s^M as d -> oo when tr(H) grows like d (H = I_d)",
        result=limit,
        verdict="holds" if holds else "fails",
        value=ratio,
        params={"d": 1e4, "p": 0.75, "N": 20.0, "C_M": 1.0, "C_C": 1.0, **({"A_bar": 5.0} if level == "decl" else {})},
        note=(
            f"With tr_H = d: lim_(d->oo) s^C/s^M = {limit}, and s^C > s^M iff "
            f"d {'>' if above > 0 else '<'} {d_rev} (= {d_rev_unit:.4g} with unit constants at p = 0.75)"
            + ("" if above > 0 else ", so the ordering is reversed for every d above it")
            + f". Counterexample: d = 1e4, p = 0.75, N = 20"
            + (", A_bar = 5" if level == "decl" else "")
            + f", unit constants: s^C/s^M = {ratio:.4g} < 1. The paper treats tr(H) as a constant."
        ),
        reading=(Reading("cl", "dissimilar"),),
    )


def _constant_trace(level: str) -> Derivation:
    claim = get_claim(f"thm4.4-{level}")
    ratios = {a: claim.terms[f"s_C_{a}"] / claim.terms["s_M"] for a in ("similar", "dissimilar")}
    limits = sp.Tuple(*(sp.limit(sp.together(_in_t(r).subs(_domain())), t, sp.oo) for r in ratios.values()))
    return Derivation(
        claim=claim.id,
        name=f"thm4.4-{level} limit s^C/s^M with constant tr_H",
        statement="s^C / s^M -> oo as d -> oo (similar, and dissimilar with constant tr(H))",
        result=limits,
        verdict="holds" if all(x == sp.oo for x in limits) else "fails",
        value=None,
        params={},
        note=f"lim_(d->oo) s^C/s^M = {tuple(limits)} for (similar, dissimilar): s^C = Theta(d^(-3/5)) dominates s^M = Theta(d^(-4/5)).",
    )


# --------------------------------------------------------------------------- orders, p


def _order(family: str, level: str) -> Derivation:
    claim = find_claim(family="mim" if family == "mim" else "cl", scope=level,
                       variant=None if family == "mim" else family.split("-")[1])
    a = claim.order_exponent()  # s = Theta(d^a), as the claim states it
    s = sensitivity(family, level)
    limit = sp.simplify(sp.limit(sp.together(_in_t(s) * t ** (-5 * a)), t, sp.oo))
    finite = not limit.has(sp.oo, -sp.oo, sp.zoo, sp.nan)
    positive = _definite_sign(sp.together(limit.subs(_domain()))) == 1
    return Derivation(
        claim=claim.id,
        name=f"{claim.id} order s = Theta(d^({a}))",
        statement=f"{_FAMILY_NAME[family]} {level} sensitivity s = 1 - bound is Theta(d^({a}))",
        result=limit,
        verdict="holds" if finite and positive else "fails",
        value=_num(limit),
        params=_params(REPRESENTATIVE, "p", "A_bar", "N", "tr_H"),
        note=f"lim_(d->oo) s * d^({-a}) = {limit}, finite and positive on the domain.",
        reading=_cl_reading(family),
    )


def _cl_reading(family: str) -> tuple[Reading, ...]:
    """The ``cl`` reading of a sensitivity family (``"mim"``, ``"cl-similar"``, ``"cl-dissimilar"``)."""
    return () if family == "mim" else (Reading("cl", family.removeprefix("cl-")),)


def _p_symmetry(level: str) -> Derivation:
    s = sensitivity("mim", level)
    difference = sp.simplify(s.subs(p, 1 - p) - s)
    return Derivation(
        claim=f"thm4.2-{level}",
        name=f"thm4.2-{level} symmetry p <-> 1-p",
        statement="the MIM bound depends on p only through 2p(1-p): s(p) = s(1-p)",
        result=difference,
        verdict="holds" if difference == 0 else "fails",
        value=float(difference) if difference.is_number else None,
        params={},
        note=f"s(1-p) - s(p) simplifies to {difference}.",
    )


def _p_optimum(level: str) -> Derivation:
    s = _in_t(sensitivity("mim", level))
    first = sp.together(sp.diff(s, p))
    stationary = sorted(set(sp.solve(sp.numer(first), p)))
    second = sp.together(sp.diff(s, p, 2).subs(p, sp.Rational(1, 2)))
    curvature = _definite_sign(sp.together(second.subs(_domain())))
    holds = stationary == [sp.Rational(1, 2)] and curvature == 1
    return Derivation(
        claim=f"thm4.2-{level}",
        name=f"thm4.2-{level} optimum at p = 1/2",
        statement="the MIM sensitivity is smallest (the bound best) at mask ratio p = 1/2",
        result=sp.Tuple(*stationary),
        verdict="holds" if holds else "fails",
        value=float(stationary[0]) if len(stationary) == 1 else None,
        params={},
        note=(
            f"ds/dp = 0 only at p in {stationary}; d^2s/dp^2 at p = 1/2 is {_to_d(second)} "
            f"({'positive' if curvature == 1 else 'not positive'} on the domain): a minimum of s."
        ),
    )


# --------------------------------------------------------------------------- Cor 4.5, Thm 4.6


def _connectivity_sign(term: str) -> Derivation:
    claim = get_claim("cor4.5")
    s = claim.terms[term]
    derivative = sp.diff(s, A_bar)
    signs = _signs(_in_t(derivative), _domain())
    proof = term.endswith("_proof")
    holds = signs.sign == -1 and not signs.open
    family = "MIM" if term == "s_M" else f"CL {term.split('_')[2]}"
    note = f"d s_Dec / d A_bar = {sp.factor(derivative)}: negative for every p in (0, 1), d > 0, A_bar > 1"
    if signs.singular:
        poles = [_to_d(_root_in_t(f) ** 5) for f in signs.singular]
        note = (
            f"d s_Dec / d A_bar = {sp.factor(derivative)}: negative wherever it is defined; it has a pole where "
            f"the bound's denominator (1 - 1/A_bar) a d^(2/5) - C d^(-1/5) (a = 1 or tr_H) vanishes, at d = {poles[0]} "
            f"({_num(poles[0], {A_bar: 2, tr_H: 1, C: 1}):.4g} at A_bar = 2, tr_H = C = 1). Below it the "
            f"bound's denominator is non-positive and the bound is no bound (the 'bound in [0, 1] (proof)' "
            f"derivations give where it lies in [0, 1])"
        )
    return Derivation(
        claim=claim.id,
        name=f"cor4.5 d s_Dec/d A_bar < 0 ({family}{', proof sign' if proof else ''})",
        statement=f"{family} DecL sensitivity{' (proof sign)' if proof else ''} decreases as A_bar grows",
        result=sp.factor(derivative),
        verdict="holds" if holds else "fails",
        value=_num(derivative),
        params=_params(REPRESENTATIVE, "p", "A_bar", "tr_H", "d"),
        note=note + ".",
        reading=() if term == "s_M" else
        (Reading("cl", term.split("_")[2]), Reading("variant", "proof" if proof else "statement")),
    )


def _fl_equals_decl(family: str) -> Derivation:
    difference = sp.simplify(sensitivity(family, "fl") - sensitivity(family, "decl").subs(A_bar, N))
    return Derivation(
        claim="thm4.6",
        name=f"thm4.6 FL = DecL at A_bar = N ({_FAMILY_NAME[family]})",
        statement="the FL formula equals the DecL formula at A_bar = N",
        result=difference,
        verdict="holds" if difference == 0 else "fails",
        value=float(difference) if difference.is_number else None,
        params={},
        note=f"s_Fed - s_Dec|_(A_bar=N) simplifies to {difference}.",
        reading=_cl_reading(family),
    )


def _dec_above_fed(family: str) -> Derivation:
    difference = sensitivity(family, "decl") - sensitivity(family, "fl")
    signs = _signs(_in_t(difference), _domain(fl_vs_decl=True))
    holds = signs.sign == 1 and not signs.open and not signs.singular
    return Derivation(
        claim="thm4.6",
        name=f"thm4.6 s_Dec >= s_Fed ({_FAMILY_NAME[family]})",
        statement="s_Dec > s_Fed for A_bar < N (and = at A_bar = N)",
        result=sp.factor(difference),
        verdict="holds" if holds else "fails",
        value=_num(difference),
        params=_params(REPRESENTATIVE, "p", "A_bar", "N", "tr_H", "d"),
        note=(
            f"s_Dec - s_Fed = {sp.factor(difference)}: positive for every p in (0, 1), d > 0 and "
            f"1 < A_bar < N (the sign-deciding factor is N - A_bar)."
        ),
        reading=_cl_reading(family),
    )


# --------------------------------------------------------------------------- ranges


def _bound_reading(claim_id: str, variant: str) -> tuple[Reading, ...]:
    """A Theorem 4.3 bound's readings: its augmentation and, where it has two, which bound."""
    claim = get_claim(claim_id)
    if claim.family != "cl":
        return ()
    which = (Reading("variant", variant),) if len(claim.bounds) > 1 else ()
    return (Reading("cl", claim.variant), *which)


#: Where the edges of the proof-sign bounds' validity are evaluated (the worst connectivity).
_EDGE = {A_bar: sp.Integer(2), tr_H: sp.Integer(2), **_UNIT}


def _range(claim_id: str, variant: str) -> Derivation:
    claim = get_claim(claim_id)
    bound = claim.bounds[variant]
    lower, upper = _signs(_in_t(bound), _domain()), _signs(_in_t(1 - bound), _domain())
    inside = lower.sign == 1 == upper.sign and not (lower.open or upper.open or lower.singular or upper.singular)
    name = f"{claim_id} bound in [0, 1]" + (f" ({variant})" if variant != "statement" else "")
    if inside:
        return Derivation(
            claim=claim_id,
            name=name,
            statement="the lower bound on r_k lies in [0, 1] on the whole domain",
            result=sp.factor(_to_d(_in_t(bound))),
            verdict="holds",
            value=_num(bound),
            params=_params(REPRESENTATIVE, *(s.name for s in bound.free_symbols)),
            note=f"bound = {sp.factor(_in_t(bound))} (d = t^5) and 1 - bound are positive on the domain, so 0 < bound < 1.",
            reading=_bound_reading(claim_id, variant),
        )
    edges = sorted({_to_d(_root_in_t(f) ** 5) for f in (*lower.open, *upper.open)}, key=lambda e: _num(e, _EDGE))
    pole, zero = edges
    return Derivation(
        claim=claim_id,
        name=name,
        statement="the lower bound on r_k lies in [0, 1] on the whole domain",
        result=sp.Tuple(pole, zero),
        verdict="fails",
        value=_num(zero, _EDGE),
        params=_params(_EDGE, "A_bar", "tr_H"),
        note=(
            f"With the proof's -C d^(-1/5): the bound exceeds 1 for d < {pole} (non-positive denominator), is "
            f"negative for {pole} < d < {zero}, and lies in [0, 1] only for d >= {zero} (= "
            f"{_num(zero, _EDGE):.4g} at A_bar = 2, C = 1{', tr_H = 2' if zero.has(tr_H) else ''}). "
            f"The asymptotic statement is unaffected."
        ),
        reading=_bound_reading(claim_id, variant),
    )


# --------------------------------------------------------------------------- toolkit-added


def _corrected_bound() -> Derivation:
    claim = get_claim("corrected-rv")
    s = claim.symbols
    gap = sp.Symbol("gap", positive=True)  # lam_1 - lam_c1 > 0
    hypothesis = claim.hypotheses[1].subs(s["lam_1"], s["lam_c1"] + gap)
    solution = sp.solve(hypothesis, s["r_k"])
    lower = solution.rhs if solution.lhs == s["r_k"] else solution.lhs
    derived = sp.simplify(lower.subs(gap, s["lam_1"] - s["lam_c1"]))
    same = sp.simplify(derived - claim.bounds["statement"]) == 0
    return Derivation(
        claim=claim.id,
        name="corrected-rv lower bound from the Rayleigh quotient",
        statement="X_kk <= lam_1 r_k + lam_c1 (1 - r_k) with lam_1 > lam_c1 implies r_k >= (X_kk - lam_c1)/(lam_1 - lam_c1)",
        result=sp.Ge(s["r_k"], derived),
        verdict="holds" if same and isinstance(solution, sp.GreaterThan) else "fails",
        value=None,
        params={},
        note=f"sympy solve of the linear inequality in r_k gives {solution} with gap = lam_1 - lam_c1 > 0, i.e. r_k >= {derived}.",
    )


def _rotation() -> tuple[sp.Matrix, sp.Expr]:
    """Every rotation of R^3 as ``M / n`` (Euler-Rodrigues, quaternion a, b, c, e)."""
    a, b, c, e = sp.symbols("a b c e", real=True)
    n = a**2 + b**2 + c**2 + e**2
    m = sp.Matrix(
        [
            [a**2 + b**2 - c**2 - e**2, 2 * (b * c - a * e), 2 * (b * e + a * c)],
            [2 * (b * c + a * e), a**2 - b**2 + c**2 - e**2, 2 * (c * e - a * b)],
            [2 * (b * e - a * c), 2 * (c * e + a * b), a**2 - b**2 - c**2 + e**2],
        ]
    )
    return m, n


def _vacuous_step() -> Derivation:
    m, n = _rotation()
    orthogonal = (m * m.T - n**2 * sp.eye(3)).applyfunc(sp.expand) == sp.zeros(3, 3)
    full = sp.Tuple(*(sp.cancel(sum(m[k, j] ** 2 for j in range(3)) / n**2) for k in range(3)))
    return Derivation(
        claim="corrected-rv",
        name="corrected-rv paper's eigen step is vacuous",
        statement="the proofs bound sum_{j<=d} (e_k^T v_j)^2, which is identically 1 for an orthonormal basis of R^d",
        result=full,
        verdict="holds-trivially" if orthogonal and all(x == 1 for x in full) else "fails",
        value=1.0,
        params={"d": 3.0},
        note=(
            f"For every rotation V of R^3 (quaternion parametrisation, V V^T = I verified), "
            f"sum_(j<=3) V_kj^2 = {tuple(full)} for k = 1, 2, 3: the bounded quantity is the constant 1 and "
            "says nothing about r_k = sum_(j<=c) (e_k^T v_j)^2; the corrected bound replaces the step."
        ),
    )


def _representability_sum() -> Derivation:
    m, n = _rotation()
    c = 2
    # r_k n^2 is a sum of squares; 1 - r_k = V_k3^2 must follow from orthogonality.
    squares = [sum(m[k, j] ** 2 for j in range(c)) for k in range(3)]
    total = sp.cancel(sum(squares) / n**2)
    complement_is_square = all(sp.cancel(1 - x / n**2 - m[k, c] ** 2 / n**2) == 0 for k, x in enumerate(squares))
    in_range = complement_is_square and all(x.is_nonnegative for x in squares)
    return Derivation(
        claim="def4.1",
        name="def4.1 sum_k r_k = c and r_k in [0, 1]",
        statement="for an orthonormal basis of a c-dim subspace, r_k in [0, 1] and sum_k r_k = c",
        result=total,
        verdict="holds" if total == c and in_range else "fails",
        value=float(total),
        params={"d": 3.0, "c": float(c)},
        note=(
            f"Span of the first c = 2 columns of every rotation of R^3: sum_k r_k simplifies to {total}, each r_k "
            "and 1 - r_k (= the squared third-column entry) are sums of squares over n^2, so r_k in [0, 1]."
        ),
    )


def _zero_diagonal() -> list[Derivation]:
    claim = get_claim("mim-alignment-zero-diagonal")
    out = []
    for term, words, expected in (
        ("diagonal", "E[m_k (1 - m_k)] = 0", sp.Integer(0)),
        ("off_diagonal", "E[m_k (1 - m_l)] = p(1-p) for k != l", p * (1 - p)),
    ):
        summed = sp.factor(claim.terms[term].doit())
        out.append(
            Derivation(
                claim=claim.id,
                name=f"mim-alignment-zero-diagonal {term.replace('_', '-')} {words}",
                statement=f"over Bernoulli masks (m = 0 w.p. p): {words}",
                result=summed,
                verdict="holds" if sp.simplify(summed - expected) == 0 else "fails",
                value=_num(summed, {p: sp.Rational(3, 4)}),
                params={"p": 0.75},
                note=(
                    f"Summing over the 4 mask outcomes: {words.split(' = ')[0]} = {summed}. The exact mask "
                    "average of Eq. 4 is p(1-p)(S - diag S), not the paper's 2p(1-p) diag(S)."
                ),
                reading=(Reading("mim", "alignment-exact"),),
            )
        )
    return out


def _eq1_regular() -> Derivation:
    claim = get_claim("eq1-regular-equals-fl")
    difference = sp.simplify(claim.expression())
    cycle = [[(i - 1) % 4, i, (i + 1) % 4] for i in range(4)]
    pi = stationary_weights(cycle)
    uniform = all(x == sp.Rational(1, 4) for x in pi)
    return Derivation(
        claim=claim.id,
        name="eq1-regular-equals-fl pi_j = 1/N on a regular graph",
        statement="on a regular graph the Eq. 1 weights pi_j = (1/N) sum_{i: j in A_i} 1/|A_i| are all 1/N",
        result=difference,
        verdict="holds" if difference == 0 and uniform else "fails",
        value=float(pi[0]),
        params={"N": 4.0, "a": 3.0},
        note=(
            f"pi_j - 1/N = {claim.terms['pi_j']} - 1/N simplifies to {difference}; the 4-cycle "
            f"(|A_i| = 3) gives pi = {pi}."
        ),
        reading=(Reading("decl", "objective-eq1"),),
    )


def _eq1_path() -> Derivation:
    path = [[0, 1], [0, 1, 2], [1, 2]]
    pi = stationary_weights(path)
    deviation = max(abs(x - sp.Rational(1, 3)) for x in pi)
    return Derivation(
        claim="eq1-regular-equals-fl",
        name="eq1-regular-equals-fl non-regular path differs from FL",
        statement="on a non-regular graph (path on 3 nodes) the Eq. 1 weights are not uniform",
        result=sp.Tuple(*pi),
        verdict="holds" if deviation > 0 and sum(pi) == 1 else "fails",
        value=float(deviation),
        params={"N": 3.0},
        note=(
            f"Path 0-1-2 (|A| = 2, 3, 2): pi = {pi}, sum 1, max |pi_j - 1/3| = {deviation}: Eq. 1 then "
            "weights the middle client more, so it is not FL."
        ),
        reading=(Reading("decl", "objective-eq1"),),
    )


# --------------------------------------------------------------------------- all


@functools.lru_cache(maxsize=1)
def _all() -> tuple[Derivation, ...]:
    out: list[Derivation] = []
    for level in ("decl", "fl"):
        out += [_threshold(level, "similar"), _threshold(level, "dissimilar")]
    out.append(_threshold_connectivity_free())
    out += [_proof_sign("similar"), _proof_sign("dissimilar")]
    for level in ("decl", "fl"):
        out += [_growing_trace(level), _constant_trace(level)]
    out += [_connectivity_sign(term) for term in get_claim("cor4.5").terms]
    for family in ("mim", "cl-similar", "cl-dissimilar"):
        out += [_fl_equals_decl(family), _dec_above_fed(family)]
    out += [_order(family, level) for family in ("mim", "cl-similar", "cl-dissimilar") for level in LEVELS]
    for level in LEVELS:
        out += [_p_symmetry(level), _p_optimum(level)]
    for claim_id in (
        *(f"thm4.2-{level}" for level in LEVELS),
        *(f"thm4.3-{level}-{a}" for a in ("similar", "dissimilar") for level in LEVELS),
    ):
        out += [_range(claim_id, variant) for variant in get_claim(claim_id).bounds]
    out += [_corrected_bound(), _vacuous_step(), _representability_sum(), *_zero_diagonal(), _eq1_regular(), _eq1_path()]
    names = [x.name for x in out]
    if len(set(names)) != len(names):
        raise RuntimeError("two derivations share a name")
    return tuple(out)


def derivations() -> list[Derivation]:
    """Every derivation (computed once per process, then cached)."""
    return list(_all())

