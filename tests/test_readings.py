"""theory.Reading: the reading vocabulary (SPEC "Readings"), its errors and the ledger mapping."""

import pytest

import theory
from theory import READINGS, VOCABULARY, Reading, reading_key, readings_of
from theory.readings import as_reading_mapping, vocabulary_table


def test_vocabulary_covers_every_axis_with_a_meaning_per_value():
    assert tuple(VOCABULARY) == READINGS
    for axis, values in VOCABULARY.items():
        assert values, axis
        for value, meaning in values.items():
            reading = Reading(axis, value)
            assert reading.meaning == meaning and len(meaning) > 10


@pytest.mark.parametrize("axis, value", [
    ("mim", "paper-surrogate"), ("mim", "alignment-exact"), ("mim", "reconstruction"),
    ("cl", "similar"), ("cl", "dissimilar"), ("decl", "objective-eq1"), ("decl", "per-neighbourhood"),
    ("decl", "gossip"), ("sensitivity", "paper-c"), ("sensitivity", "class"), ("sensitivity", "proof"),
    ("constants", "unit"), ("constants", "fitted"), ("samples", "n=d"), ("samples", "population"),
    ("augmentation", "expectation"), ("augmentation", "sampled"), ("variant", "statement"), ("variant", "proof"),
])  # fmt: skip
def test_spec_readings_are_documented(axis, value):
    assert Reading(axis, value).meaning == VOCABULARY[axis][value]


def test_samples_power_family():
    assert "d^1.5" in Reading("samples", "n=d^1.5").meaning
    assert "d^2" in Reading("samples", "n=d^2").meaning
    with pytest.raises(ValueError, match="n=d\\^0.5"):
        Reading("samples", "n=d^0.5")  # beta < 1 is outside the theorems and undocumented


def test_unknown_axis_names_field_value_and_allowed_axes():
    with pytest.raises(ValueError) as err:
        Reading("eigen", "corrected")
    message = str(err.value)
    assert "axis='eigen'" in message and "'corrected'" in message and str(READINGS) in message


def test_new_value_on_a_known_axis_needs_its_meaning():
    with pytest.raises(ValueError, match="value='barlow-twins' on axis 'cl'.*give its meaning"):
        Reading("cl", "barlow-twins")
    own = Reading("cl", "barlow-twins", "a two-view redundancy-reduction loss")
    assert own.meaning == "a two-view redundancy-reduction loss" and str(own) == "cl=barlow-twins"
    with pytest.raises(ValueError, match="second meaning"):
        Reading("mim", "alignment-exact", "something else")
    with pytest.raises(ValueError, match="non-empty"):
        Reading("mim", "")


def test_readings_are_values_and_keys():
    a, b = Reading("mim", "alignment-exact"), Reading("mim", "alignment-exact")
    assert a == b and hash(a) == hash(b) and {a: 1}[b] == 1
    assert Reading("cl", "x", "one meaning") == Reading("cl", "x", "another")  # the meaning is not compared
    with pytest.raises(AttributeError):
        a.value = "reconstruction"


def test_mapping_round_trip():
    readings = (Reading("mim", "alignment-exact"), Reading("samples", "population"), Reading("sensitivity", "proof"))
    key = reading_key(*readings)
    assert key == {"mim": "alignment-exact", "samples": "population", "sensitivity": "proof"}
    assert list(key) == ["mim", "samples", "sensitivity"]  # the order given
    assert readings_of(key) == readings
    assert readings_of(readings) == readings
    assert reading_key() == {}
    assert as_reading_mapping(readings) == key == as_reading_mapping(key)


def test_mapping_errors():
    with pytest.raises(ValueError, match="two readings on axis 'mim'"):
        reading_key(Reading("mim", "alignment-exact"), Reading("mim", "reconstruction"))
    with pytest.raises(ValueError, match="must be a theory.Reading"):
        reading_key({"mim": "alignment-exact"})
    with pytest.raises(ValueError, match="reading keys \\['colour'\\]"):
        as_reading_mapping({"colour": "red"})


def test_vocabulary_is_read_only_and_rendered():
    with pytest.raises(TypeError):
        VOCABULARY["mim"]["new"] = "x"
    table = vocabulary_table()
    assert table.count("\n") + 1 == 2 + sum(len(v) for v in VOCABULARY.values()) + 1
    assert "| augmentation | sampled |" in table


def test_derivations_and_claims_use_the_axes():
    for claim in theory.CLAIMS.values():
        assert set(claim.readings) <= set(READINGS)
    for x in theory.derivations():
        readings_of(x.reading)  # every formula-level reading is in the vocabulary
