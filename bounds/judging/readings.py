"""From a simulation objective to the ledger: its reading, its claim family and the lower-bound
claim that bounds it, all read off the `sim.Objective` value (never a hand table), and the
structural notes the judging of the readings shares.

    >>> reading_of("mim-alignment")
    {'mim': 'alignment-exact'}
    >>> family_of("cl-dissimilar")
    ('cl', 'dissimilar')
    >>> bound_claim("cl-similar", "fl").id
    'thm4.3-fl-similar'
"""

from __future__ import annotations

import dataclasses
import types
from typing import Mapping

import theory
from bounds.judging.records import Record
from sim import BUILTIN_OBJECTIVES, SENSITIVITY_VARIANTS, Objective, get_objective

#: The built-in objectives' names (`sim.Objective.name`), in the order the studies measure them.
OBJECTIVES: tuple[str, ...] = tuple(o.name for o in BUILTIN_OBJECTIVES)
#: MIM objective readings (reading 1) -> built-in objective: the paper's diagonal surrogate
#: (Eq. 17), Eq. 4 averaged exactly over masks, the reconstruction loss of Eq. 3. Derived
#: from the objectives, read-only.
MIM_READINGS: Mapping[str, str] = types.MappingProxyType(
    {o.reading[1]: o.name for o in BUILTIN_OBJECTIVES if o.family == "mim"})
#: CL augmentations (Theorem 4.3, Lemma A.11) -> built-in objective; derived, read-only.
CL_VARIANTS: Mapping[str, str] = types.MappingProxyType(
    {o.variant: o.name for o in BUILTIN_OBJECTIVES if o.family == "cl"})
#: Sensitivity variants (Definition 4.1 and Theorem 4.4's ``s``).
SENSITIVITIES: tuple[str, ...] = SENSITIVITY_VARIANTS
#: DecL readings: the minimiser of Eq. 1, each client's neighbourhood objective, trained D-PSGD.
DECL_READINGS: tuple[str, ...] = ("objective-eq1", "per-neighbourhood", "gossip")


def reading_of(objective: "Objective | str") -> dict[str, str]:
    """The ledger reading of an objective (or its name): ``{axis: value}`` from `Objective.reading`."""
    axis, value = get_objective(objective).reading
    return {axis: value}


def family_of(objective: "Objective | str") -> tuple[str, str | None]:
    """The claim family and Theorem 4.3 variant of an objective (or its name): ``("mim", None)``
    or ``("cl", "similar")``."""
    o = get_objective(objective)
    return o.family, o.variant


def bound_claims(objective: "Objective | str", scope: str) -> tuple["theory.Claim", ...]:
    """Every lower-bound claim on ``r_k`` of the objective's model at ``scope`` (``"local"``,
    ``"decl"``, ``"fl"``): the paper's (Theorem 4.2 for MIM, 4.3 for CL, by `Objective.family`
    and ``variant``) first, then any other with the same family, scope and variant — a claim
    added to `theory` (or installed) is judged by the producers without touching them."""
    family, variant = family_of(objective)
    found = theory.claims_where(kind="lower-bound", family=family, scope=scope, variant=variant)
    if not found:
        raise ValueError(f"no lower-bound claim of family {family!r}, scope {scope!r}, variant {variant!r} bounds "
                         f"objective {get_objective(objective).name!r}")
    return found


def bound_claim(objective: "Objective | str", scope: str) -> "theory.Claim":
    """The paper's Theorem 4.2 / 4.3 lower-bound claim on the objective's model at ``scope``
    (the first of `bound_claims`): the one whose stated order the order records test."""
    return bound_claims(objective, scope)[0]


def is_surrogate(objective: "Objective | str") -> bool:
    """Whether the objective's matrix is diagonal (`Objective.kind` ``"diagonal"``, the paper's
    surrogate of Eq. 17): its ``r_k`` are 0 or 1, so a bound can hold for a structural reason."""
    return get_objective(objective).kind == "diagonal"


#: Why a lower bound holds for a diagonal client matrix (reading 1), quoted by the judges'
#: ``holds-trivially`` records.
SURROGATE_HOLDS = ("X^M is diagonal, so row(W) is spanned by coordinate axes and every r_k is 0 or 1: the bound holds "
                   "because the other-class coordinates (E x_k^2 = tau^2/2 + mu^2) are among the top c diagonal "
                   "entries, not through the eigen-argument.")


def paper_c_note(c: int, N: int) -> str:
    """Why a ``paper-c`` sensitivity comparison fails for a structural reason when ``c > N``:
    Definition 4.1's ``max - min`` is taken over the first ``c`` coordinates, and only the first
    ``N`` carry a class (Section 3.2's data model), so the rest measure the noise part of the
    spectrum. Empty when ``c <= N``.

    >>> paper_c_note(8, 4)[:40]
    ' Structural: paper-c takes max - min of '
    >>> paper_c_note(4, 4)
    ''
    """
    if c <= N:
        return ""
    return (f" Structural: paper-c takes max - min of r_k over the first c = {c} coordinates, of which {N}..{c - 1} "
            "are noise coordinates (no class lives there), so it measures the noise part of the spectrum.")


def with_paper_c_notes(records: list[Record]) -> list[Record]:
    """``records`` with `paper_c_note` appended to every failed ``paper-c`` sensitivity record
    (its ``params`` carry the study's ``c`` and ``N``)."""
    return [dataclasses.replace(r, note=r.note + paper_c_note(r.params["c"], r.params["N"]))
            if r.reading.get("sensitivity") == "paper-c" and r.verdict == "fails" else r for r in records]


__all__ = ["MIM_READINGS", "CL_VARIANTS", "OBJECTIVES", "SENSITIVITIES", "DECL_READINGS", "SURROGATE_HOLDS",
           "bound_claim", "bound_claims", "family_of", "is_surrogate", "paper_c_note", "reading_of", "with_paper_c_notes"]
