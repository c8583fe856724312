"""bounds.judging.records.Record: theory claim ids only, readings as `theory.Reading`, JSON round trip."""

import json

import jax
import pytest

import theory
from bounds.judging.records import Record
from bounds.producers import downstream, mar
from theory import Reading

FIELDS = dict(source="Theorem 4.2 (local)", level="simulation", verdict="holds")


def test_unknown_claim_id_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match=r"claim='thm9-local' is not a claim of theory .*known ids: .*thm4.2-local"):
        Record(claim="thm9-local", **FIELDS)


@pytest.mark.parametrize("claim_id", sorted(theory.CLAIMS))
def test_every_theory_claim_is_accepted(claim_id):
    assert Record(claim=claim_id, **FIELDS).claim == claim_id


def test_readings_are_stored_as_the_ledger_mapping():
    readings = [Reading("mim", "alignment-exact"), Reading("samples", "population")]
    from_readings = Record(claim="thm4.2-local", reading=readings, **FIELDS)
    from_mapping = Record(claim="thm4.2-local", reading={"mim": "alignment-exact", "samples": "population"}, **FIELDS)
    assert from_readings == from_mapping
    assert from_readings.reading == {"mim": "alignment-exact", "samples": "population"}
    assert from_readings.to_json()["reading"] == {"mim": "alignment-exact", "samples": "population"}
    assert theory.readings_of(from_readings.reading) == tuple(readings)
    with pytest.raises(ValueError, match="two readings on axis 'mim'"):
        Record(claim="thm4.2-local", reading=[Reading("mim", "alignment-exact"), Reading("mim", "reconstruction")],
               **FIELDS)
    with pytest.raises(ValueError, match="reading keys"):
        Record(claim="thm4.2-local", reading={"colour": "red"}, **FIELDS)


def test_json_round_trip():
    record = Record(claim="cor4.5", source="Corollary 4.5, uniform topology", level="simulation", verdict="fails",
                    reading=[Reading("decl", "gossip"), Reading("sensitivity", "proof")], bound=0.5, empirical=0.25,
                    margin=float("nan"), ci=(0.1, 0.2), p_value=0.01, trials=10, successes=3,
                    hypotheses={"A.5": True}, n_seeds=4, params={"d": 64, "grid": (1, 2)}, note="n")
    row = json.loads(json.dumps(record.to_json()))
    assert row["margin"] is None and row["reading"] == {"decl": "gossip", "sensitivity": "proof"}
    back = Record.from_json(row, strict=True)
    assert back.to_json() == record.to_json()
    assert Record.from_json(row) == back


def test_from_json_reads_other_versions_unless_strict():
    row = {"claim": "thm9-retired", "source": "s", "level": "formula", "verdict": "holds", "reading": {},
           "p_adjusted": 0.1, "by_seed": None}  # fields of other schemas are ignored
    assert Record.from_json(row).claim == "thm9-retired"
    assert Record.from_json(row).reading == {} and Record.from_json(row).note == ""
    with pytest.raises(ValueError, match="thm9-retired"):
        Record.from_json(row, strict=True)
    with pytest.raises(ValueError, match="verdict"):  # the vocabularies are checked either way
        Record.from_json({**row, "verdict": "true"})
    with pytest.raises(ValueError, match=r"lacks the field\(s\) \['level'\]"):
        Record.from_json({k: v for k, v in row.items() if k != "level"})


def _claims_and_sources(records):
    for r in records:
        claim = theory.get_claim(r.claim)
        assert r.source.startswith(claim.source), (r.source, claim.source)
        assert set(r.reading) <= set(claim.readings) | {"samples", "constants", "augmentation", "variant"}
        theory.readings_of(r.reading)


def test_reported_records_name_theory_claims_and_their_sources():
    _claims_and_sources(downstream.reported_table1_records() + downstream.reported_table5_records()
                        + mar.reported_records())
    for claim_id in (downstream.TABLE1, downstream.TABLE5, downstream.SENSITIVITY,
                     mar.FIG2B, mar.TABLE5, mar.TABLE7, mar.TABLE8):
        assert theory.get_claim(claim_id).family == "experiment"


def test_smoke_ledger_claims_are_theory_claims():
    import bounds

    with jax.enable_x64(True):
        ledger, _ = bounds.run_suite("smoke", only=("formula",))
    rows = [r.to_json() for r in ledger.records]
    assert len(rows) == len(theory.derivations())
    assert {row["claim"] for row in rows} <= set(theory.CLAIMS)
    _claims_and_sources(Record.from_json(row, strict=True) for row in rows)


def test_a_claim_installed_through_the_entry_point_group_is_accepted(monkeypatch):
    # An installed package's claim (entry-point group dssl_bounds.claims, read when asked): the
    # records of its producer name it like a built-in one; before it is installed they are refused.
    from importlib import metadata

    from theory import registry

    with pytest.raises(ValueError, match="installed through the entry-point group 'dssl_bounds.claims'"):
        Record(claim=INSTALLED.id, **FIELDS)
    real = metadata.entry_points

    def entry_points(*, group):
        if group != theory.CLAIM_GROUP:
            return real(group=group)
        return [metadata.EntryPoint("mine", f"{__name__}:INSTALLED", group)]

    monkeypatch.setattr(registry.importlib.metadata, "entry_points", entry_points)
    assert theory.get_claim(INSTALLED.id) is INSTALLED and INSTALLED.id not in theory.CLAIMS
    assert Record(claim=INSTALLED.id, **FIELDS).claim == INSTALLED.id


def _installed_claim() -> theory.Claim:
    import sympy as sp

    acc = {name: sp.Symbol(name, real=True) for name in ("acc_mine", "acc_MIM")}
    return theory.Claim(id="mine-beats-mim", source="An extension's claim", kind="comparison", symbols=acc,
                        domains={"acc_mine": "probe accuracy of the extension's model",
                                 "acc_MIM": "probe accuracy of plain MIM"},
                        hypotheses=(), statement=sp.Ge(acc["acc_mine"], acc["acc_MIM"]), readings=("mim",),
                        family="experiment")


INSTALLED = _installed_claim()
