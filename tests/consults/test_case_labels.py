"""The case page says every coded value in the reader's language: "кислород", not "True"; the
ACVPU letter with its meaning; the SpO₂ scale, the NEWS2 risk, the form, the mode and the status
in words; numbers as the reader writes them."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client
from django.utils import translation
from django.utils.translation import pgettext

from farcare.clinical.vitals import parse_vitals

from .conftest import Scene


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def _vitals(page: str) -> dict[str, str]:
    """The vital signs table as a reader sees it: name → value with its unit."""
    table = re.search(r'<table data-testid="vitals">(.*?)</table>', page, re.S)
    assert table, "no vital signs on the page"
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td>", table.group(1), re.S)
    return {_text(name): _text(value) for name, value in rows}


def _fields(page: str) -> dict[str, str]:
    return {
        _text(term): _text(definition)
        for term, definition in re.findall(r"<dt>(.*?)</dt>\s*<dd[^>]*>(.*?)</dd>", page, re.S)
    }


# What a Russian and a Korean consultant read for a patient on oxygen, newly confused.
EXPECTED = {
    "ru": {
        "Воздух или кислород": "кислород",
        "Шкала SpO₂": "шкала 2 (гиперкапническая дыхательная недостаточность)",
        "Температура тела": "38,4 °C",
    },
    "ko": {
        "실내 공기 또는 산소 투여": "산소",
        "SpO₂ 척도": "척도 2(고탄산성 호흡부전)",
        "체온": "38.4 °C",
    },
}


@pytest.mark.parametrize("language", ["ru", "ko"])
def test_the_consultant_reads_oxygen_and_consciousness_in_words(scene: Scene, language: str):
    vitals, errors = parse_vitals(
        {
            "respiratory_rate": "24",
            "spo2": "95",
            "spo2_scale": "2",
            "on_oxygen": "oxygen",
            "oxygen_flow": "2",
            "systolic_bp": "105",
            "heart_rate": "118",
            "consciousness": "C",
            "temperature": "38.4",
        },
        "en",
    )
    assert not errors
    consultation = scene.submit(vitals=vitals)
    reader = scene.hub_cardiologist
    reader.language = language
    reader.save(update_fields=["language"])
    client = Client()
    client.force_login(reader)
    page = client.get(f"/consultations/{consultation.uuid}/").content.decode()

    shown = _vitals(page)
    for name, value in EXPECTED[language].items():
        assert shown[name] == value
    assert "True" not in shown.values() and "False" not in shown.values()
    with translation.override(language):
        confusion = pgettext("ACVPU", "New confusion")
        band = pgettext("NEWS2 risk", "High")
    assert confusion != "New confusion" and band != "High"  # the catalogue has them
    assert any(value == f"{confusion} (C)" for value in shown.values())
    news2 = _text(re.search(r'data-testid="news2">(.*?)</p>', page, re.S).group(1))  # type: ignore[union-attr]
    assert news2 == f"NEWS2: {consultation.news2_total} — {band}"
    # The head of the page: no code word left untranslated.
    head = " ".join(_fields(page).values())
    for code in ("emergency", "deferred", "requested", "high"):
        assert code not in head


@pytest.mark.parametrize(
    ("language", "transferred", "late"),
    [
        ("ru", "переведён в другое учреждение", "срок ответа истёк"),
        ("ko", "전원", "응답 기한 초과"),
        ("en", "transferred", "deadline passed"),
    ],
)
def test_the_timeline_says_what_the_system_noted_in_the_readers_words(language, transferred, late):
    from farcare.consults.models import Transition

    with translation.override(language):
        assert Transition(event="acknowledged", note="transferred").note_label == transferred
        assert Transition(event="fail", note="deadline passed").note_label == late
        # What a person wrote stays as written.
        assert Transition(event="cancel", note="transferred by road").note_label == (
            "transferred by road"
        )
