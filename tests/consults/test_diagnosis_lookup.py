"""The diagnoses field read as it is typed: codes typed any way, words in three languages, the
code picked in place of the words."""

import pytest

from farcare.consults.diagnosis_lookup import lookup, split_codes, with_pick


@pytest.mark.parametrize(
    ("typed", "parts"),
    [
        ("I21,0", ["I21,0"]),  # the decimal comma of a Russian keyboard, not two codes
        ("I21.0, I10", ["I21.0", "I10"]),
        ("I21,0,I10", ["I21,0", "I10"]),
        ("I21.0; I10", ["I21.0", "I10"]),
        ("I21.0 I10", ["I21.0", "I10"]),
        ("инфаркт миокарда", ["инфаркт миокарда"]),
        ("I10, инфаркт миокарда", ["I10", "инфаркт миокарда"]),
        ("", []),
    ],
)
def test_the_field_is_split_into_codes_as_a_clinician_types_them(typed, parts):
    assert split_codes(typed) == parts


def test_a_comma_typo_is_read_as_the_code_with_its_description():
    found = lookup("I21,0", "ru")
    (reading,) = found.readings
    assert reading.code == "I21.0" and reading.corrected
    assert "инфаркт" in reading.label
    assert found.suggestions == ()  # a subcategory is complete


def test_a_category_being_typed_suggests_its_subcategories():
    found = lookup("I21", "en")
    codes = [code for code, _label in found.suggestions]
    assert codes[:2] == ["I21", "I21.0"]


def test_words_being_typed_are_a_search_not_a_mistake():
    found = lookup("I10, 심근경색", "ko")
    assert [reading.code for reading in found.readings] == ["I10"]
    assert found.query == "심근경색"
    assert "I21" in [code for code, _label in found.suggestions]


def test_a_finished_field_reports_what_is_not_a_code():
    found = lookup("I10, Q99.99", "en", finished=True)
    assert [(r.code, r.valid) for r in found.readings] == [("I10", True), ("Q99.99", False)]
    assert found.suggestions == ()


def test_codes_already_chosen_are_not_suggested_again():
    found = lookup("I21.0, I21", "en")
    assert "I21.0" not in [code for code, _label in found.suggestions]


def test_picking_replaces_the_words_being_typed():
    assert with_pick("I10, инфаркт", "I21.0") == "I10, I21.0, "
    assert with_pick("i10, ", "I21.0") == "I10, I21.0, "
    assert with_pick("I21.0, I21", "I21.0") == "I21.0, "
