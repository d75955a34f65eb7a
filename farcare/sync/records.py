"""The shapes that cross the link: a patient, and the hub's view of a consultation. One module
for both ends, so that what the hub writes is what the station reads."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from farcare.consults.conclusions import conclusion_verification
from farcare.consults.models import Assignment, Attachment, Conclusion, Consultation
from farcare.network.models import Facility, Settlement
from farcare.patients.models import PATIENT_FIELDS, Patient
from farcare.patients.records import patient_fields

FOREIGN_KEYS: dict[str, type[Settlement] | type[Facility]] = {
    "home_settlement": Settlement,
    "home_facility": Facility,
}


def patient_record(patient: Patient) -> dict[str, Any]:
    return {"uuid": str(patient.uuid), **patient_fields(patient)}


def patient_data(values: dict[str, Any]) -> dict[str, Any]:
    """Plain values back to what the patient services take: model instances and dates."""
    data: dict[str, Any] = {}
    for name in PATIENT_FIELDS:
        if name not in values:
            continue
        value = values[name]
        if name in FOREIGN_KEYS:
            found = FOREIGN_KEYS[name].objects.filter(uuid=value).first() if value else None
            if value and found is None:
                raise ValidationError({name: _("Unknown place: %(uuid)s") % {"uuid": value}})
            data[name] = found
        elif name == "birth_date":
            data[name] = date.fromisoformat(value) if value else None
        else:
            data[name] = value or ""
    return data


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _person(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    facility = getattr(user, "facility", None)
    return {
        "uuid": str(user.uuid),
        "name": user.get_full_name() or user.username,
        "facility": facility.name_en if facility is not None else "",
    }


def _consultant(assignment: Assignment) -> dict[str, Any]:
    """Who answers, where, and whether they have accepted. The facility by its UUID too, so that
    the post names it in its reader's language from its own copy of the network."""
    return {
        **(_person(assignment.consultant) or {}),
        "facility": assignment.facility.name_en,
        "facility_uuid": str(assignment.facility.uuid),
        "accepted_at": _when(assignment.accepted_at),
    }


def _attachment(item: Attachment) -> dict[str, Any]:
    return {
        "uuid": str(item.uuid),
        "name": item.original_name,
        "content_type": item.content_type,
        "size": item.size,
        "original": bool(item.file),
        "preview": bool(item.preview),
        "viewed_at": _when(item.viewed_at),
        "original_requested_at": _when(item.original_requested_at),
        "conclusion": item.conclusion_id is not None,
    }


def _conclusion(conclusion: Conclusion) -> dict[str, Any]:
    verified = conclusion_verification(conclusion)
    document = getattr(conclusion, "document", None)
    destination = conclusion.evacuation_destination
    return {
        "uuid": str(conclusion.uuid),
        "version": conclusion.version,
        # The hub's document number, quoted at the post as on the hub's page and its PDF;
        # empty for a conclusion signed before numbering began.
        "number": conclusion.number,
        "author": _person(conclusion.author),
        "findings": conclusion.findings,
        "diagnoses": conclusion.diagnoses,
        "recommendations": conclusion.recommendations,
        "evacuation": conclusion.evacuation,
        "evacuation_destination": destination.name_en if destination else "",
        "follow_up": conclusion.follow_up,
        "signed_at": _when(conclusion.signed_at),
        "signature_valid": verified.valid,
        "signature_note": verified.reason,
        "pdf": str(document.uuid) if document is not None else None,
    }


def consultation_copy(consultation: Consultation) -> dict[str, Any]:
    """What the station keeps of a consultation: state, who answers, the thread, the signed
    conclusion and how far each of its files has got."""
    assignments = [a for a in consultation.assignments.all() if a.ended_at is None]
    conclusions = list(consultation.conclusions.all())
    return {
        "uuid": str(consultation.uuid),
        "patient": str(consultation.patient.uuid),
        "status": consultation.status,
        "version": consultation.version,
        "updated_at": _when(consultation.updated_at),
        "received_at": _when(consultation.received_at),
        "deadline_at": _when(consultation.deadline_at),
        "paused_at": _when(consultation.paused_at),
        "routed_facility": (
            consultation.routed_facility.name_en if consultation.routed_facility else ""
        ),
        "routed_facility_uuid": (
            str(consultation.routed_facility.uuid) if consultation.routed_facility else None
        ),
        "consultants": [_consultant(a) for a in assignments],
        # The score the hub holds (it may have been recomputed there, e.g. from FHIR vitals);
        # the post shows it over its own once it has come.
        "news2_total": consultation.news2_total,
        "news2_band": consultation.news2_band,
        "messages": [
            {
                "uuid": str(m.uuid),
                "author": _person(m.author),
                "body": m.body,
                "at": _when(m.created_at),
                "asks_requester": m.asks_requester,
            }
            for m in consultation.messages.all()
        ],
        "conclusion": _conclusion(conclusions[0]) if conclusions else None,
        "attachments": [_attachment(a) for a in consultation.attachments.all()],
    }
