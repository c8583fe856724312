"""Readings: which way an ambiguous step of the paper is read, as a typed value.

The paper leaves some steps open to more than one reading (the MIM objective it analyses, what
"DecL" minimises, which sensitivity, ...); the toolkit computes every reading and says which one
gave what. A `Reading` is one axis of `READINGS` and one value on it, e.g.
``Reading("mim", "alignment-exact")``; the ledger stores a record's readings as the mapping
``{"mim": "alignment-exact", ...}`` (`reading_key`), and `readings_of` turns it back.

`VOCABULARY` is the one place where each value's meaning is written (`vocabulary_table`
renders it). The axes follow SPEC's Readings: ``mim`` (1: the MIM objective), ``decl`` (3: what
DecL minimises), ``sensitivity`` (4), ``constants`` (5: unit or fitted O()-constants),
``samples`` (6: ``n = d^beta`` or ``population``), ``augmentation`` (7: the CL views in
expectation or sampled), ``cl`` (Theorem 4.3's similar or dissimilar augmentations) and
``variant`` (which form of a claim or of the toolkit's computation: the printed bound or the
proof's, the stated order, FedAvg-trained models, the A-MMD normalisation, the objective a
corrected bound is computed on).

Reading 2 (the corrected eigen-step bound) is a claim of its own (``corrected-rv``) and Reading
8 (a random ``H`` drawn per seed) is part of every dissimilar trial: neither is an axis.
"augmentation" here is Reading 7 only; the similar/dissimilar augmentations of Theorem 4.3 are
the ``cl`` axis.

A value not in the vocabulary (a researcher's own objective or reading) is allowed on a known
axis when its meaning is given:

    >>> Reading("mim", "alignment-exact").meaning[:28]
    'Eq. 4 averaged exactly over '
    >>> reading_key(Reading("mim", "alignment-exact"), Reading("samples", "population"))
    {'mim': 'alignment-exact', 'samples': 'population'}
    >>> Reading("samples", "n=d^1.5").meaning
    'n = d^1.5 samples per client (|D_i| = d^beta)'
    >>> Reading("cl", "barlow-twins", "a two-view redundancy-reduction loss").value
    'barlow-twins'
    >>> Reading("colour", "red")
    Traceback (most recent call last):
    ...
    ValueError: Reading axis='colour' (value 'red') must be one of ('mim', 'cl', 'decl', 'sensitivity', 'constants', 'samples', 'augmentation', 'variant')
"""

from __future__ import annotations

import dataclasses
import re
import types
from typing import Iterable, Mapping

from theory.claims import READINGS

_OBJECTIVE = "the corrected bound (reading 2) computed on the client matrix of the objective "



def _read_only(table: Mapping[str, Mapping[str, str]]) -> Mapping[str, Mapping[str, str]]:
    return types.MappingProxyType({axis: types.MappingProxyType(dict(values)) for axis, values in table.items()})


#: axis -> value -> meaning, for every documented value (read-only).
VOCABULARY: Mapping[str, Mapping[str, str]] = _read_only({
    "mim": {
        "paper-surrogate": "the paper's diagonal client matrix X^M = 2p(1-p) diag(S) (Eq. 17); its eigenvectors are "
                           "coordinate axes, so a bound can hold for a trivial reason",
        "alignment-exact": "Eq. 4 averaged exactly over the masks: p(1-p)(S - diag S), zero diagonal",
        "reconstruction": "Eq. 3, masked reconstruction (closed form and gradient descent)",
        "mae": "a shallow masked autoencoder trained end to end (the MIM stand-in of Section 5's experiments)",
    },
    "cl": {
        "similar": "similar augmentations: two Gaussian views of the same sample (Theorem 4.3, Lemma A.11)",
        "dissimilar": "dissimilar augmentations: one view transformed by H (Theorem 4.3, Assumption A.9)",
        "simsiam": "a shallow SimSiam trained end to end (the CL stand-in of Section 5's experiments)",
    },
    "decl": {
        "objective-eq1": "the minimiser of Eq. 1: sum_j pi_j X_j with pi_j = (1/N) sum_{i: j in A_i} 1/|A_i| "
                         "(FL on a regular graph)",
        "per-neighbourhood": "client i fits (1/|A_i|) sum_{j in A_i} X_j (the source of the 1 - 1/|A_i| factor)",
        "gossip": "D-PSGD simulated with local steps and the mixing rule",
    },
    "sensitivity": {
        "paper-c": "max - min of r_k over the first c coordinates (Theorem 4.4's s)",
        "class": "max - min of r_k over the class coordinates [N]",
        "proof": "1 - min_{k in [N] minus {i}} r_k (the proofs' s = 1 - lower bound)",
    },
    "constants": {
        "unit": "every hidden O()-constant is 1",
        "fitted": "C fitted on the smaller half of a d-sweep and judged on the larger half",
    },
    "samples": {
        "n=d": "n = d samples per client (beta = 1, the least Theorems 4.2 and 4.3 allow)",
        "population": "n -> oo: the exact expected matrix (the concentration event is certain)",
    },
    "augmentation": {
        "expectation": "the CL matrix averaged over the Gaussian views (X = S)",
        "sampled": "one augmentation pair (xi, xi') per sample, as a finite-batch run sees it",
    },
    "variant": {
        "statement": "the bound as the theorem prints it",
        "proof": "the bound as its proof derives it (CL DecL: -C d^{-1/5} in the denominator)",
        "order": "the stated order Theta(d^a) of the sensitivity s, fitted across d",
        "fedavg-trained": "FL models trained by FedAvg rounds rather than solved in closed form",
        "paper": "the A-MMD of Eq. 6 as printed (distance not squared, diagonal dropped)",
        "reference-code": "the A-MMD as the paper's reference code computes it (squared distance, diagonal kept)",
        "mim-surrogate": _OBJECTIVE + "mim-surrogate (Eq. 17)",
        "mim-alignment": _OBJECTIVE + "mim-alignment (Eq. 4, mask-averaged)",
        "mim-reconstruction": _OBJECTIVE + "mim-reconstruction (Eq. 3)",
        "cl-similar": _OBJECTIVE + "cl-similar (Lemma A.11)",
        "cl-dissimilar": _OBJECTIVE + "cl-dissimilar (Assumption A.9)",
    },
})
if tuple(VOCABULARY) != READINGS:
    raise RuntimeError("the vocabulary's axes must be theory.READINGS, in order")

# Reading 6 is a family of values: n = d^beta for any beta >= 1.
_SAMPLES_POWER = re.compile(r"n=d\^(\d+(?:\.\d+)?)")
_SAMPLES_POWER_MEANING = "n = d^{beta} samples per client (|D_i| = d^beta)"


def documented_meaning(axis: str, value: str) -> str | None:
    """The meaning `VOCABULARY` gives ``value`` on ``axis`` (``n=d^beta`` on ``samples`` for any
    ``beta >= 1``), or None if it documents none."""
    if value in VOCABULARY.get(axis, {}):
        return VOCABULARY[axis][value]
    match = _SAMPLES_POWER.fullmatch(value) if axis == "samples" else None
    if match and float(match.group(1)) >= 1:
        return _SAMPLES_POWER_MEANING.format(beta=match.group(1))
    return None


@dataclasses.dataclass(frozen=True)
class Reading:
    """One reading: an ``axis`` of `READINGS` and a ``value`` on it, with its ``meaning``.

    ``meaning`` defaults to the vocabulary's; a value the vocabulary does not document needs
    one. Two readings are equal when axis and value are (the meaning is not compared), so a
    reading is a dictionary key.
    """

    axis: str
    value: str
    meaning: str = dataclasses.field(default="", compare=False)

    def __post_init__(self):
        if self.axis not in READINGS:
            raise ValueError(f"Reading axis={self.axis!r} (value {self.value!r}) must be one of {READINGS}")
        if not isinstance(self.value, str) or not self.value:
            raise ValueError(f"Reading value={self.value!r} on axis {self.axis!r} must be a non-empty string")
        documented = documented_meaning(self.axis, self.value)
        if documented is None and not self.meaning:
            raise ValueError(
                f"Reading value={self.value!r} on axis {self.axis!r} is not in the vocabulary "
                f"{sorted(VOCABULARY[self.axis])}: give its meaning, Reading({self.axis!r}, {self.value!r}, meaning)"
            )
        if documented is not None and self.meaning and self.meaning != documented:
            raise ValueError(f"Reading {self.axis}={self.value} is documented as {documented!r}; "
                             f"meaning={self.meaning!r} would give it a second meaning")
        object.__setattr__(self, "meaning", documented or self.meaning)

    def __str__(self) -> str:
        return f"{self.axis}={self.value}"


def vocabulary_table() -> str:
    """`VOCABULARY` as a Markdown table (axis, value, meaning), for the documentation.

    >>> vocabulary_table().splitlines()[2][:30]
    '| mim | paper-surrogate | the '
    """
    rows = ["| axis | value | meaning |", "|---|---|---|"]
    rows += [f"| {axis} | {value} | {meaning} |"
             for axis, values in VOCABULARY.items() for value, meaning in values.items()]
    rows.append(f"| samples | n=d^beta | {_SAMPLES_POWER_MEANING.format(beta='beta')}, any beta >= 1 |")
    return "\n".join(rows)


def reading_key(*readings: Reading) -> dict[str, str]:
    """The ledger's ``reading`` mapping ``{axis: value}`` of ``readings`` (in their order);
    ValueError if two give the same axis."""
    out: dict[str, str] = {}
    for reading in readings:
        if not isinstance(reading, Reading):
            raise ValueError(f"reading={reading!r} must be a theory.Reading")
        if reading.axis in out:
            raise ValueError(f"two readings on axis {reading.axis!r}: {out[reading.axis]!r} and {reading.value!r}")
        out[reading.axis] = reading.value
    return out


def readings_of(mapping: Mapping[str, str] | Iterable[Reading]) -> tuple[Reading, ...]:
    """The readings of a ledger ``reading`` mapping (or of readings, unchanged): the inverse of
    `reading_key`. A value outside the vocabulary is a ValueError (it carries no meaning).

    >>> [str(r) for r in readings_of({"cl": "similar", "variant": "proof"})]
    ['cl=similar', 'variant=proof']
    """
    if isinstance(mapping, Mapping):
        return tuple(Reading(axis, value) for axis, value in mapping.items())
    readings = tuple(mapping)
    reading_key(*readings)
    return readings


def as_reading_mapping(reading: Mapping[str, str] | Iterable[Reading]) -> dict[str, str]:
    """A ledger ``reading`` mapping from a mapping (keys checked against `READINGS`, values kept
    as they are, so ledgers of other versions read back) or from readings (`reading_key`)."""
    if isinstance(reading, Mapping):
        unknown = set(reading) - set(READINGS)
        if unknown:
            raise ValueError(f"reading keys {sorted(unknown)} must be among {READINGS}")
        return dict(reading)
    return reading_key(*reading)


__all__ = ["VOCABULARY", "Reading", "as_reading_mapping", "documented_meaning", "reading_key", "readings_of",
           "vocabulary_table"]
