"""Review findings on imaging abroad: the page "Add images" is authorised for every method; a
reader abroad reads a study only with the patient's consent to transfer abroad, is never given
images with burned-in annotation, and no study is routed abroad without that consent."""

from __future__ import annotations

import pytest
from django.utils import timezone

from farcare.accounts.models import Role
from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.diagnostics.models import Capability, Category
from farcare.imaging import samples
from farcare.imaging.models import ImagingStudy
from farcare.imaging.selectors import reading_facility_for
from farcare.imaging.services import study_store
from farcare.patients.models import ConsentKind
from tests.conftest import logged_in, make_user
from tests.factories import ConsentFactory, link

pytestmark = pytest.mark.django_db

STUDY_UID = "1.2.826.0.1.3680043.8.498.771001"


def _consent_abroad(reading, **kw: object) -> None:
    ConsentFactory(
        patient=reading.patient,
        kind=ConsentKind.TRANSFER_ABROAD,
        scope="Reading of images abroad",
        **kw,
    )


def _read_abroad(reading, study: ImagingStudy) -> None:
    ImagingStudy.objects.filter(pk=study.pk).update(
        reading_facility=reading.abroad_radiologist.facility
    )


def test_a_clinician_abroad_posting_to_add_images_gets_the_audited_refusal(reading):
    abroad = reading.abroad_radiologist.facility
    Capability.objects.create(facility=abroad, category=Category.IMAGING, modality="DX")
    clinician = make_user(Role.CLINICIAN, abroad, language="en")

    answer = logged_in(clinician).post(f"/imaging/add/{reading.patient.uuid}/")

    assert answer.status_code == 403
    assert "Тынетегин" not in answer.content.decode()
    assert AuditEvent.objects.filter(
        actor_username=clinician.username, action="denied", patient_uuid=reading.patient.uuid
    ).exists()


def test_a_reader_abroad_without_the_patients_consent_may_not_open_the_study(reading):
    study = reading.store_ct()
    _read_abroad(reading, study)
    client = logged_in(reading.abroad_radiologist)
    instance = study.instances.first()

    page = client.get(f"/imaging/studies/{study.uuid}/")
    frame = client.get(f"/imaging/studies/{study.uuid}/frames/{instance.sop_uid}/0/")
    worklist = client.get("/imaging/reading/").content.decode()

    assert page.status_code == 403 and frame.status_code == 403
    assert "consent" in page.content.decode()
    assert str(study.uuid) not in worklist


def test_a_revoked_consent_does_not_let_a_reader_abroad_in(reading):
    _consent_abroad(reading, revoked_at=timezone.now())
    study = reading.store_ct()
    _read_abroad(reading, study)
    page = logged_in(reading.abroad_radiologist).get(f"/imaging/studies/{study.uuid}/")
    assert page.status_code == 403


def test_with_consent_the_reader_abroad_reads_the_study_pseudonymised(reading):
    _consent_abroad(reading)
    study = reading.store_ct()
    _read_abroad(reading, study)
    client = logged_in(reading.abroad_radiologist)
    instance = study.instances.first()

    page = client.get(f"/imaging/studies/{study.uuid}/")
    frame = client.get(f"/imaging/studies/{study.uuid}/frames/{instance.sop_uid}/0/")

    assert page.status_code == 200 and frame.status_code == 200
    assert "Тынетегин" not in page.content.decode()


def _mixed_study(reading) -> ImagingStudy:
    """A CT series marked without burned-in annotation and a radiograph with text burned in."""
    reading.store_ct(slices=3, size=128)
    ct = ImagingStudy.objects.get(patient=reading.patient)
    burned = samples.xray_dicom(
        rows=128, columns=128, study_instance_uid=ct.study_uid, burned_in_annotation="YES"
    )
    return study_store(
        accessor=Accessor(reading.district_doctor),
        patient=reading.patient,
        files=[burned],
        facility=reading.chain.district,
    )


def test_a_reader_abroad_is_not_sent_frames_with_burned_in_annotation(reading):
    _consent_abroad(reading)
    study = _mixed_study(reading)
    _read_abroad(reading, study)
    client = logged_in(reading.abroad_radiologist)
    burned = study.instances.get(modality="CR")
    clean = study.instances.filter(modality="CT").first()

    refused = client.get(f"/imaging/studies/{study.uuid}/frames/{burned.sop_uid}/0/")
    served = client.get(f"/imaging/studies/{study.uuid}/frames/{clean.sop_uid}/0/")
    at_home = logged_in(reading.radiologist)
    ImagingStudy.objects.filter(pk=study.pk).update(reading_facility=reading.chain.hub)
    home = at_home.get(f"/imaging/studies/{study.uuid}/frames/{burned.sop_uid}/0/")

    assert refused.status_code == 403
    assert "burned into its pixels" in refused.content.decode()
    assert served.status_code == 200
    assert home.status_code == 200


def test_the_study_page_abroad_offers_only_the_series_that_may_go_abroad(reading):
    _consent_abroad(reading)
    study = _mixed_study(reading)
    _read_abroad(reading, study)
    client = logged_in(reading.abroad_radiologist)
    burned = study.instances.get(modality="CR")

    html = client.get(f"/imaging/studies/{study.uuid}/").content.decode()
    for n in range(3):
        html += client.get(f"/imaging/studies/{study.uuid}/?s={n}").content.decode()

    assert burned.sop_uid not in html
    assert "(1)" not in html  # the radiograph's one-image series is not offered
    assert "are not sent abroad" in html


def test_a_study_with_nothing_that_may_go_abroad_says_why(reading):
    _consent_abroad(reading)
    study = reading.store_ct(slices=1, size=64)
    study.instances.update(burned_in_annotation="")  # not marked NO: withheld too
    _read_abroad(reading, study)

    html = logged_in(reading.abroad_radiologist).get(f"/imaging/studies/{study.uuid}/")

    assert html.status_code == 200
    assert "None of this study&#x27;s images may be sent abroad" in html.content.decode()
    assert 'data-testid="frame"' not in html.content.decode()


def test_no_study_is_routed_to_a_hub_abroad(reading):
    abroad = reading.abroad_radiologist.facility
    Capability.objects.filter(facility=reading.chain.hub).delete()
    Capability.objects.create(
        facility=abroad, category=Category.IMAGING, modality="CT", reads_images=True
    )
    link(reading.chain.district, abroad, rank=1)
    assert reading_facility_for(reading.chain.district) is None
