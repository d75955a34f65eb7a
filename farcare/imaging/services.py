"""Writes of imaging: a study kept (in the PACS or FarCare's own storage) and put on the reading
worklist of the hub that reads it, a radiologist claiming it, and the signed report.

Keyword-only services; the policy is asked before the transaction (`require`, so a refusal's
audit record is kept); every write is audited with the patient."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from pydicom.dataset import Dataset

from farcare.access.policy import Action
from farcare.access.services import require
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.clinical import icd10
from farcare.diagnostics.models import (
    Category,
    DiagnosticOrder,
    DiagnosticReport,
    ReportStatus,
    ResultSource,
)
from farcare.network.models import Facility
from farcare.patients.models import Patient
from farcare.signatures.services import sign_document

from .access import is_reader
from .dicom import read_dicom
from .dicom_stream import DicomFile, file_size, read_dicom_head
from .models import ImagingInstance, ImagingStudy, ReadingStatus
from .notices import after_report_signed, after_study_arrived
from .pacs import InstanceRef, Pacs, configured_pacs, pacs_for_storage
from .reading_rules import IllegalReadingMove, next_reading_status, reading_due
from .report_document import DOCUMENT_TYPE, draft_digest, report_document
from .selectors import reading_facility_for

__all__ = [
    "IMAGING_REPORT_CODE",
    "ReportData",
    "study_claim",
    "study_from_attachment",
    "study_release",
    "study_report_draft",
    "study_report_sign",
    "study_store",
]

# LOINC 18748-4 "Diagnostic imaging study", when the order names no procedure.
IMAGING_REPORT_CODE = "18748-4"


def _text(ds: Dataset, keyword: str, limit: int) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()[:limit]


def _int(ds: Dataset, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def _started_at(ds: Dataset, facility: Facility) -> dt.datetime | None:
    """StudyDate and StudyTime, local time of the facility that made the study, as UTC."""
    date, time = _text(ds, "StudyDate", 8), _text(ds, "StudyTime", 6)
    try:
        naive = dt.datetime.strptime(date + (time or "000000").ljust(6, "0"), "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return naive.replace(tzinfo=zoneinfo.ZoneInfo(facility.time_zone)).astimezone(dt.UTC)


def _read_hours() -> dict[str, int]:
    value = getattr(settings, "FARCARE_IMAGING_READ_HOURS", None)
    return value if isinstance(value, dict) else {}


def _parse(files: Sequence[bytes | Dataset | DicomFile]) -> list[tuple[Dataset, bytes | DicomFile]]:
    """Each file read (InvalidDicom with the user's message otherwise) with its bytes, or with
    the open file when given one (an upload: only its header is read, the pixels stay in the
    file until the storage copies it in chunks); all of one study, and each an image."""
    parsed: list[tuple[Dataset, bytes | DicomFile]] = []
    for item in files:
        if isinstance(item, Dataset):
            out = io.BytesIO()
            item.save_as(out, enforce_file_format=True)
            content = out.getvalue()
            parsed.append((read_dicom(content), content))
        elif isinstance(item, bytes | bytearray):
            parsed.append((read_dicom(bytes(item)), bytes(item)))
        else:
            parsed.append((read_dicom_head(item), item))
    if not parsed:
        raise ValidationError(_("Attach at least one DICOM image."))
    studies = {_text(ds, "StudyInstanceUID", 64) for ds, _content in parsed}
    if len(studies) != 1 or "" in studies:
        raise ValidationError(_("The files are not of one study: send each study on its own."))
    if any(not _text(ds, "SOPInstanceUID", 64) or "PixelData" not in ds for ds, _c in parsed):
        raise ValidationError(_("Each file must be a DICOM image with its own instance UID."))
    return parsed


def study_store(
    *,
    accessor: Accessor,
    patient: Patient,
    files: Sequence[bytes | Dataset | DicomFile],
    facility: Facility,
    order: DiagnosticOrder | None = None,
) -> ImagingStudy:
    """Keep the DICOM files of one study made at `facility` for `patient`: STOW to the PACS
    when one is configured (FARCARE_DICOMWEB_URL), else in FarCare's own storage; the study goes
    on the reading worklist of the hub that reads `facility`'s images, by the order's priority
    and deadline (routine otherwise). Sending the same study again adds the new instances (the
    previews first, the rest later). Raises ValidationError or ImagingError (user's messages),
    PatientAccessDenied for someone who may not change the patient's record."""
    require(accessor=accessor, patient=patient, action=Action.UPDATE)
    parsed = _parse(files)
    first = parsed[0][0]
    study_uid = _text(first, "StudyInstanceUID", 64)
    existing = ImagingStudy.objects.filter(study_uid=study_uid).first()
    if existing is not None and existing.patient_id != patient.pk:
        raise ValidationError(_("This study is already filed for another patient."))
    if order is not None and order.patient_id != patient.pk:
        raise ValidationError(_("The order is for another patient."))
    known = set(
        ImagingInstance.objects.filter(
            sop_uid__in=[ds.SOPInstanceUID for ds, _c in parsed]
        ).values_list("sop_uid", flat=True)
    )
    new = [(ds, content) for ds, content in parsed if str(ds.SOPInstanceUID) not in known]
    pacs = configured_pacs() if existing is None else _pacs_of(existing)
    refs = [
        (InstanceRef(study_uid, _text(ds, "SeriesInstanceUID", 64), str(ds.SOPInstanceUID)), c)
        for ds, c in new
    ]
    # Outside the transaction: a PACS keeps what it was sent even if FarCare rolls back, and
    # sending the study again is harmless (STOW and this service are both idempotent).
    where = pacs.store(refs) if refs else {}
    now = timezone.now()
    with transaction.atomic():
        if existing is None:
            priority = order.priority if order is not None else "routine"
            study = ImagingStudy.objects.create(
                study_uid=study_uid,
                patient=patient,
                order=order,
                facility=facility,
                reading_facility=reading_facility_for(facility),
                modality=_text(first, "Modality", 8) or "OT",
                body_site=_text(first, "BodyPartExamined", 40),
                description=_text(first, "StudyDescription", 200),
                # The order's placer number is the accession number the hub knows it by.
                accession_number=order.placer_number
                if order is not None
                else _text(first, "AccessionNumber", 32),
                started_at=_started_at(first, facility),
                storage=pacs.storage,
                priority=priority,
                due_at=(order.due_at if order is not None and order.due_at else None)
                or reading_due(priority, now, _read_hours()),
            )
        else:
            study = ImagingStudy.objects.select_for_update().get(pk=existing.pk)
        for ds, content in new:
            sop_uid = str(ds.SOPInstanceUID)
            instance = ImagingInstance(
                study=study,
                series_uid=_text(ds, "SeriesInstanceUID", 64),
                series_number=_int(ds, "SeriesNumber"),
                series_description=_text(ds, "SeriesDescription", 200),
                modality=_text(ds, "Modality", 8) or study.modality,
                sop_uid=sop_uid,
                sop_class_uid=_text(ds, "SOPClassUID", 64),
                instance_number=_int(ds, "InstanceNumber"),
                frames=max(_int(ds, "NumberOfFrames") or 1, 1),
                size=len(content) if isinstance(content, bytes) else file_size(content),
                burned_in_annotation=_text(ds, "BurnedInAnnotation", 8).upper(),
            )
            instance.file.name = where.get(sop_uid, "")
            instance.save()
        study.instance_count = study.instances.count()
        study.series_count = study.instances.values("series_uid").distinct().count()
        study.version += 1
        study.save(update_fields=["instance_count", "series_count", "version"])
        audit_record(
            accessor=accessor,
            action=AuditAction.CREATE if existing is None else AuditAction.UPDATE,
            patient_uuid=patient.uuid,
            record=study,
            details={"instances_added": len(new), "storage": study.storage},
        )
        if existing is None:
            after_study_arrived(study)
    return study


def _pacs_of(study: ImagingStudy) -> Pacs:
    return pacs_for_storage(study.storage)


def study_from_attachment(*, accessor: Accessor, attachment: Any) -> ImagingStudy:
    """A DICOM file attached to a consultation (it crossed from a station, the preview first
    and the original after) filed as an imaging study of the case's patient, made at the
    requesting facility. Raises ValidationError while only the preview has arrived."""
    if attachment.content_type != "application/dicom":
        raise ValidationError(_("Only a DICOM file can be filed as an imaging study."))
    if not attachment.file:
        raise ValidationError(
            _("Only the preview of this file has arrived yet; file it when the original is here.")
        )
    consultation = attachment.consultation
    with attachment.file.open("rb") as handle:
        content = handle.read()
    return study_store(
        accessor=accessor,
        patient=consultation.patient,
        files=[content],
        facility=consultation.requesting_facility,
    )


# --- reading --------------------------------------------------------------------------------


def _require_reader(accessor: Accessor, study: ImagingStudy, wanted: str) -> None:
    if not is_reader(accessor.user, study):
        audit_record(
            accessor=accessor,
            action=AuditAction.DENIED,
            patient_uuid=study.patient.uuid,
            record=study,
            outcome="denied",
            details={"wanted": wanted},
        )
        raise PermissionDenied(_("Only a radiologist of the reading facility reads this study."))


def _lock(study: ImagingStudy) -> ImagingStudy:
    return (
        ImagingStudy.objects.select_for_update(of=("self",))
        .select_related("patient", "reading_facility")
        .get(pk=study.pk)
    )


def _check_version(study: ImagingStudy, version: int | None) -> None:
    if version is not None and study.version != version:
        raise ValidationError(
            _("Someone changed this study meanwhile. Open it again."), code="stale"
        )


def study_claim(
    *, accessor: Accessor, study: ImagingStudy, version: int | None = None
) -> ImagingStudy:
    """A radiologist of the reading facility starts reading the study (it leaves the others'
    list of waiting studies). Claiming one's own study again is harmless."""
    _require_reader(accessor, study, "claim")
    user = accessor.user
    assert user is not None
    with transaction.atomic():
        locked = _lock(study)
        if locked.reading_status == ReadingStatus.READING and locked.reader_id == user.pk:
            return locked
        _check_version(locked, version)
        try:
            locked.reading_status = next_reading_status(locked.reading_status, "claim")
        except IllegalReadingMove as error:
            raise ValidationError(str(error), code="illegal") from error
        locked.reader = user
        locked.claimed_at = timezone.now()
        locked.version += 1
        locked.save(update_fields=["reading_status", "reader", "claimed_at", "version"])
        audit_record(
            accessor=accessor,
            action=AuditAction.UPDATE,
            patient_uuid=locked.patient.uuid,
            record=locked,
            details={"event": "claim"},
        )
    return locked


def study_release(*, accessor: Accessor, study: ImagingStudy) -> ImagingStudy:
    """The reader gives the study back to the worklist unreported."""
    _require_reader(accessor, study, "release")
    with transaction.atomic():
        locked = _lock(study)
        if locked.reader_id != getattr(accessor.user, "pk", None):
            raise ValidationError(_("This study is being read by a colleague."))
        try:
            locked.reading_status = next_reading_status(locked.reading_status, "release")
        except IllegalReadingMove as error:
            raise ValidationError(str(error), code="illegal") from error
        locked.reader = None
        locked.claimed_at = None
        locked.version += 1
        locked.save(update_fields=["reading_status", "reader", "claimed_at", "version"])
        audit_record(
            accessor=accessor,
            action=AuditAction.UPDATE,
            patient_uuid=locked.patient.uuid,
            record=locked,
            details={"event": "release"},
        )
    return locked


@dataclass(frozen=True)
class ReportData:
    findings: str
    impression: str
    codes: list[str]


def _check_report(data: ReportData) -> list[str]:
    errors: dict[str, str] = {}
    codes = [icd10.normalise_code(code) for code in data.codes if code.strip()]
    unknown = [code for code in codes if not icd10.is_valid(code)]
    if unknown:
        errors["codes"] = _("Not an ICD-10 code: %(codes)s") % {"codes": ", ".join(unknown)}
    if not data.findings.strip():
        errors["findings"] = _("Write your findings.")
    if not data.impression.strip():
        errors["impression"] = _("Write your impression.")
    if errors:
        raise ValidationError(errors)
    return codes


def _draft(
    study: ImagingStudy, user: Any, data: ReportData, issued_at: dt.datetime
) -> DiagnosticReport:
    codes = _check_report(data)
    if study.reading_status != ReadingStatus.READING or study.reader_id != user.pk:
        raise ValidationError(
            _("Start reading the study before you sign its report."), code="not_reading"
        )
    code, display = IMAGING_REPORT_CODE, study.description or f"{study.modality} {study.body_site}"
    if study.order_id is not None:
        test = study.order.tests.first() if study.order else None
        if test is not None:
            code, display = test.code, test.display
    return DiagnosticReport(
        patient=study.patient,
        order=study.order,
        performer=study.reading_facility,
        author=user,
        category=Category.IMAGING,
        code=code,
        display=display[:200],
        status=ReportStatus.FINAL,
        source=ResultSource.PAGE,
        effective_at=study.started_at,
        issued_at=issued_at,
        findings=data.findings.strip(),
        conclusion=data.impression.strip(),
        conclusion_codes=codes,
    )


def study_report_draft(
    *, accessor: Accessor, study: ImagingStudy, data: ReportData
) -> tuple[DiagnosticReport, str]:
    """The report as signing now would sign it, unsaved, and its digest: the reader reviews it
    before `study_report_sign`."""
    _require_reader(accessor, study, "report")
    draft = _draft(study, accessor.user, data, timezone.now())
    return draft, draft_digest(study, draft)


def study_report_sign(
    *,
    accessor: Accessor,
    study: ImagingStudy,
    data: ReportData,
    expected_digest: str | None = None,
) -> DiagnosticReport:
    """Sign the report with the deployment's signer: a final imaging DiagnosticReport linked to
    the study (`study.report`), released to the patient's record at once. The reader proved who
    they are beforehand (accounts.services.reauthenticate, as for a conclusion). With
    `expected_digest`, a draft that is not the reviewed one any more is refused."""
    _require_reader(accessor, study, "sign")
    _check_report(data)
    user = accessor.user
    assert user is not None
    with transaction.atomic():
        locked = _lock(study)
        issued_at = timezone.now().replace(microsecond=0)
        report = _draft(locked, user, data, issued_at)
        if expected_digest is not None and draft_digest(locked, report) != expected_digest:
            raise ValidationError(
                _("The report changed since you reviewed it. Review it again."), code="changed"
            )
        locked.reading_status = next_reading_status(locked.reading_status, "sign")
        report.released_at = issued_at
        report.save()
        report.signature = sign_document(
            signer_user=user,
            document_type=DOCUMENT_TYPE,
            document_id=str(report.uuid),
            document=report_document(locked, report),
        )
        report.save(update_fields=["signature"])
        locked.report = report
        locked.reported_at = issued_at
        locked.version += 1
        locked.save(update_fields=["reading_status", "report", "reported_at", "version"])
        audit_record(
            accessor=accessor,
            action=AuditAction.CREATE,
            patient_uuid=locked.patient.uuid,
            record=report,
            details={"event": "imaging report signed", "study": str(locked.uuid)},
        )
        after_report_signed(locked)
    return report
