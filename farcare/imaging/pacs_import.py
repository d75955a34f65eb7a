"""Studies a modality sent straight to the PACS (Orthanc), registered in FarCare by polling
QIDO-RS (`farcare imaging import-from-pacs [--loop N]`).

Each poll asks the PACS for the studies of the days since the last poll (StudyDate from the
day before it: QIDO-RS has no "received since", and a modality's clock and date are its own),
skips the studies FarCare knows, and registers the others that match:

1. by order: the study's AccessionNumber is the placer number of an imaging order (what a
   modality worklist gives the machine); the study belongs to the order's patient and was made
   at the order's performer, with the order's priority and deadline;
2. by patient: the PatientID is the patient's SNILS (11 digits, any punctuation, with a valid
   check number) or the patient's FarCare UUID (what FarCare itself sends), and where the PACS
   has a birth date it must be the patient's. A machine's own record number (PatientID
   "UEL-000123") matches nobody: FarCare does not guess. Such a study was made at the facility
   the PACS serves (`--facility`, or FARCARE_PACS_FACILITY), and is routine.

Anything else stays in the PACS unregistered and is listed by the command with the reason.
Registering moves no bytes: the rows are made from QIDO-RS metadata, the frames are fetched by
WADO-RS when a radiologist opens the study."""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.diagnostics.models import Category, DiagnosticOrder, OrderStatus
from farcare.network.models import Facility
from farcare.patients.identifiers import digits, snils_is_valid
from farcare.patients.models import Patient

from .models import ImagingInstance, ImagingStudy, PacsPoll, Storage
from .notices import after_study_arrived
from .pacs import DicomWebPacs
from .reading_rules import reading_due
from .selectors import reading_facility_for

logger = logging.getLogger(__name__)

__all__ = [
    "PACS_ACCESSOR",
    "PacsStudy",
    "PollReport",
    "match_patient",
    "poll_pacs",
    "study_register_from_pacs",
]

PACS_ACCESSOR = Accessor(None, None, "pacs")
FIRST_POLL_DAYS = 7
OPEN_ORDER = (OrderStatus.ACTIVE, OrderStatus.ON_HOLD, OrderStatus.COMPLETED)


def _value(item: dict[str, Any], tag: str) -> str:
    values = item.get(tag, {}).get("Value") or [None]
    value = values[0]
    if isinstance(value, dict):
        return str(value.get("Alphabetic", ""))
    return "" if value is None else str(value).strip()


def _int(item: dict[str, Any], tag: str) -> int | None:
    try:
        text = _value(item, tag)
        return int(float(text)) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class PacsStudy:
    study_uid: str
    accession: str
    patient_id: str
    birth_date: str  # YYYYMMDD or ""
    date: str
    time: str
    description: str

    @classmethod
    def from_qido(cls, item: dict[str, Any]) -> PacsStudy:
        return cls(
            study_uid=_value(item, "0020000D"),
            accession=_value(item, "00080050"),
            patient_id=_value(item, "00100020"),
            birth_date=_value(item, "00100030"),
            date=_value(item, "00080020"),
            time=_value(item, "00080030"),
            description=_value(item, "00081030"),
        )


@dataclass
class PollReport:
    registered: list[str] = field(default_factory=list)
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (study UID, why)


def match_order(accession: str) -> DiagnosticOrder | None:
    if not accession:
        return None
    return (
        DiagnosticOrder.objects.select_related("patient", "performer", "ordering_facility")
        .filter(placer_number=accession, category=Category.IMAGING, status__in=OPEN_ORDER)
        .first()
    )


def match_patient(patient_id: str, birth_date: str) -> Patient | None:
    """The patient whose SNILS or FarCare UUID is `patient_id`, if the birth date (when the
    PACS has one) agrees."""
    patient: Patient | None = None
    number = digits(patient_id)
    if len(number) == 11 and len(re.sub(r"[\s\-]", "", patient_id)) == 11:
        if snils_is_valid(number):
            patient = Patient.objects.filter(snils=number).first()
    else:
        try:
            patient = Patient.objects.filter(uuid=uuid.UUID(patient_id.strip())).first()
        except ValueError:
            patient = None
    if patient is None:
        return None
    if birth_date and patient.birth_date and patient.birth_date.strftime("%Y%m%d") != birth_date:
        return None
    return patient


def _started_at(study: PacsStudy, facility: Facility) -> dt.datetime | None:
    import zoneinfo

    try:
        naive = dt.datetime.strptime(
            study.date + (study.time.split(".")[0] or "000000").ljust(6, "0")[:6], "%Y%m%d%H%M%S"
        )
    except ValueError:
        return None
    return naive.replace(tzinfo=zoneinfo.ZoneInfo(facility.time_zone)).astimezone(dt.UTC)


def study_register_from_pacs(
    *,
    pacs: DicomWebPacs,
    found: PacsStudy,
    patient: Patient,
    facility: Facility,
    order: DiagnosticOrder | None,
    accessor: Accessor = PACS_ACCESSOR,
) -> ImagingStudy:
    """Make the study's rows from the PACS's QIDO-RS metadata (no bytes move) and put it on
    the reading worklist; after commit the reading facility's radiologists are told."""
    series = pacs.qido(
        "series",
        study_instance_uid=found.study_uid,
        fields=["SeriesDescription", "BodyPartExamined"],
    )
    instances = pacs.qido(
        "instances",
        study_instance_uid=found.study_uid,
        fields=["SOPClassUID", "InstanceNumber", "NumberOfFrames", "BurnedInAnnotation"],
    )
    by_series = {_value(item, "0020000E"): item for item in series}
    first = next(iter(by_series.values()), {})
    read_hours = getattr(settings, "FARCARE_IMAGING_READ_HOURS", None)
    now = timezone.now()
    priority = order.priority if order is not None else "routine"
    with transaction.atomic():
        study = ImagingStudy.objects.create(
            study_uid=found.study_uid,
            patient=patient,
            order=order,
            facility=facility,
            reading_facility=reading_facility_for(facility),
            modality=_value(first, "00080060")[:8] or "OT",
            body_site=_value(first, "00180015")[:40],
            description=found.description[:200],
            accession_number=(order.placer_number if order is not None else found.accession)[:32],
            started_at=_started_at(found, facility),
            storage=Storage.PACS,
            priority=priority,
            due_at=(order.due_at if order is not None and order.due_at else None)
            or reading_due(priority, now, read_hours if isinstance(read_hours, dict) else None),
        )
        rows = []
        for item in instances:
            serie = by_series.get(_value(item, "0020000E"), {})
            rows.append(
                ImagingInstance(
                    study=study,
                    series_uid=_value(item, "0020000E")[:64],
                    series_number=_int(serie, "00200011"),
                    series_description=_value(serie, "0008103E")[:200],
                    modality=_value(serie, "00080060")[:8] or study.modality,
                    sop_uid=_value(item, "00080018")[:64],
                    sop_class_uid=_value(item, "00080016")[:64],
                    instance_number=_int(item, "00200013"),
                    frames=max(_int(item, "00280008") or 1, 1),
                    burned_in_annotation=_value(item, "00280301")[:8].strip().upper(),
                )
            )
        ImagingInstance.objects.bulk_create(rows)
        study.instance_count = len(rows)
        study.series_count = len({row.series_uid for row in rows})
        study.save(update_fields=["instance_count", "series_count"])
        audit_record(
            accessor=accessor,
            action=AuditAction.CREATE,
            patient_uuid=patient.uuid,
            record=study,
            details={
                "event": "registered from the PACS",
                "matched_by": "order" if order is not None else "patient identifier",
                "instances": len(rows),
            },
        )
        after_study_arrived(study)
    return study


def _since(poll: PacsPoll | None, now: dt.datetime) -> dt.date:
    if poll is None:
        days = int(getattr(settings, "FARCARE_PACS_IMPORT_FIRST_DAYS", FIRST_POLL_DAYS))
        return (now - dt.timedelta(days=days)).date()
    return (poll.polled_at - dt.timedelta(days=1)).date()


def poll_pacs(
    *, pacs: DicomWebPacs, facility: Facility | None, now: dt.datetime | None = None
) -> PollReport:
    """One poll: the studies since the last one, each registered or listed as unmatched."""
    now = now or timezone.now()
    poll = PacsPoll.objects.filter(pacs_url=pacs.url).first()
    since = _since(poll, now)
    found = [
        PacsStudy.from_qido(item)
        for item in pacs.qido(
            "studies",
            search_filters={"StudyDate": f"{since:%Y%m%d}-"},
            fields=["AccessionNumber", "PatientBirthDate", "StudyDescription", "StudyTime"],
            get_remaining=True,
        )
    ]
    known = set(
        ImagingStudy.objects.filter(study_uid__in=[s.study_uid for s in found]).values_list(
            "study_uid", flat=True
        )
    )
    report = PollReport()
    for study in found:
        if not study.study_uid or study.study_uid in known:
            continue
        order = match_order(study.accession)
        patient = (
            order.patient
            if order is not None
            else match_patient(study.patient_id, study.birth_date)
        )
        made_at = (order.performer or order.ordering_facility) if order is not None else facility
        if (
            order is not None
            and study.birth_date
            and order.patient.birth_date
            and order.patient.birth_date.strftime("%Y%m%d") != study.birth_date
        ):
            report.unmatched.append((study.study_uid, "the order's patient has another birth date"))
            continue
        if patient is None:
            report.unmatched.append(
                (study.study_uid, "neither an order's placer number nor a patient's identifier")
            )
            continue
        if made_at is None:
            report.unmatched.append(
                (study.study_uid, "matched a patient, but no --facility says where it was made")
            )
            continue
        try:
            registered = study_register_from_pacs(
                pacs=pacs, found=study, patient=patient, facility=made_at, order=order
            )
        except Exception as error:  # one bad study must not stop the others
            logger.exception("registering study %s from the PACS failed", study.study_uid)
            report.unmatched.append((study.study_uid, f"failed: {error}"))
            continue
        report.registered.append(registered.study_uid)
    PacsPoll.objects.update_or_create(
        pacs_url=pacs.url,
        defaults={
            "polled_at": now,
            "studies_registered": (poll.studies_registered if poll else 0) + len(report.registered),
        },
    )
    return report
