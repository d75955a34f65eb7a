"""ICD-10 as the consultant codes a conclusion: valid WHO codes, labels in three languages."""

import csv
import re

import pytest

from farcare.clinical import icd10

HANGUL = re.compile(r"[\uac00-\ud7a3]")


def test_an_anterior_stemi_is_a_valid_code_with_its_who_name():
    assert icd10.is_valid("I21.0")
    assert icd10.label("I21.0", "en") == "Acute transmural myocardial infarction of anterior wall"


@pytest.mark.parametrize(
    "typed", ["I21.0", "i21.0", "I210", " I21.0 ", "I21,0", "i 21.0", "I21.0."]
)
def test_the_ways_a_code_gets_typed_all_normalise_to_the_who_form(typed):
    assert icd10.normalise_code(typed) == "I21.0"
    assert icd10.is_valid(typed)


@pytest.mark.parametrize(
    ("typed", "code"),
    [("А09", "A09"), ("С50.9", "C50.9"), ("Т68", "T68"), ("c509", "C50.9"), ("J45†", "J45")],
)
def test_cyrillic_lookalike_letters_and_marks_are_normalised(typed, code):
    assert icd10.normalise_code(typed) == code
    assert icd10.is_valid(typed)


@pytest.mark.parametrize(
    "code",
    [
        "X99.99",  # X99 exists, but has no such subcategory
        "I20-I25",  # a block of ischaemic heart diseases: a heading, not a diagnosis
        "IX",  # the chapter of circulatory diseases
        "I",  # chapter I
        "ABC",
        "I21.99",
        "",
        "   ",
        "I2",
    ],
)
def test_headings_and_made_up_codes_are_not_diagnoses(code):
    assert not icd10.is_valid(code)


@pytest.mark.parametrize("code", ["I21", "I21.4", "J18.9", "T33.5", "A84.0", "U07.1", "O14.2"])
def test_categories_and_subcategories_are_diagnoses(code):
    assert icd10.is_valid(code)


def test_an_infarct_has_its_russian_and_korean_name():
    assert icd10.label("I21.0", "ru") == "Острый трансмуральный инфаркт передней стенки миокарда"
    assert icd10.label("i210", "ko") == "전벽의 급성 전층심근경색증"
    assert icd10.has_label("I21.0", "ru")


def test_a_code_outside_the_curated_set_falls_back_to_english():
    # Q90 (Down syndrome) is rarely the reason for a teleconsultation from a post
    assert not icd10.has_label("Q90", "ru")
    assert icd10.label("Q90", "ru") == icd10.label("Q90", "en") == "Down syndrome"


def test_every_curated_code_has_its_russian_and_korean_label():
    for code in icd10._curated():
        assert icd10.has_label(code, "ru") and icd10.has_label(code, "ko"), code


def test_an_empty_korean_cell_falls_back_to_english(monkeypatch):
    table = {code: dict(names) for code, names in icd10._curated().items()}
    del table["A15.0"]["ko"]  # as an empty cell is read
    monkeypatch.setattr(icd10, "_curated", lambda: table)
    assert icd10.has_label("A15.0", "ru")
    assert not icd10.has_label("A15.0", "ko")
    assert icd10.label("A15.0", "ko") == icd10.label("A15.0", "en")


def test_a_label_is_only_given_for_a_diagnosis():
    with pytest.raises(ValueError):
        icd10.label("I20-I25", "en")


def test_searching_infarct_in_russian_finds_the_acute_myocardial_infarctions():
    results = icd10.search("инфаркт", "ru")
    codes = [code for code, _ in results]
    assert {"I21", "I21.0", "I21.1", "I21.4", "I21.9"} <= set(codes)
    assert dict(results)["I21.0"] == "Острый трансмуральный инфаркт передней стенки миокарда"
    assert all(icd10.is_valid(code) for code in codes)


def test_search_words_match_word_beginnings_in_any_order():
    codes = [code for code, _ in icd10.search("миокарда остр", "ru")]
    assert "I21.9" in codes
    assert "I63" not in codes  # "инфаркт мозга" is not a myocardial infarction


def test_searching_a_code_prefix_lists_that_category_in_who_order():
    results = icd10.search("I21", "ru")
    assert [code for code, _ in results][:3] == ["I21", "I21.0", "I21.1"]
    assert results[0][1] == "Острый инфаркт миокарда"


@pytest.mark.parametrize("typed", ["i210", "I21.0", "i21,0"])
def test_a_full_code_typed_any_way_finds_itself(typed):
    assert icd10.search(typed, "en")[0][0] == "I21.0"


def test_a_code_typed_with_a_cyrillic_letter_is_found():
    assert icd10.search("С50", "ru")[0][0] == "C50"


def test_korean_search_finds_words_inside_compounds():
    codes = [code for code, _ in icd10.search("심근경색", "ko")]
    assert "I21" in codes
    assert "I21.0" in codes  # 전벽의 급성 전층심근경색증


def test_english_words_find_diagnoses_throughout_the_who_list():
    results = icd10.search("fracture femur", "en")
    assert ("S72", "Fracture of femur") in results


def test_english_words_also_work_in_russian_and_show_the_russian_label():
    results = dict(icd10.search("frostbite", "ru"))
    assert results["T33"] == "Поверхностное отморожение"


def test_search_respects_the_limit_and_ignores_empty_queries():
    assert len(icd10.search("A", "en", limit=5)) == 5
    assert icd10.search("  ", "ru") == []
    assert icd10.search("zzzzqqq", "en") == []


# The curated labels file ------------------------------------------------------------------


def _rows():
    with icd10.LABELS_CSV.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_label_file_has_enough_codes_all_valid_and_unique():
    rows = _rows()
    codes = [row["code"] for row in rows]
    assert len(codes) >= 150
    assert len(set(codes)) == len(codes)
    invalid = [
        code for code in codes if not icd10.is_valid(code) or code != icd10.normalise_code(code)
    ]
    assert invalid == []


def test_every_curated_code_has_a_russian_label_and_korean_labels_are_korean():
    for row in _rows():
        assert re.search("[а-яё]", row["ru"], re.IGNORECASE), row["code"]
        assert row["ko"] == "" or HANGUL.search(row["ko"]), row["code"]
        assert not row["ru"].startswith(" ") and not row["ru"].endswith(" ")


@pytest.mark.parametrize(
    "code",
    [
        # acute coronary syndromes, hypertension, stroke, heart failure, arrhythmias
        "I20", "I21", "I22", "I10", "I11", "I13", "I15", "I60", "I61", "I63", "I64", "I50",
        "I47", "I48", "I49",
        # pneumonia, COPD, asthma
        "J12", "J13", "J15", "J18", "J44", "J45", "J46",
        # cold, trauma and burns of the north
        "T33", "T34", "T35", "T68", "S02", "S06", "S22", "S32", "S42", "S52", "S72", "S82",
        "T20", "T25", "T29", "T31",
        # the acute abdomen and bleeding
        "K35", "K80", "K81", "K85", "K92",
        # pregnancy
        "O00", "O14", "O20", "O44", "O45", "O46", "O60", "O72",
        # diabetes, tuberculosis, alcohol, cancer, children
        "E10", "E11", "A15", "A16", "T51", "F10", "C16", "C18", "C34", "C50", "C61",
        "J06", "A09", "R50",
    ],
)  # fmt: skip
def test_the_diagnoses_common_at_remote_posts_are_labelled_in_russian(code):
    assert icd10.has_label(code, "ru")
