"""Evaluate a claim's bound at parameters: vectorised, float64, finite or a clear error."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

import theory


@functools.lru_cache(maxsize=None)
def _numpy_bound(claim_id: str, variant: str):
    claim = theory.get_claim(claim_id)
    if variant not in claim.bounds:
        raise ValueError(f"variant={variant!r} must be one of {sorted(claim.bounds)} for claim {claim_id!r}")
    fn = claim.lambdify(variant, backend="numpy")
    return fn, tuple(fn.symbols)


@functools.lru_cache(maxsize=None)
def _hypotheses(claim_id: str) -> tuple[tuple[str, tuple[str, ...], Any], ...]:
    """The claim's hypotheses on its parameters as (text, symbols, numpy predicate)."""
    import sympy as sp

    out = []
    for h in theory.get_claim(claim_id).hypotheses:
        if h is sp.true or not isinstance(h, sp.core.relational.Relational):
            continue
        names = tuple(sorted(str(s) for s in h.free_symbols))
        out.append((str(h), names, sp.lambdify(names, h, modules="numpy")))
    return tuple(out)


def _array(claim_id: str, name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":  # bools, strings, objects: never coerced to a number
        raise ValueError(f"{name}={value!r} (claim {claim_id!r}) must be a real number or an array of them")
    return arr.astype(np.float64)


def _show(value: np.ndarray) -> str:
    if value.ndim == 0:
        return f"{float(value)!r}"
    return f"array{value.shape} in [{np.nanmin(value)!r}, {np.nanmax(value)!r}]" if value.size else "[]"


def _check_domain(claim_id: str, args: dict[str, np.ndarray]) -> None:
    """Every parameter inside its domain: the symbol's sign assumption and every hypothesis
    of the claim whose symbols are all given (e.g. ``p < 1``, ``A_bar <= N``)."""
    claim = theory.get_claim(claim_id)
    for name, value in args.items():
        domain = claim.domains.get(name, "")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{name}={_show(value)} (claim {claim_id!r}) must be finite; domain: {domain}")
        sign = claim.symbols[name].assumptions0
        if (sign.get("positive") and not np.all(value > 0)) or (sign.get("nonnegative") and not np.all(value >= 0)):
            raise ValueError(f"{name}={_show(value)} is outside the domain of claim {claim_id!r}: {domain}")
    for text, names, holds in _hypotheses(claim_id):
        if all(n in args for n in names) and not np.all(holds(*(args[n] for n in names))):
            shown = ", ".join(f"{n}={_show(args[n])}" for n in names)
            raise ValueError(f"{shown} violates the hypothesis {text} of claim {claim_id!r} "
                             f"({'; '.join(claim.domains.get(n, n) for n in names)})")


@functools.lru_cache(maxsize=1)
def _all_symbols() -> frozenset[str]:
    return frozenset(name for claim in theory.CLAIMS.values() for name in claim.symbols)


def evaluate(claim: "str | theory.Claim", variant: str = "statement", /, **params: Any) -> np.ndarray:
    """Lower bound on the representability ``r_k`` stated by ``claim`` (a claim or its id) at ``params``.

    ``params`` are the claim's symbols by name (``d``, ``p``, ``N``, ``A_bar``, ``C``,
    ``tr_H``); arrays broadcast, so a whole parameter grid is one call. Symbols of other claims
    that this one does not use are ignored, so one parameter dict serves every claim of a sweep;
    a name that is no claim's symbol, or differs from one of this claim's only in case (``c``
    for ``C``), is a misspelling and raises. Hidden constants default to the claim's ``defaults`` (unit constants). Values
    outside the claim's domain (``p`` outside (0, 1), ``d <= 0``, ``A_bar > N``, ...) raise
    ``ValueError`` naming the parameter and the domain.

    >>> float(evaluate("thm4.2-local", d=1e5, p=0.5, C=1.0))  # doctest: +ELLIPSIS
    0.99...
    >>> evaluate("thm4.2-local", d=1e5, p=1.5)
    Traceback (most recent call last):
    ...
    ValueError: p=1.5 violates the hypothesis p < 1 of claim 'thm4.2-local' (p in (0, 1) (mask ratio: probability that a mask entry is 0))
    """
    claim_id = claim.id if isinstance(claim, theory.Claim) else claim
    fn, names = _numpy_bound(claim_id, variant)
    claim = theory.get_claim(claim_id)
    by_case = {n.lower(): n for n in claim.symbols}
    known = _all_symbols()
    for name in params:
        if name not in claim.symbols and name.lower() in by_case:
            raise ValueError(f"{name}= is not a parameter of claim {claim_id!r}: did you mean {by_case[name.lower()]}=? "
                             f"(its parameters: {sorted(names)})")
        if name not in known:  # a symbol of no claim at all: a typo, not another claim's parameter
            raise ValueError(f"{name}= is not a parameter of any claim; claim {claim_id!r} takes {sorted(claim.symbols)}")
    defaults = dict(getattr(claim, "defaults", {}))
    given = {k: _array(claim_id, k, v) for k, v in {**defaults, **params}.items() if k in claim.symbols}
    missing = [k for k in names if k not in given]
    if missing:
        raise ValueError(f"claim {claim_id!r} needs parameters {missing}")
    _check_domain(claim_id, given)  # also on symbols the bound does not use (N in A_bar <= N)
    args = {k: given[k] for k in names}
    with np.errstate(all="ignore"):  # outside the domain: reported below as a ValueError, not a warning
        value = np.asarray(fn(**args), dtype=np.float64)
    if not np.all(np.isfinite(value)):
        bad = {k: v for k, v in params.items()}
        raise ValueError(f"claim {claim_id!r} ({variant}) is not finite at {bad}: outside the bound's domain")
    return value


def sensitivity_bound(claim: "str | theory.Claim", variant: str = "statement", /, **params: Any) -> np.ndarray:
    """The proofs' sensitivity ``s = 1 - (lower bound on r_k)`` (Definition 4.1, variant ``proof``)."""
    return 1.0 - evaluate(claim, variant, **params)


@functools.lru_cache(maxsize=None)
def _numpy_expression(claim_id: str, what: str, variant: str | None):
    claim = theory.get_claim(claim_id)
    if what == "probability":
        if claim.probability is None:
            raise ValueError(f"claim {claim_id!r} states no probability (it is no high-probability bound)")
        return claim.lambdify(claim.probability, backend="numpy")
    return claim.lambdify(theory.threshold(claim_id, variant), backend="numpy")


def stated_probability(claim: "theory.Claim", *, d, m) -> np.ndarray:
    """The claim's stated success probability for a model built from ``m`` client matrices
    (Theorems 4.2 / 4.3: the proofs' union bound ``1 - (m/2) e^{-d^{1/10}}``), vectorised over
    ``d`` and ``m``; a float64 scalar for scalar arguments. It is <= 0 (the claim asserts
    nothing) for ``d`` up to about ``(ln(m/2))^10``.

    >>> round(float(stated_probability(theory.get_claim("thm4.2-fl"), d=192, m=2)), 3)
    0.816
    >>> stated_probability(theory.get_claim("thm4.2-decl"), d=64, m=[2, 20]).round(3).tolist()
    [0.78, -1.197]
    """
    for name, value in (("d", d), ("m", m)):
        if not np.all(np.asarray(value, dtype=np.float64) > 0):
            raise ValueError(f"{name}={value!r} (claim {claim.id!r}) must be > 0")
    value = _numpy_expression(claim.id, "probability", None)(d=np.asarray(d, dtype=np.float64),
                                                             m=np.asarray(m, dtype=np.float64))
    return np.asarray(value, dtype=np.float64)[()]


def d_star(claim: "theory.Claim", variant: str, *, p, tr_H=1.0) -> float:
    """Theorem 4.4's unit-constant threshold ``d*`` (`theory.threshold`, solved by sympy): above
    it the bounds give ``s^C > s^M`` for CL with Theorem 4.3's ``variant`` (``"similar"`` /
    ``"dissimilar"`` augmentations; `Claim.variant`), at mask ratio ``p`` and (dissimilar) ``tr_H``.

    >>> round(d_star(theory.get_claim("thm4.4-local"), "similar", p=0.5), 6)
    32.0
    """
    if variant not in ("similar", "dissimilar"):
        raise ValueError(f"variant={variant!r} must be 'similar' or 'dissimilar'")
    if not 0 < p < 1:
        raise ValueError(f"p={p!r} (claim {claim.id!r}) must lie in (0, 1)")
    return float(_numpy_expression(claim.id, "threshold", variant)(p=p, tr_H=tr_H))


__all__ = ["d_star", "evaluate", "sensitivity_bound", "stated_probability"]
