"""Claim-level conclusions on hand-made record sets: one per conclusion word, and the
distinctions a reviewer needs (trivial support is not support, a finite-sample failure that
vanishes at population is not a persistent one, a flip between seeds is said)."""

import dataclasses

import pytest

from bounds.judging.conclusions import CONCLUSIONS, Conclusion, conclude, conclusion_word, population_twins, vanishes
from bounds.judging.records import Record

SOURCE = "Theorem 4.2 (local)"


def rec(verdict, claim="thm4.2-local", level="simulation", source=SOURCE, **fields):
    return Record(claim=claim, source=source, level=level, verdict=verdict, **fields)


def only(records):
    (c,) = conclude(records)
    return c


def test_exact_mim_vacuous_while_the_surrogate_holds_trivially_is_not_supported():
    records = [
        rec("holds-trivially", reading={"mim": "paper-surrogate", "samples": "n=d"}, margin=0.09, trials=10, successes=10),
        rec("vacuous", reading={"mim": "alignment-exact", "samples": "n=d"}, hypotheses={"A.5 (population)": False}),
        rec("vacuous", reading={"mim": "reconstruction", "samples": "n=d"}, hypotheses={"A.5 (population)": False}),
        rec("holds", level="formula", source=f"{SOURCE}: symmetry p <-> 1-p"),  # a fact about the bound only
    ]
    c = only(records)
    assert c.verdict == "supported-trivially"
    assert "holds only trivially in 1 of 3: 10/10 trials, margin +0.09 [mim=paper-surrogate]" in c.summary
    assert "vacuous 2 (A.5 fails)" in c.summary and "10/10 trials" in c.summary
    assert c.records[0] == 0 and sorted(c.records) == [0, 1, 2, 3]


def test_a_finite_sample_failure_that_vanishes_at_population():
    records = [
        rec("fails", reading={"mim": "paper-surrogate", "samples": "n=d"}, trials=40, successes=5, margin=-0.3,
            p_value=1e-12),
        rec("holds", reading={"mim": "paper-surrogate", "samples": "population"}, margin=0.07),
        rec("holds", reading={"mim": "paper-surrogate", "samples": "n=d^2"}, margin=0.01),
    ]
    assert vanishes(records[0], records)
    c = only(records)
    assert c.verdict == "contradicted-finite-sample"
    assert "fails at finite n in 1 of 3" in c.summary and "at population: holds" in c.summary
    assert "every one holds at population" in c.summary


@pytest.mark.parametrize("twin", ["fails", "inconclusive", "vacuous", None])
def test_a_finite_sample_failure_persists_unless_population_holds(twin):
    records = [rec("fails", reading={"samples": "n=d"}, margin=-0.3, p_value=1e-9)]
    if twin is not None:
        records.append(rec(twin, reading={"samples": "population"}))
    c = only(records)
    assert c.verdict == "contradicted" and not vanishes(records[0], records)
    quoted = "e.g. at population" if twin == "fails" else f"at population: {twin or 'not measured'}"
    assert quoted in c.summary


def test_a_failure_at_population_is_quoted_first():
    records = [
        rec("fails", reading={"samples": "n=d"}, p_value=1e-30, margin=-0.5),
        rec("fails", reading={"samples": "population"}, trials=16, successes=1, margin=-0.8),
        rec("holds", reading={"samples": "n=d^2"}),
    ]
    c = only(records)
    assert c.verdict == "contradicted" and c.records[0] == 1
    assert "1/16 trials" in c.summary and "(at population)" in c.summary


def test_the_population_twin_of_sampled_augmentations_is_their_expectation():
    """Sampled augmentations average to their expectation as n -> oo (Reading 7): at population
    only the expectation is measured, so it is the twin of a sampled record; another reading
    of another axis (or another source) is no twin."""
    claim = "thm4.3-local-similar"
    sampled = rec("fails", claim=claim, reading={"samples": "n=d", "augmentation": "sampled"}, p_value=1e-9)
    records = [sampled,
               rec("holds", claim=claim, reading={"samples": "n=d", "augmentation": "expectation"}),
               rec("holds", claim=claim, reading={"samples": "population", "augmentation": "expectation"})]
    assert population_twins(sampled, records) == [records[2]]
    assert only(records).verdict == "contradicted-finite-sample"
    other_source = dataclasses.replace(records[2], source="another study")
    other_reading = dataclasses.replace(records[2], reading={**records[2].reading, "constants": "fitted"})
    assert population_twins(sampled, [sampled, other_source, other_reading]) == []


def test_supported_needs_a_non_trivial_holds_and_counts_the_rest():
    records = [rec("holds", reading={"mim": "paper-surrogate"}, margin=0.2),
               rec("holds", reading={"mim": "paper-surrogate"}, margin=0.05),
               rec("inconclusive", reading={"mim": "reconstruction"}, p_value=0.3),
               rec("vacuous", reading={"mim": "alignment-exact"}, hypotheses={"probability > 0": False})]
    c = only(records)
    assert c.verdict == "supported" and c.records[0] == 0  # the widest margin is quoted
    assert "holds in 2 of 4: margin +0.2 [mim=paper-surrogate]" in c.summary
    assert "inconclusive 1" in c.summary and "vacuous 1 (probability > 0 fails)" in c.summary


def test_vacuous_names_the_hypothesis_and_undecided_the_power():
    vacuous = [rec("vacuous", reading={"mim": m}, hypotheses={f"A.5 (population) ({m})": False, "A.9": True})
               for m in ("alignment-exact", "reconstruction")]
    c = only(vacuous)
    assert c.verdict == "vacuous" and c.summary == "vacuous in all 2: A.5 fails"
    undecided = [rec("inconclusive", trials=24, power=0.15, p_value=1.0), rec("inconclusive", trials=8, power=0.05),
                 rec("vacuous", hypotheses={"A.5": False})]
    c = only(undecided)
    assert c.verdict == "undecided" and "power 0.15 with 24 trials" in c.summary and c.records[0] == 0


def test_formula_facts_decide_only_where_nothing_was_simulated():
    claim = "thm4.4-fl"
    exact = rec("fails", claim=claim, level="formula", source="Theorem 4.4 (FL): reversal with tr_H = d")
    measured = [exact, rec("holds", claim=claim, source="Theorem 4.4 (FL)", margin=0.1)]
    c = only(measured)
    assert c.verdict == "supported" and "fails exactly (formula level): reversal with tr_H = d" in c.summary
    c = only([exact, rec("holds", claim=claim, level="formula", source="Theorem 4.4 (FL): limit")])
    assert c.verdict == "contradicted" and "exact: reversal with tr_H = d" in c.summary


def test_reported_numbers_are_named_and_decide_only_without_a_simulation():
    claim = "table1-mim-drop-le-cl-drop"
    reported = [rec("holds", claim=claim, level="reported", source="Table 1 (CIFAR-10)") for _ in range(3)]
    analogue = rec("inconclusive", claim=claim, source="Table 1 analogue", power=0.04)
    c = only([analogue, *reported])
    assert c.verdict == "undecided" and "the paper's reported numbers satisfy it in 3 of 3" in c.summary
    assert only(reported).verdict == "supported"


def test_replication_counts_seeds_and_says_which_records_flip():
    """A claim whose only failing record flips between fails and inconclusive across seeds: the
    conclusion differs between seeds, and both the count and the flip are stated."""
    flipping = rec("fails", reading={"samples": "population"}, p_value=1e-4,
                   by_seed=("fails", "inconclusive", "fails", "inconclusive", "inconclusive"))
    steady = rec("holds", reading={"samples": "n=d"}, by_seed=("holds",) * 5)
    c = only([flipping, steady])
    assert c.verdict == "contradicted" and c.replicated == (2, 5)
    assert "replicated in 2 of 5 seeds (else supported)" in c.summary
    assert "1 record change verdict between seeds (fails/inconclusive 1)" in c.summary
    robust = [dataclasses.replace(flipping, by_seed=("fails",) * 5), steady]
    c = only(robust)
    assert c.replicated == (5, 5) and "change verdict" not in c.summary
    with pytest.raises(ValueError, match="by_seed"):
        conclude([flipping, dataclasses.replace(steady, by_seed=("holds",) * 3)])


def test_conclusions_come_in_paper_order_with_ledger_indices():
    ids = ["def4.1", "table1-mim-drop-le-cl-drop", "thm4.6", "cor4.5", "thm4.4-fl", "eq1-regular-equals-fl",
           "thm4.3-fl-similar", "thm4.2-local", "mim-alignment-zero-diagonal"]
    records = [rec("holds", claim=i, source=i) for i in ids]
    out = conclude(records)
    assert [c.claim for c in out] == ["thm4.2-local", "thm4.3-fl-similar", "thm4.4-fl", "cor4.5", "thm4.6",
                                      "table1-mim-drop-le-cl-drop", "def4.1", "mim-alignment-zero-diagonal",
                                      "eq1-regular-equals-fl"]
    assert all(records[c.records[0]].claim == c.claim for c in out)
    assert out[0].source == "Theorem 4.2 (local)"  # the claim's paper reference, not a record's


def test_every_word_is_reachable_and_documented():
    reached = {
        conclusion_word([rec("fails", reading={"samples": "population"})]),
        conclusion_word([rec("fails", reading={"samples": "n=d"}), rec("holds", reading={"samples": "population"})]),
        conclusion_word([rec("holds")]), conclusion_word([rec("holds-trivially")]),
        conclusion_word([rec("inconclusive")]), conclusion_word([rec("vacuous")]),
    }
    assert reached == set(CONCLUSIONS)
    assert all(len(meaning) > 40 for meaning in CONCLUSIONS.values())
    with pytest.raises(ValueError, match="records"):
        conclusion_word([])


def test_a_conclusion_checks_its_fields_and_round_trips():
    c = Conclusion("thm4.6", "Theorem 4.6", "supported", "holds in 1 of 1", (3, 1), (4, 5))
    assert Conclusion.from_json(c.to_json()) == c and c.to_json()["replicated"] == [4, 5]
    with pytest.raises(ValueError, match="verdict='holds'"):
        Conclusion("thm4.6", "Theorem 4.6", "holds", "", ())
    with pytest.raises(ValueError, match="replicated"):
        Conclusion("thm4.6", "Theorem 4.6", "supported", "", (), (6, 5))
