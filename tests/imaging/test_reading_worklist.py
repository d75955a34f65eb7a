"""Studies made at a district hospital appear on the reading worklist of the hub that reads
its images, most pressing first, with the patient named, or pseudonymised for a reader abroad;
a radiologist of another region is refused."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from farcare.accounts.models import Role
from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.consults.attachments import attachment_store
from farcare.consults.models import Consultation
from farcare.diagnostics.models import DiagnosticOrder
from farcare.imaging import samples
from farcare.imaging.models import ImagingStudy
from farcare.imaging.services import study_from_attachment
from farcare.patients.models import ConsentKind
from tests.conftest import logged_in, make_user
from tests.factories import ConsentFactory, SpecialtyFactory

pytestmark = pytest.mark.django_db


def _order(reading, priority: str, due_in_hours: float) -> DiagnosticOrder:
    return DiagnosticOrder.objects.create(
        client_token=uuid.uuid4(),
        patient=reading.patient,
        orderer=reading.district_doctor,
        ordering_facility=reading.chain.district,
        performer=reading.chain.district,
        category="imaging",
        priority=priority,
        reason="кашель, лихорадка",
        status="active",
        placer_number=f"DX-2026-{uuid.uuid4().int % 10**6:06d}",
        due_at=timezone.now() + dt.timedelta(hours=due_in_hours),
    )


def test_the_hubs_radiologist_sees_studies_by_priority_then_deadline(reading):
    routine = reading.store_ct(seed=1)
    urgent_late = reading.store_ct(seed=2, order=_order(reading, "urgent", 10))
    urgent_soon = reading.store_ct(seed=3, order=_order(reading, "urgent", 2))
    stat = reading.store_ct(seed=4, order=_order(reading, "stat", 1))

    page = logged_in(reading.radiologist).get("/imaging/reading/")

    assert page.status_code == 200
    html = page.content.decode()
    positions = [html.index(f"study-{s.uuid}") for s in (stat, urgent_soon, urgent_late, routine)]
    assert positions == sorted(positions)
    assert "Тынетегин С. К." in html
    assert "CT" in html and "CHEST" in html and "waiting" in html
    event = AuditEvent.objects.filter(actor_username=reading.radiologist.username).last()
    assert event.details["patients_shown"] == [str(reading.patient.uuid)]


def test_another_regions_radiologist_neither_lists_nor_opens_the_study(reading):
    study = reading.store_ct()
    client = logged_in(reading.other_radiologist)

    assert f"study-{study.uuid}" not in client.get("/imaging/reading/").content.decode()
    assert client.get(f"/imaging/studies/{study.uuid}/").status_code == 403
    instance = study.instances.first()
    frame = client.get(f"/imaging/studies/{study.uuid}/frames/{instance.sop_uid}/0/")
    assert frame.status_code == 403
    denied = AuditEvent.objects.filter(
        actor_username=reading.other_radiologist.username, action="denied"
    )
    assert denied.count() == 2 and denied.first().patient_uuid == reading.patient.uuid


def test_a_reader_abroad_sees_the_study_but_never_the_patients_identity(reading):
    ConsentFactory(patient=reading.patient, kind=ConsentKind.TRANSFER_ABROAD)
    study = reading.store_ct()
    ImagingStudy.objects.filter(pk=study.pk).update(
        reading_facility=reading.abroad_radiologist.facility
    )
    client = logged_in(reading.abroad_radiologist)

    worklist = client.get("/imaging/reading/").content.decode()
    viewer = client.get(f"/imaging/studies/{study.uuid}/").content.decode()

    code = study.uuid.hex[:8].upper()
    for html in (worklist, viewer):
        assert f"Study {code}" in html
        assert "Тынетегин" not in html and "Семён" not in html and reading.patient.snils not in html


def test_a_study_is_read_by_the_nearest_hub_up_the_chain(reading):
    study = reading.store_ct()
    assert study.facility == reading.chain.district
    assert study.reading_facility == reading.chain.hub


def test_a_dicom_file_attached_at_a_post_becomes_a_study_on_the_hubs_worklist(reading):
    feldsher = make_user(Role.CLINICIAN, reading.chain.post)
    consultation = Consultation.objects.create(
        patient=reading.patient,
        requester=feldsher,
        requesting_facility=reading.chain.post,
        specialty=SpecialtyFactory(),
        form="urgent",
        client_token=uuid.uuid4(),
    )
    upload = SimpleUploadedFile("chest.dcm", samples.xray_dicom(seed=7), "application/dicom")
    attachment = attachment_store(consultation=consultation, upload=upload, user=feldsher)

    study = study_from_attachment(accessor=Accessor(feldsher), attachment=attachment)

    assert (study.modality, study.facility, study.reading_facility) == (
        "CR",
        reading.chain.post,
        reading.chain.hub,
    )
    html = logged_in(reading.radiologist).get("/imaging/reading/").content.decode()
    assert f"study-{study.uuid}" in html
