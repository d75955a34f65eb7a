"""Issue 15's key story: a trainer makes a teaching case of a consultation whose question,
summary, thread, conclusion, file names, photo EXIF and DICOM carry the names of the patient
and of three clinicians (Cyrillic, Latin, Hangul), SNILS, OMS, phone and dates, and publishes
it; nothing of that survives anywhere in the case as published: not in a field, not in its
JSON, not in a byte of a file."""

from __future__ import annotations

import io
import json
from datetime import datetime

import pydicom
import pytest
from PIL import Image

from farcare.audit.services import Accessor
from farcare.casebook.models import CaseFile, CaseStatus, TeachingCase
from farcare.casebook.services import case_make, case_move, clinician_answer

from ..conftest import logged_in
from .conftest import DATES, NAMES, NUMBERS, without_uuids

SHIFT = -417  # days; fixed here so that no shifted date can equal an original one by chance


def publish(case) -> TeachingCase:
    trainer = Accessor(case.trainer)
    made = case_make(accessor=trainer, consultation=case.consultation, shift_days=SHIFT)
    made = case_move(accessor=trainer, case=made, event="ask")
    for ask in made.asks.all():
        clinician_answer(accessor=Accessor(ask.clinician), ask=ask, agree=True)
    return case_move(accessor=trainer, case=made, event="publish")


def encodings_of(needle: str) -> list[bytes]:
    forms = {needle, needle.upper(), needle.lower()}
    out = []
    for form in forms:
        for encoding in ("utf-8", "utf-16-le", "utf-16-be", "cp1251", "euc-kr", "koi8-r"):
            try:
                out.append(form.encode(encoding))
            except UnicodeEncodeError:
                continue
    return out


def assert_clean_text(where: str, text: str) -> None:
    folded = without_uuids(text).casefold()
    for needle in NAMES + NUMBERS + DATES:
        assert needle.casefold() not in folded, f"{needle!r} survives in {where}: {text[:300]!r}"


def assert_clean_bytes(where: str, data: bytes, *, digits: bool = True) -> None:
    needles = NAMES + (NUMBERS + DATES if digits else [])
    for needle in needles:
        for encoded in encodings_of(needle):
            assert encoded not in data, f"{needle!r} ({encoded!r}) survives in the bytes of {where}"


def every_field(instance) -> dict[str, str]:
    values = {}
    for field in instance._meta.concrete_fields:
        value = getattr(instance, field.attname)
        if isinstance(value, dict | list):
            value = json.dumps(value, ensure_ascii=False)
        values[field.name] = str(value)
    return values


def test_nothing_that_identifies_survives_in_the_published_case(case):
    published = publish(case)
    assert published.status == CaseStatus.PUBLISHED

    # Every field of the case, its JSON included, and every field of its files.
    for name, value in every_field(published).items():
        assert_clean_text(f"TeachingCase.{name}", value)
    files = list(published.files.all())
    for item in files:
        for name, value in every_field(item).items():
            assert_clean_text(f"CaseFile.{name}", value)

    # The file names are neutral; the PDF (a discharge letter) is withheld.
    assert sorted(f.name for f in files) == ["dicom-2.dcm", "image-1.jpg", "text-3.txt"]

    # Every byte of every file and preview.
    for item in files:
        data = item.file.open("rb").read()
        if item.kind == "dicom":
            # DICOM UIDs are long random digit strings: digits are checked element by element.
            assert_clean_bytes(item.name, data, digits=False)
        else:
            assert_clean_bytes(item.name, data)
        if item.preview:
            assert_clean_bytes(f"{item.name} preview", item.preview.open("rb").read())

    # The photo's EXIF: nothing left but (at most) its orientation.
    photo = next(f for f in files if f.kind == "image")
    image = Image.open(io.BytesIO(photo.file.open("rb").read()))
    exif = image.getexif()
    assert set(exif.keys()) <= {0x0112}
    assert not exif.get_ifd(0x8825) and not exif.get_ifd(0x8769)
    assert "exif" not in image.info or len(image.info["exif"]) < 40

    # Every element of the DICOM, re-read (also inside sequences).
    dicom = next(f for f in files if f.kind == "dicom")
    dataset = pydicom.dcmread(io.BytesIO(dicom.file.open("rb").read()))
    assert dataset.PatientIdentityRemoved == "YES"
    assert str(dataset.PatientName) == f"CASE-{published.code}"
    for element in dataset.iterall():
        if element.VR in ("OB", "OW", "UN", "SQ") or element.tag == 0x7FE00010:
            continue
        text = str(element.value)
        for needle in NAMES:
            assert needle.casefold() not in text.casefold(), f"{needle} in {element}"
        if element.VR != "UI":
            for needle in NUMBERS + DATES:
                assert needle not in text, f"{needle} in {element}"

    # The text file, decoded.
    text_file = next(f for f in files if f.kind == "text")
    assert_clean_text("text-3.txt", text_file.file.open("rb").read().decode("utf-8"))


def test_dates_move_together_and_keep_their_intervals(case):
    published = publish(case)
    thread = published.content["thread"]
    first, last = (datetime.fromisoformat(m["at"]) for m in (thread[0], thread[-1]))
    assert (last - first).total_seconds() == (2 * 24 - 3) * 3600  # 10 March 05:00 → 12 March 02:00
    originals = list(case.consultation.messages.order_by("created_at"))
    assert (first - originals[0].created_at).days == SHIFT
    # In the text too: the pain began on 10.03.2026 and the feldsher saw him on 12 March 2026,
    # two days apart in the case as well (both moved by the same secret offset).
    assert "17.01.2025" in published.question  # 10.03.2026 − 417 days
    assert "19 января 2025" in published.question  # 12 марта 2026 − 417 days
    assert published.date_shift_days == SHIFT


def test_a_93_year_old_from_a_village_of_700_is_90_plus_somewhere_in_chukotka(case):
    published = publish(case)
    patient = published.content["patient"]
    assert patient["age"] == "90+"
    assert patient["home"] == {"kind": "feldsher_post", "settlement": "", "region": "Chukotka"}
    assert published.content["requesting"]["settlement"] == ""
    assert "90+ года" in published.question
    page = logged_in(case.requester).get(f"/casebook/{published.uuid}/")
    assert page.status_code == 200
    assert "Feldsher–midwife post, Chukotka" in page.content.decode()


def test_a_larger_settlement_keeps_its_name(chain, settings, tmp_path):
    from .conftest import make_case

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    big = make_case(chain, population=4100)
    made = case_make(accessor=Accessor(big.trainer), consultation=big.consultation)
    assert made.content["patient"]["home"]["settlement"] == "Уэлен"
    assert -730 <= made.date_shift_days <= 730 and abs(made.date_shift_days) >= 30


def test_the_reviewer_sees_counts_of_what_was_replaced_never_the_originals(case):
    made = case_make(accessor=Accessor(case.trainer), consultation=case.consultation)
    page = logged_in(case.trainer).get(f"/casebook/{made.uuid}/review/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "names of people" in html and "SNILS numbers" in html and "files withheld" in html
    assert made.replaced["name"] > 10 and made.replaced["snils"] >= 2
    assert_clean_text("the review page", html)


def test_an_edit_is_scrubbed_again(case):
    from farcare.casebook.services import case_edit

    made = case_make(accessor=Accessor(case.trainer), consultation=case.consultation)
    edited = case_edit(
        accessor=Accessor(case.trainer),
        case=made,
        fields={
            "teaching_notes": "Спросите, что сделал бы Иванов; звоните Ivanov 8 914 123 45 67."
        },
    )
    assert "Иванов" not in edited.teaching_notes and "914" not in edited.teaching_notes
    assert "[пациент]" in edited.teaching_notes
    assert CaseFile.objects.filter(case=edited).count() == 3


@pytest.mark.parametrize("language", ["ru", "ko"])
def test_the_pages_speak_russian_and_korean(case, language):
    made = publish(case)
    client = logged_in(case.trainer, language)
    for url in (
        "/casebook/",
        "/casebook/consultations/",
        f"/casebook/{made.uuid}/review/",
        f"/casebook/{made.uuid}/",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        html = page.content.decode()
        assert ("учебн" if language == "ru" else "증례") in html.lower()
        assert_clean_text(url, html)
    # The consultant in Korea reads the question in his own language, whatever the browser says.
    ask = made.asks.get(clinician=case.korean)
    page = logged_in(case.korean, language).get(f"/casebook/asked/{ask.uuid}/")
    assert page.status_code == 200
    assert "귀하의 답변" in page.content.decode()
