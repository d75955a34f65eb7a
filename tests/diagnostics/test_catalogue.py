"""The catalogue a clinician orders from: every code of domain.md §9, names in three
languages, panels with their tests, imaging by modality and body site."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from farcare.diagnostics import catalogue

DOMAIN = Path(__file__).resolve().parents[3] / "shared" / "domain.md"
SECTION_9_CODES = [
    "58410-2",
    "718-7",
    "6690-2",
    "777-3",
    "51990-0",
    "2823-3",
    "2951-2",
    "2160-0",
    "2345-7",
    "4548-4",
    "10839-9",
    "67151-1",
    "6301-6",
    "1988-5",
    "24356-8",
    "2106-3",
    "11524-6",
    "36643-5",
    "24725-4",
]


def test_every_code_of_the_reference_can_be_ordered_with_names_in_three_languages():
    for code in SECTION_9_CODES:
        item = catalogue.entry(code)
        assert item is not None, code
        assert all(item.names[language] for language in ("ru", "ko", "en")), code


def test_the_reference_lists_no_code_the_catalogue_lacks():
    if not DOMAIN.exists():
        pytest.skip("the reference (../shared/domain.md) is not beside this work tree")
    section = DOMAIN.read_text().split("## 9.")[1].split("## 10.")[0]
    listed = set(re.findall(r"\b\d{3,5}-\d\b", section.split("- Units")[0]))
    assert listed == set(SECTION_9_CODES)


def test_a_blood_count_orders_haemoglobin_leukocytes_and_platelets_from_one_tube():
    cbc = catalogue.entry("58410-2")
    assert cbc is not None and cbc.kind == "panel"
    assert {"718-7", "6690-2", "777-3"} <= set(cbc.members)
    assert {catalogue.entry(code).specimen for code in cbc.members} == {cbc.specimen}


def test_the_metabolic_panel_has_potassium_sodium_creatinine_and_glucose_in_si_units():
    bmp = catalogue.entry("51990-0")
    assert bmp is not None
    assert {"2823-3", "2951-2", "2160-0", "2345-7"} <= set(bmp.members)
    assert catalogue.entry("2823-3").unit == "mmol/L"
    assert catalogue.entry("2160-0").unit == "umol/L"
    assert catalogue.entry("718-7").unit == "g/L"


def test_imaging_is_ordered_by_modality_and_body_site():
    shown = {item.code: (item.modality, item.body_site) for item in catalogue.entries("imaging")}
    assert shown == {
        "11524-6": ("ECG", "heart"),
        "36643-5": ("DX", "chest"),
        "24725-4": ("CT", "head"),
        "24627-2": ("CT", "chest"),
    }
    assert all(item.kind == "procedure" for item in catalogue.entries("imaging"))


def test_search_finds_tests_by_code_or_by_words_in_any_language():
    assert [item.code for item in catalogue.search("2823", "en")] == ["2823-3"]
    assert catalogue.search("калий", "ru")[0].code == "2823-3"
    assert catalogue.search("칼륨", "ko")[0].code == "2823-3"
    assert catalogue.search("blood count", "en")[0].code == "58410-2"
    # A Russian word found while the page is in English.
    assert "24725-4" in [item.code for item in catalogue.search("кт головы", "en")]
    assert catalogue.search("   ", "en") == []


def test_a_laboratory_sending_the_moles_code_is_understood_as_the_same_test():
    assert catalogue.canonical("14749-6") == "2345-7"
    assert catalogue.entry("14682-9").code == "2160-0"


def test_labels_follow_the_readers_language_and_unknown_codes_stay_as_they_are():
    assert catalogue.label("2823-3", "ru") == "Калий"
    assert catalogue.label("2823-3", "ko") == "칼륨"
    assert catalogue.label("9999-9", "ru") == "9999-9"


def test_pregnancy_tests_and_troponins_wait_for_a_clinician_but_hba1c_does_not():
    assert catalogue.review_codes() == {"2106-3", "10839-9", "67151-1"}
    assert catalogue.entry("2106-3").review_required
    assert not catalogue.entry("4548-4").review_required


def test_the_review_list_is_configurable(settings):
    settings.FARCARE_RESULTS_REVIEW_CODES = ["4548-4"]
    assert catalogue.entry("4548-4").review_required
    assert not catalogue.entry("2106-3").review_required
