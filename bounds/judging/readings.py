"""The reading names of the paper's ambiguous steps (see the README's "Readings"), and the
simulation objective each reading computes. The objective and sensitivity names themselves
are the simulation's (``sim.OBJECTIVES``, ``sim.SENSITIVITY_VARIANTS``)."""

from typing import Mapping

import theory
from sim import OBJECTIVES, SENSITIVITY_VARIANTS

#: MIM objective readings -> sim objective: the paper's diagonal surrogate (Eq. 17), Eq. 4
#: averaged exactly over masks, and the reconstruction loss of Eq. 3.
MIM_READINGS: Mapping[str, str] = {
    "paper-surrogate": "mim-surrogate",
    "alignment-exact": "mim-alignment",
    "reconstruction": "mim-reconstruction",
}
#: CL augmentations (Theorem 4.3, Lemma A.11) -> sim objective.
CL_VARIANTS: Mapping[str, str] = {"similar": "cl-similar", "dissimilar": "cl-dissimilar"}
#: Sensitivity variants (Definition 4.1 and Theorem 4.4's ``s``).
SENSITIVITIES: tuple[str, ...] = SENSITIVITY_VARIANTS
#: DecL readings: the minimiser of Eq. 1, each client's neighbourhood objective, trained D-PSGD.
DECL_READINGS: tuple[str, ...] = ("objective-eq1", "per-neighbourhood", "gossip")


def reading_of(objective: str) -> dict[str, str]:
    """The ledger reading of a sim objective: ``{"mim": ...}`` or ``{"cl": ...}``."""
    for axis, table in (("mim", MIM_READINGS), ("cl", CL_VARIANTS)):
        for name, obj in table.items():
            if obj == objective:
                return {axis: name}
    raise ValueError(f"objective={objective!r} must be one of {OBJECTIVES}")


def family_of(objective: str) -> tuple[str, str | None]:
    """The claim family and CL variant of a sim objective: ``("mim", None)`` or ``("cl", "similar")``."""
    (axis, name), = reading_of(objective).items()
    return (axis, None) if axis == "mim" else (axis, name)


def bound_claim(objective: str, scope: str) -> "theory.Claim":
    """The Theorem 4.2 / 4.3 lower-bound claim that the objective's model at ``scope`` is judged on."""
    family, variant = family_of(objective)
    return theory.find_claim(family=family, scope=scope, variant=variant)


__all__ = ["MIM_READINGS", "CL_VARIANTS", "OBJECTIVES", "SENSITIVITIES", "DECL_READINGS", "reading_of", "family_of", "bound_claim"]


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
