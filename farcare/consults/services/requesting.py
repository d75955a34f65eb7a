"""Asking for a consultation: what the requesting clinician typed and its checks, a draft,
the submission (idempotent by the form's client token), and routing to the consultants who
answer it (again when one declines, and by the deadline watcher)."""

from __future__ import annotations

import uuid as uuid_lib
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.access.policy import Action
from farcare.access.services import require
from farcare.accounts.models import Role, User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor
from farcare.clinical.news2 import news2_score
from farcare.clinical.vitals import VITALS
from farcare.core.db.inserts import insert_rows
from farcare.core.ports import replication
from farcare.network.models import Specialty
from farcare.patients.models import ConsentKind, Patient

from .. import alerts, routing
from ..attachments import attachment_declare, attachment_store, check_upload
from ..models import (
    Assignment,
    AssignmentRole,
    Consultation,
    ConsultForm,
    ConsultMode,
    DeadlinePolicy,
    Status,
    VitalObservation,
    VitalsMissing,
)
from ..workflow import Side, apply, record_event
from ._common import _audit, identity_problem, length_problem


@dataclass
class RequestData:
    """What the requesting clinician typed."""

    specialty: Specialty
    form: str
    question: str
    summary: str = ""
    mode: str = ConsultMode.DEFERRED
    language: str = "ru"
    vitals: dict[str, Any] = field(default_factory=dict)
    # Only for a consilium (2 when not given); any other mode refuses a size.
    consilium_size: int | None = None
    files: list[UploadedFile] = field(default_factory=list)
    # Why an emergency or urgent request lacks vital signs NEWS2 needs (VitalsMissing), and
    # what is missing in the clinician's words; the request form asks (consults.request_rules).
    vitals_missing: str = ""
    vitals_missing_note: str = ""


# What a draft and a request keep of RequestData, field for field.
_TYPED_FIELDS = (
    "specialty",
    "form",
    "mode",
    "language",
    "question",
    "summary",
    "vitals_missing",
    "vitals_missing_note",
)


def _has_consent(patient: Patient, kind: str) -> bool:
    return patient.consents.filter(kind=kind, revoked_at__isnull=True).exists()


def _store_vitals(consultation: Consultation, vitals: dict[str, Any]) -> None:
    consultation.vitals.all().delete()
    now = timezone.now()
    # One INSERT for the request's readings; each announced as its own save would be.
    insert_rows(
        [
            VitalObservation(
                patient=consultation.patient,
                consultation=consultation,
                key=key,
                loinc=VITALS[key].loinc,
                value=str(value),
                unit=VITALS[key].ucum,
                recorded_at=now,
            )
            for key, value in vitals.items()
            if value is not None and value != ""
        ],
        announce=True,
    )
    result = news2_score(vitals)
    consultation.news2_total = result.total if result.parameters_scored else None
    consultation.news2_band = str(result.band) if result.parameters_scored else ""
    consultation.suggested_form = str(result.suggested_form) if result.parameters_scored else ""
    # Saved here, with the vitals it is computed from: a request written at a station is not
    # saved again after this (no routing, no deadline there), and its NEWS2 was lost.
    consultation.save(update_fields=["news2_total", "news2_band", "suggested_form", "updated_at"])


CONSILIUM_SIZES = range(2, 6)
VITALS_MISSING_NOTE_MAX_CHARS = 200


def _check_text(
    errors: dict[str, str], name: str, text: str, limit: int, what: str, patient: Patient
) -> None:
    problem = length_problem(text, limit, what) or identity_problem(text, patient)
    if problem:
        errors[name] = problem


def _check_request(accessor: Accessor, patient: Patient, data: RequestData) -> None:
    if accessor.user is None or accessor.user.role != Role.CLINICIAN:
        raise PermissionDenied(_("Only a requesting clinician asks for a consultation."))
    errors: dict[str, str] = {}
    if not data.question.strip():
        errors["question"] = _("Write the question you want answered.")
    else:
        _check_text(
            errors,
            "question",
            data.question,
            settings.FARCARE_QUESTION_MAX_CHARS,
            _("The question"),
            patient,
        )
    _check_text(
        errors,
        "summary",
        data.summary,
        settings.FARCARE_SUMMARY_MAX_CHARS,
        _("The clinical summary"),
        patient,
    )
    if data.consilium_size is not None:
        if data.mode != ConsultMode.CONSILIUM:
            errors["consilium_size"] = _(
                "The number of consultants is for a consilium only: choose that mode, or "
                "leave the number out."
            )
        elif data.consilium_size not in CONSILIUM_SIZES:
            errors["consilium_size"] = _("A consilium has 2 to 5 consultants.")
    if data.form not in ConsultForm.values:
        errors["form"] = _("Choose the form: emergency, urgent or planned.")
    if data.vitals_missing and data.vitals_missing not in VitalsMissing.values:
        errors["vitals_missing"] = _("Choose why the vital signs are missing from the list.")
    elif data.vitals_missing == VitalsMissing.OTHER and not data.vitals_missing_note.strip():
        errors["vitals_missing_note"] = _("Say what is missing and why.")
    _check_text(
        errors,
        "vitals_missing_note",
        data.vitals_missing_note,
        VITALS_MISSING_NOTE_MAX_CHARS,
        _("The note on missing vital signs"),
        patient,
    )
    if data.mode not in ConsultMode.values:
        errors["mode"] = _("Choose the mode.")
    if data.form == ConsultForm.PLANNED and not _has_consent(patient, ConsentKind.TELECONSULTATION):
        errors["form"] = _(
            "A planned consultation needs the patient's consent to teleconsultation on record."
        )
    for upload in data.files:
        try:
            check_upload(upload)
        except ValidationError as error:
            errors["files"] = " ".join(error.messages)
    if errors:
        raise ValidationError(errors)


def consult_save_draft(
    *, accessor: Accessor, patient: Patient, client_token: uuid_lib.UUID, data: RequestData
) -> Consultation:
    """Keep what was typed, without submitting it. Saving again with the same token updates it;
    saving what is already kept writes nothing (the form autosaves as the clinician types).
    A token is its requester's: another person's draft, or another patient's, is refused."""
    decision = require(accessor=accessor, patient=patient, action=Action.UPDATE)
    if accessor.user is None or accessor.user.facility is None:
        raise PermissionDenied(_("Only a requesting clinician asks for a consultation."))
    with transaction.atomic():
        consultation = (
            Consultation.objects.select_for_update(of=("self",))
            .filter(client_token=client_token)
            .first()
        )
        if consultation is not None and consultation.status != Status.DRAFT:
            return consultation
        if consultation is None:
            consultation = Consultation(
                client_token=client_token,
                patient=patient,
                requester=accessor.user,
                requesting_facility=accessor.user.facility,
            )
        elif consultation.requester_id != accessor.user.pk or consultation.patient_id != patient.pk:
            raise PermissionDenied(_("This draft is someone else's."))
        elif _unchanged(consultation, data):
            return consultation
        for name in _TYPED_FIELDS:
            setattr(consultation, name, getattr(data, name))
        consultation.save()
        _store_vitals(consultation, data.vitals)
        consultation.save()
        _audit(accessor, consultation, AuditAction.UPDATE, {"draft": True}, decision.purpose)
    return consultation


def _unchanged(consultation: Consultation, data: RequestData) -> bool:
    """Does the draft already hold exactly this?"""
    if any(getattr(consultation, name) != getattr(data, name) for name in _TYPED_FIELDS):
        return False
    stored = {vital.key: vital.value for vital in consultation.vitals.all()}
    typed = {key: str(value) for key, value in data.vitals.items() if value not in (None, "")}
    return stored == typed


def consult_submit(
    *,
    accessor: Accessor,
    patient: Patient,
    client_token: uuid_lib.UUID,
    data: RequestData,
    uuid: uuid_lib.UUID | None = None,
    declared: list[dict[str, Any]] | None = None,
) -> Consultation:
    """Submit a request. Idempotent: the same client token never makes a second request.

    A request made at a station arrives with the station's `uuid` and the files it `declared`
    (name, type, size, SHA-256): they are listed at once and fill in as their previews and
    originals cross the link."""
    existing = Consultation.objects.filter(client_token=client_token).first()
    if existing is not None and existing.status != Status.DRAFT:
        return existing
    decision = require(accessor=accessor, patient=patient, action=Action.UPDATE)
    _check_request(accessor, patient, data)
    try:
        consultation = _submit(
            accessor, patient, client_token, data, decision.purpose, uuid, declared or []
        )
    except IntegrityError:
        # Another submission with this token committed first: that one is the request.
        return Consultation.objects.get(client_token=client_token)
    return consultation


@transaction.atomic
def _submit(
    accessor: Accessor,
    patient: Patient,
    client_token: uuid_lib.UUID,
    data: RequestData,
    purpose: str,
    uuid: uuid_lib.UUID | None = None,
    declared: list[dict[str, Any]] | None = None,
) -> Consultation:
    assert accessor.user is not None and accessor.user.facility is not None
    consultation = (
        Consultation.objects.select_for_update(of=("self",))
        .filter(client_token=client_token)
        .first()
    )
    if consultation is None:
        consultation = Consultation(
            client_token=client_token,
            patient=patient,
            requester=accessor.user,
            requesting_facility=accessor.user.facility,
        )
        if uuid is not None:
            consultation.uuid = uuid
    elif consultation.status != Status.DRAFT:
        return consultation
    for name in _TYPED_FIELDS:
        setattr(consultation, name, getattr(data, name))
    consultation.save()
    _store_vitals(consultation, data.vitals)
    # What NEWS2 suggested as the request left, beside the form the clinician chose.
    consultation.form_suggested = consultation.suggested_form
    consultation.save(update_fields=["form_suggested", "updated_at"])
    for upload in data.files:
        attachment_store(consultation=consultation, upload=upload, user=accessor.user)
    for entry in declared or []:
        attachment_declare(consultation=consultation, user=accessor.user, **entry)
    if replication().is_station():
        # At a remote post the clock starts when the hub receives the request (domain.md §2),
        # and the hub routes it: here it only waits in the outbox.
        apply(consultation, Status.REQUESTED, side=Side.REQUESTER, actor=accessor.user)
        _audit(accessor, consultation, AuditAction.CREATE, _request_details(consultation), purpose)
        replication().request_submitted(consultation=consultation, actor=accessor.user)
        return consultation
    now = timezone.now()
    consultation.received_at = now
    consultation.deadline_at = now + DeadlinePolicy.duration(consultation.form)
    consultation.save()
    apply(consultation, Status.REQUESTED, side=Side.REQUESTER, actor=accessor.user)
    _route(consultation, start_rank=0, actor=accessor.user, size=_team_size(data))
    _audit(accessor, consultation, AuditAction.CREATE, _request_details(consultation), purpose)
    return consultation


def _request_details(consultation: Consultation) -> dict[str, str]:
    """The audit record of a request: the form chosen, and what NEWS2 suggested."""
    details = {"form": consultation.form}
    if consultation.form_suggested:
        details["suggested_form"] = consultation.form_suggested
    if consultation.vitals_missing:
        details["vitals_missing"] = consultation.vitals_missing
    return details


def _team_size(data: RequestData) -> int:
    if data.mode != ConsultMode.CONSILIUM:
        return 1
    return max(2, data.consilium_size or 2)


def _abroad_allowed(consultation: Consultation) -> bool:
    return _has_consent(consultation.patient, ConsentKind.TRANSFER_ABROAD)


def _route(
    consultation: Consultation,
    *,
    start_rank: int,
    actor: User | None,
    size: int = 1,
    exclude: set[int] | None = None,
) -> list[Assignment]:
    """Assign the best consultant(s) from `start_rank` of the routing table on."""
    facilities = routing.consulting_facilities(
        requesting=consultation.requesting_facility,
        specialty=consultation.specialty,
        abroad_allowed=_abroad_allowed(consultation),
    )
    excluded = set(exclude or ())
    excluded |= set(consultation.assignments.values_list("consultant_id", flat=True))
    made: list[Assignment] = []
    now = timezone.now()
    for index in range(size):
        choice = routing.choose(
            facilities=facilities,
            specialty=consultation.specialty,
            language=consultation.language,
            at=now,
            start_rank=start_rank,
            exclude=excluded,
        )
        if index == 0:
            consultation.routed_facility = choice.facility
            consultation.routing_rank = choice.rank
            consultation.save(update_fields=["routed_facility", "routing_rank", "updated_at"])
        if choice.candidate is None:
            break
        excluded.add(choice.candidate.user.pk)
        made.append(
            Assignment.objects.create(
                consultation=consultation,
                consultant=choice.candidate.user,
                facility=choice.candidate.facility,
                role=AssignmentRole.PRIMARY if index == 0 else AssignmentRole.MEMBER,
                assigned_by=actor,
            )
        )
    record_event(
        consultation,
        event="routed" if made else "unassigned",
        actor=actor,
        note=", ".join(str(assignment.consultant) for assignment in made)
        or str(consultation.routed_facility or ""),
    )
    for assignment in made:
        alerts.assigned(consultation, assignment.consultant)
    if not made:
        alerts.nobody_available(consultation)
    return made
