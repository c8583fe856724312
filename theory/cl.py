"""Contrastive learning: Theorem 4.3 / Lemma A.11.

Same shape as Thm 4.2 with noise ``C d^{-1/5}`` and signal coefficient ``1`` (similar
augmentations) or ``tr(H)`` (dissimilar, ``tr_H = tr(P H_sym P) > 0``). The DecL statement
prints ``+C d^{-1/5}`` in the denominator, the proof ``-C d^{-1/5}``: the DecL claims carry
both, as ``bounds["statement"]`` and ``bounds["proof"]``.
"""

from __future__ import annotations

from theory._forms import representability_claim

_NOTE = (
    "Hidden O()-constant C (default 1); FL's Theta(d^{{7/20}}) replaced by {signal} d^{{2/5}}/N "
    "(Section 4).{extra} Holds with high probability as d -> oo under tau = d^{{1/5}}, mu = d^{{-1/5}}."
)
_PROOF = (
    " bounds['statement'] has the printed +C d^{-1/5} in the denominator, bounds['proof'] the "
    "proof's -C d^{-1/5} (a valid bound only where (1 - 1/A_bar) {signal} d^{3/5} >= 2C)."
)


def _claim(augmentation: str, level: str, source_level: str):
    signal = "1" if augmentation == "similar" else "tr_H"
    extra = _PROOF.replace("{signal}", signal) if level == "decl" else ""
    return representability_claim(
        f"thm4.3-{level}-{augmentation}",
        f"Theorem 4.3 / Lemma A.11 ({source_level}, {augmentation} augmentations)",
        f"cl-{augmentation}",
        level,
        note=_NOTE.format(signal=signal, extra=extra),
    )


CLAIMS = tuple(
    _claim(augmentation, level, source_level)
    for augmentation in ("similar", "dissimilar")
    for level, source_level in (("local", "local"), ("decl", "DecL"), ("fl", "FL"))
)
