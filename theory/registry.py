"""The registry of every claim, by stable id, and the proofs' sensitivity ``s = 1 - bound``."""

from __future__ import annotations

import types
from typing import Mapping

import sympy as sp

from theory import cl, comparison, connectivity, mim, representability
from theory.claims import Claim

_ALL = (*representability.CLAIMS, *mim.CLAIMS, *cl.CLAIMS, *comparison.CLAIMS, *connectivity.CLAIMS)

#: Every claim by id (read-only).
CLAIMS: Mapping[str, Claim] = types.MappingProxyType({claim.id: claim for claim in _ALL})
if len(CLAIMS) != len(_ALL):
    raise RuntimeError("two claims share an id")


def get_claim(claim_id: str) -> Claim:
    """The claim called ``claim_id``; ValueError naming the known ids otherwise."""
    try:
        return CLAIMS[claim_id]
    except (KeyError, TypeError):
        raise ValueError(f"unknown claim id {claim_id!r}; known ids: {', '.join(CLAIMS)}") from None


def sensitivity_bound(claim_id: str, variant: str = "statement") -> sp.Expr:
    """``s = 1 - (lower bound on r_k)`` of a lower-bound claim, as the proofs use it (SPEC 1.4).

    ``variant`` names an entry of the claim's ``bounds`` (``"statement"``, or ``"proof"`` for
    the CL DecL claims).
    """
    claim = get_claim(claim_id)
    if claim.kind != "lower-bound":
        raise ValueError(f"{claim_id} is a {claim.kind} claim; sensitivity_bound needs a lower-bound claim")
    if variant not in claim.bounds:
        raise ValueError(f"{claim_id}: variant={variant!r} must be one of {sorted(claim.bounds)}")
    return 1 - claim.bounds[variant]
