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


def evaluate(claim_id: str, variant: str = "statement", /, **params: Any) -> np.ndarray:
    """Lower bound on the representability ``r_k`` stated by ``claim_id`` at ``params``.

    ``params`` are the claim's symbols by name (``d``, ``p``, ``N``, ``A_bar``, ``C``,
    ``tr_H``); arrays broadcast, so a whole parameter grid is one call. Symbols the claim does
    not use are ignored, so one parameter dict serves every claim of a sweep. Hidden constants
    default to the claim's ``defaults`` (unit constants).

    >>> float(evaluate("thm4.2-local", d=1e5, p=0.5, C=1.0))  # doctest: +ELLIPSIS
    0.99...
    """
    fn, names = _numpy_bound(claim_id, variant)
    defaults = dict(getattr(theory.get_claim(claim_id), "defaults", {}))
    args = {k: np.asarray(v, dtype=np.float64) for k, v in {**defaults, **params}.items() if k in names}
    missing = [k for k in names if k not in args]
    if missing:
        raise ValueError(f"claim {claim_id!r} needs parameters {missing}")
    with np.errstate(all="ignore"):  # outside the domain: reported below as a ValueError, not a warning
        value = np.asarray(fn(**args), dtype=np.float64)
    if not np.all(np.isfinite(value)):
        bad = {k: v for k, v in params.items()}
        raise ValueError(f"claim {claim_id!r} ({variant}) is not finite at {bad}: outside the bound's domain")
    return value


def sensitivity_bound(claim_id: str, variant: str = "statement", /, **params: Any) -> np.ndarray:
    """The proofs' sensitivity ``s = 1 - (lower bound on r_k)`` (Definition 4.1, variant ``proof``)."""
    return 1.0 - evaluate(claim_id, variant, **params)
