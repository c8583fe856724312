"""Error control across a run (`bounds.judging.family`) and the adjustment it rests on
(`bounds.judging.rules.adjust`).

Adjusted p-values are checked against a hand computation and against SciPy's
``false_discovery_control`` (BH, BY); the family-wise error of Holm is measured over 2,000
fixed seeds of 50 independent true nulls and must stay within the ``1 - 1e-4`` quantile of
``Binomial(2000, alpha)`` (a correct procedure fails this with probability < 1e-4), while the
uncorrected family must exceed it (so the check can fail).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from bounds.judging import rules
from bounds.judging.family import Family, control, expected_chance_rejections
from bounds.judging.records import Record

P = [0.01, 0.04, 0.03, 0.2, 0.005]


def test_holm_by_hand():
    # Sorted: 0.005 (x5), 0.01 (x4), 0.03 (x3), 0.04 (x2), 0.2 (x1), then running maxima.
    by_hand = {0.005: 0.025, 0.01: 0.04, 0.03: 0.09, 0.04: 0.09, 0.2: 0.2}
    assert rules.adjust(P, "holm") == pytest.approx([by_hand[p] for p in P])
    assert rules.adjust(P, "bonferroni") == pytest.approx([min(1, 5 * p) for p in P])


def test_bh_and_by_by_hand_and_against_scipy():
    # BH: m p_(i) / i = 0.025, 0.025, 0.05, 0.05, 0.2, then running minima from the top.
    by_hand = {0.005: 0.025, 0.01: 0.025, 0.03: 0.05, 0.04: 0.05, 0.2: 0.2}
    assert rules.adjust(P, "bh") == pytest.approx([by_hand[p] for p in P])
    harmonic = sum(1 / k for k in range(1, 6))
    assert rules.adjust(P, "by") == pytest.approx([min(1, harmonic * by_hand[p]) for p in P])
    p = np.random.default_rng(0).uniform(size=200) ** 3
    for method in ("bh", "by"):
        assert rules.adjust(p, method) == pytest.approx(stats.false_discovery_control(p, method=method), abs=1e-12)


def test_adjust_edge_cases_and_bad_input():
    assert rules.adjust([], "holm").size == 0
    assert rules.adjust([0.3], "holm") == pytest.approx([0.3])
    assert rules.adjust([0.0, 1.0], "holm").tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="method='fdr'"):
        rules.adjust(P, "fdr")
    with pytest.raises(ValueError, match="p_values"):
        rules.adjust([0.1, 1.5])
    with pytest.raises(ValueError, match="p_values"):
        rules.adjust([0.1, float("nan")])


def test_holm_controls_the_familywise_error_and_uncorrected_does_not():
    seeds, m, alpha = 2000, 50, rules.ALPHA
    p = np.random.default_rng(1).uniform(size=(seeds, m))  # every null true
    holm = sum(bool(np.any(rules.adjust(row, "holm") < alpha)) for row in p)
    uncorrected = int(np.sum(np.any(p < alpha, axis=1)))
    allowed = int(stats.binom.ppf(1 - 1e-4, seeds, alpha))
    assert holm <= allowed, (holm, allowed)
    assert uncorrected > allowed  # about 1 - 0.99^50 = 0.39 of the seeds


def _record(verdict, p_value, claim="thm4.4-fl", note="n."):
    return Record(claim=claim, source="s", level="simulation", verdict=verdict, p_value=p_value, note=note)


def test_control_withdraws_only_fails_decided_on_a_weak_p_value():
    records = [
        _record("fails", 1e-12),          # strong: kept
        _record("fails", 0.004),          # alone < alpha; Holm at m = 6: 5 x 0.004 = 0.02 -> withdrawn
        _record("fails", None),           # exact counterexample (no p-value): never withdrawn, not a member
        _record("fails", 0.5),            # decided otherwise (structural): kept
        _record("holds", 0.9),            # a holds is not a rejection: kept
        _record("inconclusive", 0.3),
        _record("vacuous", 1e-9),         # asserts nothing: not a member, no p_adjusted
        _record("holds-trivially", 1.0),
    ]
    out, family = control(records)
    assert [r.verdict for r in out] == ["fails", "inconclusive", "fails", "fails", "holds", "inconclusive",
                                        "vacuous", "holds-trivially"]
    assert family.members == (0, 1, 3, 4, 5, 7) and family.size == 6 and family.withdrawn == (1,)
    assert out[1].p_adjusted == pytest.approx(5 * 0.004) and out[0].p_adjusted == pytest.approx(6e-12)
    assert out[2].p_adjusted is None and out[6].p_adjusted is None
    assert out[1].note.startswith("n. Withdrawn to inconclusive") and "6 statistically judged" in out[1].note
    assert out[0].note == "n." and out[1].p_value == 0.004  # the unadjusted p-value stays
    assert all(r.p_adjusted >= r.p_value for r in out if r.p_adjusted is not None)
    # The family's JSON is the ledger's "family" block.
    block = json.loads(json.dumps(family.to_json()))
    assert block["correction"] == "holm" and block["size"] == 6 and block["alpha"] == rules.ALPHA
    assert block["withdrawn"] == [1] and "6 statistically judged" in block["statement"]
    assert block["expected_chance_rejections"] == pytest.approx(expected_chance_rejections("holm", 6, rules.ALPHA))


def test_control_with_fdr_and_empty_family():
    records = [_record("fails", 0.004), _record("fails", 0.006), _record("inconclusive", 0.5)]
    out, family = control(records, correction="bh")  # BH: 0.006, 0.009, 0.5 -> both kept
    assert [r.verdict for r in out] == ["fails", "fails", "inconclusive"] and family.withdrawn == ()
    assert family.expected_chance_rejections == pytest.approx(2 * rules.ALPHA)  # alpha x the fails kept
    out, family = control(records, correction="holm")  # Holm: 0.012, 0.012 -> both withdrawn
    assert [r.verdict for r in out] == ["inconclusive"] * 3 and family.withdrawn == (0, 1)
    out, family = control([_record("holds", None)])
    assert family == Family("holm", 0, rules.ALPHA, 0.0) and out[0].p_adjusted is None


def test_expected_chance_rejections_bounds_holm_by_simulation():
    """The reported bound (any dependence) covers the expected number of chance rejections
    under two extreme dependences: independent and identical p-values."""
    m, alpha = 20, 0.05
    bound = expected_chance_rejections("holm", m, alpha)
    p = np.random.default_rng(2).uniform(size=(4000, m))
    independent = np.mean([np.sum(rules.adjust(row, "holm") < alpha) for row in p])
    identical = np.mean([np.sum(rules.adjust(np.full(m, u), "holm") < alpha) for u in p[:, 0]])
    assert independent <= bound and identical <= bound
    assert expected_chance_rejections("bonferroni", m, alpha) == alpha
    assert bound < m * alpha  # far below the uncorrected m alpha


@pytest.mark.parametrize("kwargs, words", [(dict(correction="fdr"), "correction='fdr'"), (dict(alpha=0.0), "alpha=0.0"),
                                           (dict(alpha=True), "alpha=True")])
def test_control_bad_input(kwargs, words):
    with pytest.raises(ValueError, match=words):
        control([_record("fails", 0.001)], **kwargs)
