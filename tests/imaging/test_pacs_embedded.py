"""A CT series made at a district hospital is kept in FarCare's own storage when no PACS is
configured, found again by series and instance, and drawn with the window presets."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from farcare.audit.services import Accessor
from farcare.imaging import samples
from farcare.imaging.errors import InvalidDicom
from farcare.imaging.models import Storage
from farcare.imaging.pacs import (
    DicomWebPacs,
    EmbeddedPacs,
    InstanceRef,
    PacsUnavailable,
    configured_pacs,
)
from farcare.imaging.services import study_store
from farcare.imaging.windows import PRESETS
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_without_a_pacs_a_ct_series_is_kept_in_farcares_own_storage(reading, settings):
    settings.FARCARE_DICOMWEB_URL = ""
    assert isinstance(configured_pacs(), EmbeddedPacs)
    study = reading.store_ct()

    assert study.storage == Storage.EMBEDDED
    assert (study.modality, study.body_site) == ("CT", "CHEST")
    assert study.description == "КТ органов грудной клетки"
    assert (study.series_count, study.instance_count) == (1, 5)
    assert study.reading_facility == reading.chain.hub
    assert study.priority == "routine" and study.due_at is not None
    assert all(instance.file for instance in study.instances.all())

    pacs = EmbeddedPacs()
    (series,) = pacs.search_series(study.study_uid)
    assert (series.modality, series.instances) == ("CT", 5)
    instances = pacs.search_instances(study.study_uid, series.series_uid)
    assert [i.number for i in instances] == [1, 2, 3, 4, 5]
    assert pacs.search_studies(study_uid=study.study_uid)[0].instances == 5

    ref = InstanceRef(study.study_uid, series.series_uid, instances[2].sop_uid)
    frames = {
        key: pacs.rendered(ref, index=0, preset=PRESETS[key], px=512, fmt="webp").content
        for key in ("lung", "mediastinum", "bone")
    }
    assert all(content[:4] == b"RIFF" and content[8:12] == b"WEBP" for content in frames.values())
    assert len(set(frames.values())) == 3  # each window draws another picture


def test_sending_the_same_study_again_adds_only_the_new_images(reading):
    first = reading.store_ct(slices=3)
    again = reading.store_ct(slices=5)
    assert again.pk == first.pk
    assert again.instance_count == 5


def test_a_damaged_file_is_refused_with_a_message(reading):
    with pytest.raises(InvalidDicom, match="not a DICOM file"):
        study_store(
            accessor=Accessor(reading.district_doctor),
            patient=reading.patient,
            files=[b"%PDF-1.4 not an image"],
            facility=reading.chain.district,
        )


def test_a_study_already_filed_for_another_patient_is_refused(reading):
    reading.store_ct()
    other = PatientFactory(home_facility=reading.chain.post)
    with pytest.raises(ValidationError, match="another patient"):
        study_store(
            accessor=Accessor(reading.district_doctor),
            patient=other,
            files=samples.ct_series(),
            facility=reading.chain.district,
        )


def test_a_pacs_that_does_not_answer_is_a_clear_error_not_a_crash():
    pacs = DicomWebPacs("http://127.0.0.1:9/dicom-web", timeout=1)
    with pytest.raises(PacsUnavailable, match="does not answer"):
        pacs.search_series("1.2.3")
