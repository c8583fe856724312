"""The reading names of SPEC "Readings", and the sim objective each reading computes."""

from typing import Mapping

#: MIM objective readings (SPEC Readings 1) -> sim objective.
MIM_READINGS: Mapping[str, str] = {
    "paper-surrogate": "mim-surrogate",
    "alignment-exact": "mim-alignment",
    "reconstruction": "mim-reconstruction",
}
#: CL augmentations -> sim objective.
CL_VARIANTS: Mapping[str, str] = {"similar": "cl-similar", "dissimilar": "cl-dissimilar"}
OBJECTIVES: tuple[str, ...] = (*MIM_READINGS.values(), *CL_VARIANTS.values())
#: Sensitivity variants (SPEC Readings 4).
SENSITIVITIES: tuple[str, ...] = ("paper-c", "class", "proof")
#: DecL readings (SPEC Readings 3).
DECL_READINGS: tuple[str, ...] = ("objective-eq1", "per-neighbourhood", "gossip")
