"""The registry of every claim, by stable id, and the proofs' sensitivity ``s = 1 - bound``.

`CLAIMS` holds the paper's claims and the toolkit's own. An installed package adds claims of its
own (for its producer's records) through the entry-point group ``dssl_bounds.claims``: each entry
a `Claim`, a tuple of them, or a function returning either; `installed_claims` reads them when
asked, and `get_claim` finds them after the built-in ones.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import types
from typing import Mapping

import sympy as sp

from theory import cl, comparison, connectivity, experiments, mim, representability
from theory.claims import Claim

_ALL = (*representability.CLAIMS, *mim.CLAIMS, *cl.CLAIMS, *comparison.CLAIMS, *connectivity.CLAIMS,
        *experiments.CLAIMS)

#: Every claim by id (read-only).
CLAIMS: Mapping[str, Claim] = types.MappingProxyType({claim.id: claim for claim in _ALL})
if len(CLAIMS) != len(_ALL):
    raise RuntimeError("two claims share an id")


#: The entry-point group through which an installed package adds claims.
CLAIM_GROUP = "dssl_bounds.claims"


def installed_claims() -> Mapping[str, Claim]:
    """The claims installed packages add (entry-point group ``dssl_bounds.claims``), by id, read
    now; ValueError for an entry that is not a `Claim` or an id given twice (built-ins included)."""
    found: dict[str, Claim] = {}
    for entry in importlib.metadata.entry_points(group=CLAIM_GROUP):
        value = entry.load()
        if callable(value) and not isinstance(value, Claim):
            value = value()
        for claim in value if isinstance(value, (tuple, list)) else (value,):
            if not isinstance(claim, Claim):
                raise ValueError(f"entry point {entry.name!r} of {CLAIM_GROUP!r} gives {claim!r}: need a theory.Claim")
            if claim.id in CLAIMS or claim.id in found:
                raise ValueError(f"entry point {entry.name!r} of {CLAIM_GROUP!r}: claim id {claim.id!r} is already taken")
            found[claim.id] = claim
    return types.MappingProxyType(found)


def get_claim(claim_id: str) -> Claim:
    """The claim called ``claim_id`` (built-in, else installed); ValueError naming the known ids
    otherwise."""
    if isinstance(claim_id, str) and claim_id in CLAIMS:
        return CLAIMS[claim_id]
    installed = installed_claims() if isinstance(claim_id, str) else {}
    if claim_id in installed:
        return installed[claim_id]
    raise ValueError(f"unknown claim id {claim_id!r}; known ids: {', '.join([*CLAIMS, *installed])}")


def claims_where(**fields) -> tuple[Claim, ...]:
    """Every claim whose fields equal ``fields`` (any `Claim` attribute: ``family``, ``scope``,
    ``variant``, ``kind``, ...), the built-in ones first, then the installed ones; empty if none. A new claim that shares
    these fields adds a match instead of breaking the callers.

    >>> [c.id for c in claims_where(family="connectivity", kind="monotone")]
    ['cor4.5']
    """
    names = {f.name for f in dataclasses.fields(Claim)}
    unknown = sorted(set(fields) - names)
    if unknown:
        raise ValueError(f"claims_where: fields {unknown} must be among {sorted(names)}")
    every = (*CLAIMS.values(), *installed_claims().values())
    return tuple(c for c in every if all(getattr(c, k) == v for k, v in fields.items()))


def find_claim(*, family: str, scope: str | None, variant: str | None = None) -> Claim:
    """The one claim with these structured fields, e.g. ``find_claim(family="cl", scope="fl",
    variant="similar")`` is Theorem 4.3's FL bound; ValueError if none or several match (then
    use `claims_where`)."""
    found = claims_where(family=family, scope=scope, variant=variant)
    if len(found) != 1:
        known = sorted({(c.family, c.scope, c.variant) for c in CLAIMS.values()}, key=str)
        raise ValueError(f"(family, scope, variant) = {(family, scope, variant)!r} must name one claim, "
                         f"found {[c.id for c in found]}; known: {known}")
    return found[0]


def sensitivity_bound(claim_id: str, variant: str = "statement") -> sp.Expr:
    """``s = 1 - (lower bound on r_k)`` of a lower-bound claim, as the proofs use it (Definition 4.1).

    ``variant`` names an entry of the claim's ``bounds`` (``"statement"``, or ``"proof"`` for
    the CL DecL claims).
    """
    claim = get_claim(claim_id)
    if claim.kind != "lower-bound":
        raise ValueError(f"{claim_id} is a {claim.kind} claim; sensitivity_bound needs a lower-bound claim")
    if variant not in claim.bounds:
        raise ValueError(f"{claim_id}: variant={variant!r} must be one of {sorted(claim.bounds)}")
    return 1 - claim.bounds[variant]
