"""The receiving hospital reads the transfer summary before the patient lands (issue 16, point 5):
patient, conclusion, vital signs, treatment given on the way, the case's files, the estimate and
the times, as a PDF in the reader's language and as a FHIR document. Nobody else does: a
consultant abroad and a clinician of an unrelated hospital are refused, and every read (and
every refusal) is on the patient's audit trail."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from pypdf import PdfReader

from farcare.accounts.models import Role, User
from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.consults.models import Attachment, Consultation, EvacuationAdvice
from farcare.consults.services import ConclusionData, conclusion_sign, consult_accept
from farcare.evacuation.models import (
    Transfer,
    TransferCondition,
    TransferStatus,
    TreatmentGiven,
)
from farcare.fhir.validation import validated
from farcare.network.models import Facility, FacilityKind

from ..conftest import logged_in, make_user
from ..consults.conftest import Scene, scene  # noqa: F401
from ..factories import FacilityFactory

READINGS = {
    "respiratory_rate": 24,
    "spo2": 93,
    "systolic_bp": 95,
    "heart_rate": 118,
    "consciousness": "A",
    "temperature": "36.9",
}


@dataclass
class Story:
    scene: Scene
    consultation: Consultation
    transfer: Transfer
    receiving: Facility
    receiving_doctor: User
    ecg: Attachment


@pytest.fixture
def story(scene: Scene, settings, tmp_path) -> Story:  # noqa: F811
    """A STEMI at Uelen: the cardiologist advised urgent air evacuation to Khabarovsk, the
    hospital there confirmed a bed, the feldsher gave aspirin and heparin and sent the ECG."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    receiving = FacilityFactory(
        kind=FacilityKind.REGIONAL_HUB,
        region="Khabarovsk",
        name_en="Khabarovsk regional hospital",
        name_ru="Краевая клиническая больница, Хабаровск",
        time_zone="Asia/Vladivostok",
    )
    doctor = make_user(Role.CLINICIAN, receiving, username="khv_cardio", language="ru")
    consultation = scene.submit("emergency", vitals=READINGS)
    consultation = consult_accept(
        accessor=Accessor(scene.hub_cardiologist), consultation=consultation
    )
    conclusion = conclusion_sign(
        accessor=Accessor(scene.hub_cardiologist),
        consultation=consultation,
        data=ConclusionData(
            findings="ST elevation in V1–V4.",
            diagnoses=["I21.0"],
            recommendations="Aspirin 300 mg, heparin 5000 IU; evacuate for primary PCI.",
            evacuation=EvacuationAdvice.URGENT_AIR,
            evacuation_destination=receiving,
        ),
    )
    ecg = Attachment(
        consultation=consultation,
        original_name="ЭКГ 12 отведений.pdf",
        content_type="application/pdf",
        size=15,
        sha256="0" * 64,
        uploaded_by=scene.feldsher,
    )
    ecg.file.save("upload", ContentFile(b"%PDF-1.4 ECG..."), save=False)
    ecg.save()
    now = timezone.now()
    transfer = Transfer.objects.create(
        patient=scene.patient,
        consultation=consultation,
        conclusion=conclusion,
        origin=scene.chain.post,
        destination=receiving,
        condition=TransferCondition.STEMI,
        reason="STEMI, primary PCI not available locally.",
        status=TransferStatus.ACCEPTED,
        requested_by=scene.feldsher,
        first_contact_at=now - timedelta(minutes=50),
        decided_at=now - timedelta(minutes=30),
        accepted_at=now - timedelta(minutes=20),
        bed_note="Cath lab, bed 3",
        estimate={"total_minutes": 312, "dispatch": 30, "flight": 222, "ground": 60},
    )
    TreatmentGiven.objects.create(
        transfer=transfer,
        given_at=now - timedelta(minutes=40),
        description="Aspirin 300 mg chewed; heparin 5000 IU IV",
        by=scene.feldsher,
    )
    return Story(scene, consultation, transfer, receiving, doctor, ecg)


def pdf_text(content: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def views_of(story: Story, user: User, outcome: str = "success") -> int:
    return AuditEvent.objects.filter(
        actor_uuid=user.uuid, patient_uuid=story.scene.patient.uuid, outcome=outcome
    ).count()


def test_the_receiving_doctor_reads_the_summary_before_arrival_in_russian(story):
    client = logged_in(story.receiving_doctor, "ru")
    response = client.get(f"/transfers/{story.transfer.uuid}/handover.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    # Who, from where to where, why; the conclusion with its ICD-10 code and signer.
    assert "Тынетегин" in text and "Семён" in text
    assert "Краевая клиническая больница" in text
    assert "I21.0" in text
    assert "Aspirin 300 mg chewed" in text  # treatment given on the way
    assert "ЭКГ 12 отведений.pdf" in text  # the case's files, by name
    assert "312" in text  # the estimate shown at the decision
    assert "Cath lab, bed 3" in text
    # In Russian, with the vital signs of the request.
    assert "Пациент" in text or "Заключение" in text
    assert "118" in text
    assert views_of(story, story.receiving_doctor) == 1


def test_the_summary_is_a_valid_fhir_document(story):
    client = logged_in(story.receiving_doctor)
    response = client.get(f"/transfers/{story.transfer.uuid}/handover.json")
    assert response.status_code == 200
    bundle = json.loads(response.content)
    validated("Bundle", bundle)
    assert bundle["type"] == "document"
    kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert kinds[0] == "Composition"
    for kind in ("Patient", "ServiceRequest", "Encounter", "Location", "Observation", "Procedure"):
        assert kind in kinds, kind
    for entry in bundle["entry"]:
        validated(entry["resource"]["resourceType"], entry["resource"])
    composition = bundle["entry"][0]["resource"]
    assert composition["subject"] == {"reference": f"Patient/{story.scene.patient.uuid}"}
    # Every section reference resolves inside the document.
    full_urls = {entry["fullUrl"].split("/fhir/")[-1] for entry in bundle["entry"]}
    for section in composition["section"]:
        for ref in section.get("entry", []):
            assert ref["reference"] in full_urls


def test_the_case_files_open_from_the_summary_for_the_receiving_doctor(story):
    client = logged_in(story.receiving_doctor)
    response = client.get(f"/transfers/{story.transfer.uuid}/handover/files/{story.ecg.uuid}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 ECG..."


def test_a_consultant_abroad_is_refused_and_the_refusal_is_audited(story):
    korean = story.scene.partner_cardiologist
    client = logged_in(korean)
    for path in ("handover.pdf", "handover.json", f"handover/files/{story.ecg.uuid}"):
        response = client.get(f"/transfers/{story.transfer.uuid}/{path}")
        assert response.status_code == 403, path
        assert "Тынетегин".encode() not in response.content
    assert views_of(story, korean, "denied") == 3
    assert views_of(story, korean) == 0


def test_a_doctor_of_another_hospital_is_refused(story):
    other = make_user(Role.CLINICIAN, story.scene.chain.other_region_hub)
    response = logged_in(other).get(f"/transfers/{story.transfer.uuid}/handover.pdf")
    assert response.status_code == 403
    assert views_of(story, other, "denied") == 1


def test_a_transfer_called_off_closes_the_summary_to_the_receiving_hospital(story):
    story.transfer.status = TransferStatus.CANCELLED
    story.transfer.save()
    response = logged_in(story.receiving_doctor).get(
        f"/transfers/{story.transfer.uuid}/handover.pdf"
    )
    assert response.status_code == 403
    # The sending feldsher still reads it.
    response = logged_in(story.scene.feldsher).get(f"/transfers/{story.transfer.uuid}/handover.pdf")
    assert response.status_code == 200


def test_an_unknown_transfer_is_not_found(story):
    response = logged_in(story.receiving_doctor).get(
        "/transfers/00000000-0000-0000-0000-000000000000/handover.pdf"
    )
    assert response.status_code == 404
