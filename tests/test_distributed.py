"""Ledger records of the connectivity theorems (bounds.distributed), smoke suite.

Checks: every claim the issue names is reported under every DecL reading; the identity
``eq1-regular-equals-fl`` holds to rounding on regular graphs (and the non-regular graphs differ,
so the identity is not vacuous); the exact identities the readings imply show up as such
(``objective-eq1`` on regular graphs is FL at every |Ā|: cor4.5 cannot hold there, thm4.6
holds with equality); at |A_i| = N every closed-form DecL model equals FL.
"""

import numpy as np
import pytest

from bounds.distributed import DECL_READINGS, SIZES, TOPOLOGY_KINDS, measure, records
from bounds.records import LEVELS, READING_KEYS, VERDICTS


@pytest.fixture(scope="module")
def smoke_records():
    return records("smoke", seed=0)


def test_every_claim_and_reading_is_reported(smoke_records):
    claims = {r.claim for r in smoke_records}
    assert claims >= {"thm4.2-decl", "thm4.3-decl-similar", "thm4.3-decl-dissimilar", "thm4.4-decl", "cor4.5",
                      "thm4.6", "eq1-regular-equals-fl", "thm4.2-fl", "thm4.3-fl-similar"}
    for claim in ("cor4.5", "thm4.6", "thm4.4-decl"):
        readings = {r.reading.get("decl") for r in smoke_records if r.claim == claim}
        assert readings == set(DECL_READINGS), claim
        for decl in DECL_READINGS:
            topologies = {r.params["topology"] for r in smoke_records if r.claim == claim and r.reading["decl"] == decl}
            sensitivities = {r.reading["sensitivity"] for r in smoke_records if r.claim == claim and r.reading["decl"] == decl}
            assert topologies == set(TOPOLOGY_KINDS) and sensitivities == {"paper-c", "class", "proof"}
    variants = {r.reading.get("variant") for r in smoke_records if r.claim == "thm4.3-decl-similar"}
    assert variants == {"statement", "proof"}
    for r in smoke_records:
        assert r.verdict in VERDICTS and r.level in LEVELS and set(r.reading) <= set(READING_KEYS)
        assert r.note and r.n_seeds >= 10
        if r.verdict != "inconclusive" or r.bound is not None:
            assert r.margin is None or np.isfinite(r.margin)


def test_eq1_identity_record(smoke_records):
    (rec,) = [r for r in smoke_records if r.claim == "eq1-regular-equals-fl"]
    assert rec.verdict == "holds" and rec.empirical <= 1e-10
    assert rec.params["max_pi_deviation_regular"] <= 1e-15
    assert rec.params["max_pi_deviation_general"] > 1e-3
    assert max(rec.params["max_r_difference_general"].values()) > 1e-6


def test_exact_identities_are_reported_as_such(smoke_records):
    eq1_uniform = [r for r in smoke_records if r.reading.get("decl") == "objective-eq1" and r.params.get("topology") == "uniform"]
    for r in eq1_uniform:
        if r.claim == "cor4.5":
            assert r.verdict in ("fails", "holds-trivially"), r
            assert "identical at every" in r.note or "s = 0 at every" in r.note
        if r.claim == "thm4.6":
            assert r.verdict == "holds-trivially" and "exactly" in r.note
    closed = [r for r in smoke_records if r.claim == "thm4.6" and r.reading["decl"] != "gossip"]
    assert closed and all(r.params["equality_gap_at_N"] <= 1e-12 for r in closed)


def test_surrogate_bounds_flagged_trivial(smoke_records):
    surrogate = [r for r in smoke_records if r.claim == "thm4.2-decl" and r.reading.get("mim") == "paper-surrogate"
                 and r.reading["decl"] == "per-neighbourhood"]
    assert surrogate and all(r.verdict in ("holds-trivially", "inconclusive") for r in surrogate)
    assert any(r.verdict == "holds-trivially" for r in surrogate)


def test_complete_graph_neighbourhood_models_equal_fl():
    study = SIZES["smoke"][0]
    sw = measure(study, seed=1, train=False)
    complete = sw.graphs.kinds.index("complete")
    for objective, r_nb in sw.r["per-neighbourhood"].items():
        np.testing.assert_allclose(r_nb[:, complete], np.broadcast_to(sw.r_fl[objective][:, None], r_nb[:, complete].shape),
                                   atol=1e-10)
        np.testing.assert_allclose(sw.r["objective-eq1"][objective][:, complete], sw.r_fl[objective], atol=1e-10)
    np.testing.assert_allclose(sw.graphs.avg[:, complete], study.N)
