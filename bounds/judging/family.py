"""Error control across a run: the statistically judged records form one family, and a
``fails`` is kept only if it survives a multiplicity correction.

Every statistical rule of :mod:`bounds.judging.rules` reports the p-value of the test whose
rejection makes its verdict ``fails`` (the null hypothesis: the claim holds under this
reading), at ``alpha = ALPHA`` each. A run judges a few hundred such records; uncorrected, the
expected number of chance ``fails`` among true claims is ``m0 * alpha`` (any dependence), about
4 at ``m = 371`` and ``alpha = 0.01``. `control` adjusts the family's p-values together
(`rules.adjust`), stores each in the record's ``p_adjusted``, and turns a ``fails`` that was
decided on its p-value but whose adjusted p-value is ``>= alpha`` into ``inconclusive``, saying
so in the note.

The family: every record with a ``p_value`` whose verdict is not ``vacuous`` (a vacuous claim
asserts nothing, so no hypothesis about it is tested; its p-value, when reported, is for
information and gets no ``p_adjusted``). Exact checks have no p-value and are not in it: a
counterexample (`rules.identity`, `rules.every_trial` at ``samples = population``) is not a
chance event and is never withdrawn. Only ``fails`` is withdrawn: a ``holds`` decided on power
or on a confidence interval rejects nothing about the claim being true, and an
``inconclusive`` already claims nothing.

Default correction: **Holm** (family-wise error). What a reviewer signs for a ledger's
``fails`` is "no true claim is called failed by chance with probability more than ``alpha``" —
one chance ``fails`` is a false accusation against a theorem of the paper, so the guarantee is
about any, not a share. Holm gives it under any dependence between the records (they share
simulations: the same seeds feed several readings of one claim, so independence cannot be
assumed), and is uniformly more powerful than Bonferroni. Its cost is small here: a real
failure is measured with hundreds of trials and has p-values far below ``alpha / m``. A false
discovery rate (``bh``: independence or positive dependence; ``by``: any dependence) bounds
only the expected *share* of chance ``fails`` among those reported, a weaker statement for a
verdict on a theorem; it is available for exploratory runs.

``expected_chance_rejections`` is the bound the chosen control implies on the expected number
``V`` of chance ``fails`` among true claims (``m`` the family size, ``R`` the ``fails`` kept):

- ``holm``: ``P(V >= 1) <= alpha``; and ``E[V] <= 2 alpha H_m m / (m + 1)`` under any
  dependence (``H_m`` the harmonic number: the ``k``-th chance rejection needs ``k`` true
  nulls with ``p <= alpha / (m0 - k + 1)``, bounded by Markov's inequality), which is what is
  reported; under independence ``E[V] <= alpha / (1 - alpha)``.
- ``bonferroni``: ``E[V] <= alpha`` (``m0`` tests at ``alpha / m``).
- ``bh`` / ``by``: the false discovery rate bounds ``E[V / R]`` by ``alpha``; reported is
  ``alpha * R``, the chance ``fails`` that rate allows among the ``R`` kept.

A ``fails`` at ``p = 0.006`` stands alone at ``alpha = 0.01`` but not as one of three tests
(Holm compares ``2 * 0.006`` with ``alpha``):

    >>> from bounds.judging.records import Record
    >>> rows = [Record(claim="thm4.4-fl", source="Theorem 4.4", level="simulation", verdict=v, p_value=p)
    ...         for v, p in (("fails", 1e-9), ("fails", 0.006), ("inconclusive", 0.3), ("holds", None))]
    >>> out, family = control(rows)
    >>> [r.verdict for r in out], family.size, family.withdrawn
    (['fails', 'inconclusive', 'inconclusive', 'holds'], 3, (1,))
    >>> [None if r.p_adjusted is None else round(r.p_adjusted, 4) for r in out]
    [0.0, 0.012, 0.3, None]
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from bounds.judging.records import Record
from bounds.judging.rules import ALPHA, CORRECTIONS, adjust

#: What each correction controls, in the words a note quotes.
CONTROLS = {"holm": "family-wise error (Holm step-down)", "bonferroni": "family-wise error (Bonferroni)",
            "bh": "false discovery rate (Benjamini-Hochberg)", "by": "false discovery rate (Benjamini-Yekutieli)"}


@dataclasses.dataclass(frozen=True)
class Family:
    """The run's family of statistically judged records and the control applied to it.

    ``correction``: one of `rules.CORRECTIONS`; ``size``: the number of records in the family
    (``m``); ``alpha``: the level the adjusted p-values are compared with;
    ``expected_chance_rejections``: the bound the control implies on the expected number of
    chance ``fails`` among true claims (module docstring); ``members``: the family's indices in
    the records given to `control`; ``withdrawn``: the indices whose ``fails`` became
    ``inconclusive``.
    """

    correction: str
    size: int
    alpha: float
    expected_chance_rejections: float
    members: tuple[int, ...] = ()
    withdrawn: tuple[int, ...] = ()

    @property
    def statement(self) -> str:
        """The control in one sentence (what a report quotes)."""
        uncorrected = self.size * self.alpha
        if self.correction in ("holm", "bonferroni"):
            guarantee = (f"the probability that any true claim is called failed by chance is at most {self.alpha:g}; "
                         f"expected chance fails at most {self.expected_chance_rejections:.3g}")
        else:
            guarantee = (f"the expected share of chance fails among those kept is at most {self.alpha:g} "
                         f"(about {self.expected_chance_rejections:.3g} of them)")
        return (f"{self.size} statistically judged records form one family, controlled for the "
                f"{CONTROLS[self.correction]} at alpha = {self.alpha:g}: {guarantee} "
                f"(uncorrected: up to {uncorrected:.3g}); {len(self.withdrawn)} fails withdrawn.")

    def to_json(self) -> dict[str, Any]:
        return {"correction": self.correction, "size": self.size, "alpha": self.alpha,
                "expected_chance_rejections": self.expected_chance_rejections,
                "withdrawn": list(self.withdrawn), "statement": self.statement}


def expected_chance_rejections(correction: str, size: int, alpha: float, *, kept: int = 0) -> float:
    """The bound `Family.expected_chance_rejections` (module docstring) for a family of ``size``
    records at ``alpha`` with ``kept`` rejections.

    >>> round(expected_chance_rejections("holm", 1, 0.01), 4)  # one test: Markov gives alpha
    0.01
    >>> expected_chance_rejections("bonferroni", 371, 0.01)
    0.01
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"correction={correction!r} must be one of {CORRECTIONS}")
    if size == 0:
        return 0.0
    if correction == "holm":
        harmonic = float(np.sum(1.0 / np.arange(1, size + 1)))
        return 2 * alpha * harmonic * size / (size + 1)
    if correction == "bonferroni":
        return float(alpha)
    return float(alpha * kept)


def control(records: Sequence[Record], *, alpha: float = ALPHA,
            correction: str = "holm") -> tuple[list[Record], Family]:
    """Adjust the family of ``records`` (module docstring) by ``correction`` and withdraw the
    ``fails`` the family does not support.

    Every family member gets ``p_adjusted``; every other record gets ``p_adjusted = None``. A
    member whose verdict is ``fails`` with ``p_value < alpha`` (decided on its p-value) and
    ``p_adjusted >= alpha`` becomes ``inconclusive``, its note saying why. A ``fails`` whose
    p-value is ``>= alpha`` was decided otherwise (a structural or exact finding) and is kept.
    Returns the records in the given order and the `Family`.
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"correction={correction!r} must be one of {CORRECTIONS}")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha!r} must be in (0, 1)")
    members = tuple(i for i, r in enumerate(records) if r.p_value is not None and r.verdict != "vacuous")
    adjusted = adjust([records[i].p_value for i in members], correction) if members else np.empty(0)
    by_index = dict(zip(members, (float(p) for p in adjusted)))
    out, withdrawn = [], []
    for i, record in enumerate(records):
        p_adj = by_index.get(i)
        fields: dict[str, Any] = {"p_adjusted": p_adj}
        if (p_adj is not None and record.verdict == "fails" and record.p_value < alpha
                and not p_adj < alpha):
            withdrawn.append(i)
            fields["verdict"] = "inconclusive"
            fields["note"] = (f"{record.note} Withdrawn to inconclusive by the {CONTROLS[correction]} over the run's "
                              f"{len(members)} statistically judged records: p = {record.p_value:.3g} < alpha = "
                              f"{alpha:g} alone, adjusted p = {p_adj:.3g} >= alpha; a rejection this weak is expected "
                              f"by chance in a family this large.").strip()
        out.append(dataclasses.replace(record, **fields))
    kept = sum(1 for i in members if out[i].verdict == "fails" and by_index[i] < alpha)
    family = Family(correction=correction, size=len(members), alpha=float(alpha),
                    expected_chance_rejections=expected_chance_rejections(correction, len(members), alpha, kept=kept),
                    members=members, withdrawn=tuple(withdrawn))
    return out, family


__all__ = ["CONTROLS", "Family", "control", "expected_chance_rejections"]
