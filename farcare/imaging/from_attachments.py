"""A DICOM image attached to a consultation (from a page, FHIR, or crossing from a station, its
original after its preview) goes on the reading worklist of the hub that reads the requesting
facility's images, by itself: the consults app calls `file_when_committed` where it stores the
file. An ECG waveform (or any DICOM without pixels) is not an imaging study and stays an
attachment only.

After commit and robust: the attachment is kept whatever happens here; a study that cannot be
filed (only the preview so far, a file of another patient's study, a PACS that does not answer)
is logged and the attachment stays as it was. Filing the same file again changes nothing."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from farcare.audit.services import Accessor

from .dicom import read_dicom
from .errors import ImagingError

logger = logging.getLogger(__name__)

__all__ = ["WAVEFORM_MODALITIES", "file_when_committed", "is_image_dicom"]

DICOM = "application/dicom"
# Modalities of waveforms, not images (DICOM PS3.3 C.7.3.1.1.1): ECG, haemodynamic, audio.
WAVEFORM_MODALITIES = frozenset({"ECG", "HD", "AU", "EPS", "RESP"})


def is_image_dicom(content: bytes) -> bool:
    """A DICOM file with pixel data of an image modality (not an ECG or other waveform)."""
    try:
        dataset = read_dicom(content)
    except (ImagingError, ValueError):
        return False
    modality = str(dataset.get("Modality", "") or "").upper()
    return "PixelData" in dataset and modality not in WAVEFORM_MODALITIES


def file_when_committed(attachment: Any) -> None:
    """Once the transaction that stored `attachment` commits, file it as an imaging study when
    it is a DICOM image whose original is here."""
    if attachment.content_type != DICOM or not attachment.file:
        return
    transaction.on_commit(partial(_file, attachment.pk), robust=True)


def _file(attachment_pk: int) -> None:
    from farcare.consults.models import Attachment

    from .models import ImagingInstance
    from .services import study_from_attachment

    try:
        attachment = (
            Attachment.objects.select_related(
                "consultation__patient", "consultation__requesting_facility", "uploaded_by"
            )
            .filter(pk=attachment_pk)
            .first()
        )
        if attachment is None or not attachment.file:
            return
        with attachment.file.open("rb") as handle:
            content = handle.read()
        if not is_image_dicom(content):
            return
        sop_uid = str(read_dicom(content).get("SOPInstanceUID", ""))
        if sop_uid and ImagingInstance.objects.filter(sop_uid=sop_uid).exists():
            return  # filed already
        study = study_from_attachment(
            accessor=Accessor(attachment.uploaded_by, None, "system"), attachment=attachment
        )
        logger.info("attachment %s filed as imaging study %s", attachment.uuid, study.uuid)
    except (ValidationError, ImagingError, PermissionDenied) as refusal:
        logger.warning("attachment %s not filed as a study: %s", attachment_pk, refusal)
    except Exception:  # never undo or break the attachment that was stored
        logger.exception("attachment %s: filing it as an imaging study failed", attachment_pk)
