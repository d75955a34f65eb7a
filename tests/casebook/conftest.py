"""A closed consultation full of what identifies: the patient (93, from a village of 700) and
three clinicians named in Cyrillic, Latin and Hangul across the question, summary, thread,
conclusion, file names, a photo's EXIF and a DICOM file; SNILS, OMS, phone and dates."""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pydicom
import pytest
from django.core.files.base import ContentFile
from PIL import Image

from farcare.accounts.models import Role, User
from farcare.consults.models import (
    Acknowledgement,
    Assignment,
    AssignmentRole,
    Attachment,
    Conclusion,
    Consultation,
    EvacuationAdvice,
    Message,
    Status,
    Transition,
    VitalObservation,
)
from farcare.imaging.samples import xray_dicom
from farcare.network.models import FacilityKind, Settlement
from farcare.patients.models import Patient
from farcare.signatures.services import sign_document

from ..conftest import Chain, make_user
from ..factories import FacilityFactory, PatientFactory, PractitionerFactory, SpecialtyFactory

SNILS = "11223344595"
OMS = "7755443322110099"
PHONE = "+79141234567"
BIRTH = date(1933, 3, 1)

# Every form in which a name, number or date of this case could survive.
NAMES = [
    "Иванов",
    "Иванова",
    "Иванову",
    "Ivanov",
    "IVANOV",
    "Ivanoff",
    "Иван",
    "Ivan",
    "Пантелеймонович",
    "Петрова",
    "Petrova",
    "Петровой",
    "Снежана",
    "Snezhana",
    "Смирнов",
    "Smirnov",
    "SMIRNOV",
    "Аристарх",
    "Aristarkh",
    "김민준",
    "민준",
    "Minjun",
    "Min-jun",
    "Ким Мин",
    "Уэлен",
    "Uelen",
    "Uelen post",
]
NUMBERS = [
    SNILS,
    "112-233-445 95",
    "112 233 445 95",
    OMS,
    "7755 4433 2211 0099",
    "9141234567",
    "914 123-45-67",
    "123-45-67",
    "010-9876-5432",
    "01098765432",
    "ivanov@mail.ru",
]
DATES = [
    "12.03.2026",
    "10.03.2026",
    "2026-03-12",
    "2026-03-10",
    "20260312",
    "20260310",
    "12 марта 2026",
    "2026년 3월 12일",
    "March 12, 2026",
    "1933",
    "01.03.1933",
    "19330301",
    "2026:03:12",
]
TEXT_WITH_EVERYTHING = (
    "Пациент Иванов Иван Пантелеймонович (Ivanov I.P., 93 года), д.р. 01.03.1933, из с. Уэлен. "
    "СНИЛС 112-233-445 95, полис ОМС 7755 4433 2211 0099, тел. 8 (914) 123-45-67, "
    "e-mail ivanov@mail.ru. Боль в груди с 10.03.2026, осмотрен фельдшером Петровой С. "
    "12 марта 2026."
)


@dataclass
class Case:
    chain: Chain
    consultation: Consultation
    patient: Patient
    requester: User
    consultant: User
    korean: User
    trainer: User
    settlement: Settlement


def _photo() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 120, 90))
    exif = Image.Exif()
    exif[0x013B] = "Ivanov Ivan"  # Artist
    exif[0x010E] = "Иванов Иван, Уэлен".encode()  # ImageDescription (UTF-8 bytes)
    exif[0x9C9D] = "Иванов 김민준".encode("utf-16-le")  # XPAuthor
    exif.get_ifd(0x8769)[0x9003] = "2026:03:12 10:15:00"  # DateTimeOriginal
    exif.get_ifd(0x8825).update({1: "N", 2: (66.0, 9.0, 36.0), 3: "W", 4: (169.0, 49.0, 0.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=80)
    return out.getvalue()


def _dicom() -> bytes:
    ds = pydicom.dcmread(
        io.BytesIO(xray_dicom(rows=32, columns=32, patient_name="Иванов^Иван", patient_id=SNILS))
    )
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.ReferringPhysicianName = "Петрова^Снежана"
    ds.PerformingPhysicianName = "김^민준"
    ds.InstitutionName = "ФАП Уэлен"
    ds.StudyDate = "20260312"
    ds.SeriesDate = "20260310"
    ds.ImageComments = "Иванов И.П., Ivanov, 김민준 12.03.2026"
    ds.StudyDescription = "Ivanov chest"
    ds.BodyPartExamined = "CHEST"
    ds.BurnedInAnnotation = "NO"
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _at(day: int, hour: int = 3) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=UTC)


def make_case(chain: Chain, *, birth: date = BIRTH, population: int = 700) -> Case:
    cardiology = SpecialtyFactory(code="cardiology", name_en="Cardiology", name_ru="Кардиология")
    village = chain.post.settlement
    village.name_ru, village.name_en, village.name_ko = "Уэлен", "Uelen", "웰렌"
    village.population = population
    village.save()
    chain.post.name_ru, chain.post.name_en = "ФАП Уэлен", "Uelen post"
    chain.post.save()
    partner = FacilityFactory(
        kind=FacilityKind.PARTNER_ABROAD, region="Korea", country="KR", time_zone="Asia/Seoul"
    )
    requester = make_user(
        Role.CLINICIAN, chain.post, first_name="Снежана", last_name="Петрова", language="en"
    )
    PractitionerFactory(user=requester, family="Петрова", given="Снежана", middle="Олеговна")
    consultant = make_user(
        Role.CONSULTANT, chain.hub, first_name="Aristarkh", last_name="Smirnov", language="en"
    )
    PractitionerFactory(user=consultant, family="Смирнов", given="Аристарх")
    korean = make_user(Role.CONSULTANT, partner, first_name="민준", last_name="김", language="ko")
    trainer = make_user(Role.TRAINER, chain.hub, first_name="Елена", last_name="Учителева")
    patient = PatientFactory(
        home_facility=chain.post,
        family="Иванов",
        given="Иван",
        middle="Пантелеймонович",
        birth_date=birth,
        snils=SNILS,
        oms_policy=OMS,
        phone=PHONE,
    )
    consultation = Consultation.objects.create(
        client_token=uuid.uuid4(),
        patient=patient,
        requester=requester,
        requesting_facility=chain.post,
        specialty=cardiology,
        form="urgent",
        language="ru",
        question=TEXT_WITH_EVERYTHING + " Тромболизис или эвакуация?",
        summary=(
            "Осмотр: Snezhana Petrova. Consulted Dr. Smirnov A. and 김민준 선생님 (Kim Min-jun). "
            "Phone of the Korean consultant 010-9876-5432. Seen on March 12, 2026 and "
            "2026년 3월 12일. Контакт: 123-45-67. Ivanova's son called."
        ),
        status=Status.COMPLETED,
    )
    Consultation.objects.filter(pk=consultation.pk).update(created_at=_at(10), received_at=_at(10))
    consultation.refresh_from_db()
    for user, facility, role in (
        (consultant, chain.hub, AssignmentRole.PRIMARY),
        (korean, partner, AssignmentRole.MEMBER),
    ):
        Assignment.objects.create(
            consultation=consultation, consultant=user, facility=facility, role=role
        )
    messages = [
        (
            requester,
            "Иванову стало хуже, давление 80/50. Смирнову: нужен ли вылет? "
            "Ивановым занимаюсь я, Петрова.",
            _at(10, 5),
        ),
        (
            consultant,
            "Snezhana, give aspirin to Ivanov now; I, Smirnov, will call at +7 914 123 45 67.",
            _at(10, 7),
        ),
        (
            korean,
            "김민준입니다. 이바노프 환자 2026년 3월 10일 ECG 확인했습니다. 010-9876-5432",
            _at(12, 2),
        ),
    ]
    for author, body, when in messages:
        message = Message.objects.create(consultation=consultation, author=author, body=body)
        Message.objects.filter(pk=message.pk).update(created_at=when)
    for event, when, actor in (
        ("submit", _at(10), requester),
        ("accept", _at(10, 4), consultant),
        ("complete", _at(12), consultant),
    ):
        Transition.objects.create(
            consultation=consultation,
            from_status="requested",
            to_status="accepted",
            event=event,
            at=when,
            actor=actor,
            note="Ivanov",
        )
    VitalObservation.objects.create(
        patient=patient,
        consultation=consultation,
        key="systolic_bp",
        loinc="8480-6",
        value="80",
        unit="mm[Hg]",
        recorded_at=_at(10, 5),
    )
    conclusion_uuid = uuid.uuid4()
    signature = sign_document(
        signer_user=consultant,
        document_type="conclusion",
        document_id=str(conclusion_uuid),
        document={"findings": "x"},
    )
    Conclusion.objects.create(
        uuid=conclusion_uuid,
        consultation=consultation,
        author=consultant,
        findings="ОКС у Иванова И.П. (Ivanov), 93-летний. SNILS 11223344595.",
        diagnoses=["I21.0"],
        recommendations="Эвакуация 12.03.2026 в Анадырь; связь с Smirnov A. и Петровой.",
        evacuation=EvacuationAdvice.URGENT_AIR,
        evacuation_destination=chain.hub,
        follow_up="Ким Мин Джун перезвонит 2026-03-12.",
        signed_at=_at(12),
        signature=signature,
    )
    Acknowledgement.objects.create(
        consultation=consultation,
        conclusion=consultation.conclusions.get(),
        by=requester,
        at=_at(12, 6),
        action="evacuated",
        helped="yes",
        note="Ivanov evacuated",
    )
    for name, content, kind in (
        ("Иванов_Иван_ЭКГ_12.03.2026.jpg", _photo(), "image/jpeg"),
        ("IVANOV_chest.dcm", _dicom(), "application/dicom"),
        ("Ivanov notes.txt", TEXT_WITH_EVERYTHING.encode(), "text/plain"),
        ("Иванов выписка.pdf", b"%PDF-1.4 Ivanov", "application/pdf"),
    ):
        attachment = Attachment(
            consultation=consultation,
            original_name=name,
            content_type=kind,
            size=len(content),
            sha256="0" * 64,
            uploaded_by=requester,
            identity_checked_by=requester,
            identity_checked_at=_at(10, 1),
        )
        attachment.file.save("upload", ContentFile(content), save=False)
        attachment.save()
    return Case(chain, consultation, patient, requester, consultant, korean, trainer, village)


@pytest.fixture
def case(chain: Chain, settings, tmp_path) -> Case:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    return make_case(chain)


# A UUID with its dashes, or as the 32 hex digits a stored file's name is made of.
UUID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9a-f]{32}\b", re.IGNORECASE
)


def without_uuids(text: str) -> str:
    """A page's links and a stored file's name carry random UUIDs, whose hex digits hold a birth
    year like "1933" about once in a few hundred cases; they are not identity, so they are taken
    out before a search."""
    return UUID.sub("<uuid>", text)
