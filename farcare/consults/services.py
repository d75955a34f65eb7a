"""Writes of consultations. Each: ask the access policy (a refusal is audited before any
transaction), then in one transaction lock the row, move the state machine, write the audit
record, and queue the alerts to send after commit."""

from __future__ import annotations

import hashlib
import uuid as uuid_lib
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from farcare.access.policy import Action, consult_sides
from farcare.access.services import require
from farcare.accounts.models import Role, User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.clinical import icd10
from farcare.clinical.news2 import news2_score
from farcare.clinical.vitals import VITALS
from farcare.core.ports import replication
from farcare.network.models import Facility, Specialty
from farcare.patients.models import ConsentKind, Patient
from farcare.signatures.services import sign_document

from . import alerts, routing
from .attachments import attachment_declare, attachment_store, check_upload
from .identity_check import PatientFacts, find_identity
from .models import (
    Acknowledgement,
    Assignment,
    AssignmentRole,
    Attachment,
    Conclusion,
    Consultation,
    ConsultForm,
    ConsultMode,
    DeadlinePolicy,
    EvacuationAdvice,
    Message,
    Status,
    VitalObservation,
)
from .workflow import IllegalTransition, Side, apply, record_event


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


def _audit(
    accessor: Accessor,
    consultation: Consultation,
    action: str,
    details: dict[str, Any] | None = None,
    purpose: str = "normal",
) -> None:
    audit_record(
        accessor=accessor,
        action=action,
        patient_uuid=consultation.patient.uuid,
        record=consultation,
        purpose=purpose,
        details=details,
    )


def _has_consent(patient: Patient, kind: str) -> bool:
    return patient.consents.filter(kind=kind, revoked_at__isnull=True).exists()


def _lock(consultation: Consultation) -> Consultation:
    return (
        Consultation.objects.select_for_update(of=("self",))
        .select_related("patient", "requesting_facility", "specialty", "routed_facility")
        .get(pk=consultation.pk)
    )


def _require_side(accessor: Accessor, consultation: Consultation, side: Side) -> None:
    if side not in consult_sides(accessor.user, consultation):
        audit_record(
            accessor=accessor,
            action=AuditAction.DENIED,
            patient_uuid=consultation.patient.uuid,
            record=consultation,
            outcome="denied",
            details={"wanted": str(side)},
        )
        raise PermissionDenied(_("This request is not yours to act on."))


def _store_vitals(consultation: Consultation, vitals: dict[str, Any]) -> None:
    consultation.vitals.all().delete()
    now = timezone.now()
    for key, value in vitals.items():
        if value is None or value == "":
            continue
        spec = VITALS[key]
        VitalObservation.objects.create(
            patient=consultation.patient,
            consultation=consultation,
            key=key,
            loinc=spec.loinc,
            value=str(value),
            unit=spec.ucum,
            recorded_at=now,
        )
    result = news2_score(vitals)
    consultation.news2_total = result.total if result.parameters_scored else None
    consultation.news2_band = str(result.band) if result.parameters_scored else ""
    consultation.suggested_form = str(result.suggested_form) if result.parameters_scored else ""
    # Saved here, with the vitals it is computed from: a request written at a station is not
    # saved again after this (no routing, no deadline there), and its NEWS2 was lost.
    consultation.save(update_fields=["news2_total", "news2_band", "suggested_form", "updated_at"])


# How a finding of farcare.consults.identity_check is named to the user.
IDENTITY_KINDS = {
    "family name": gettext_lazy("family name"),
    "given name": gettext_lazy("given name"),
    "patronymic": gettext_lazy("patronymic"),
    "SNILS": gettext_lazy("SNILS"),
    "OMS policy": gettext_lazy("OMS policy number"),
    "phone": gettext_lazy("phone"),
    "birth date": gettext_lazy("birth date"),
}
CONSILIUM_SIZES = range(2, 6)


def identity_problem(text: str, patient: Patient) -> str:
    """Why `text` may not be sent as it is (it names the patient), or ''. Free text of a case
    may be read abroad, where the patient must stay unnamed (domain.md §3): every request can
    be routed on to a partner abroad while it is open (a decline, a breach, a reassignment), so
    it is checked whatever the routing is now."""
    findings = find_identity(text, PatientFacts.of(patient))
    if not findings:
        return ""
    found = ", ".join(str(IDENTITY_KINDS.get(f.kind, f.kind)) for f in findings)
    return _(
        "This text names the patient (%(found)s). A consultant abroad may read it: describe "
        "the patient without names or numbers; the case already says who it is to those "
        "who may know."
    ) % {"found": found}


def length_problem(text: str, limit: int, what: str) -> str:
    if len(text) <= limit:
        return ""
    return _(
        "%(what)s is %(length)s characters long; the limit is %(limit)s. Shorten it, or "
        "attach the rest as a document."
    ) % {"what": what, "length": len(text), "limit": limit}


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
    """Keep what was typed, without submitting it. Saving again with the same token updates it."""
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
        for name in ("specialty", "form", "mode", "language", "question", "summary"):
            setattr(consultation, name, getattr(data, name))
        consultation.save()
        _store_vitals(consultation, data.vitals)
        consultation.save()
        _audit(accessor, consultation, AuditAction.UPDATE, {"draft": True}, decision.purpose)
    return consultation


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
    for name in ("specialty", "form", "mode", "language", "question", "summary"):
        setattr(consultation, name, getattr(data, name))
    consultation.save()
    _store_vitals(consultation, data.vitals)
    for upload in data.files:
        attachment_store(consultation=consultation, upload=upload, user=accessor.user)
    for entry in declared or []:
        attachment_declare(consultation=consultation, user=accessor.user, **entry)
    if replication().is_station():
        # At a remote post the clock starts when the hub receives the request (domain.md §2),
        # and the hub routes it: here it only waits in the outbox.
        apply(consultation, Status.REQUESTED, side=Side.REQUESTER, actor=accessor.user)
        _audit(accessor, consultation, AuditAction.CREATE, {"form": consultation.form}, purpose)
        replication().request_submitted(consultation=consultation, actor=accessor.user)
        return consultation
    now = timezone.now()
    consultation.received_at = now
    consultation.deadline_at = now + DeadlinePolicy.duration(consultation.form)
    consultation.save()
    apply(consultation, Status.REQUESTED, side=Side.REQUESTER, actor=accessor.user)
    _route(consultation, start_rank=0, actor=accessor.user, size=_team_size(data))
    _audit(accessor, consultation, AuditAction.CREATE, {"form": consultation.form}, purpose)
    return consultation


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


def consult_accept(
    *, accessor: Accessor, consultation: Consultation, expected_version: int | None = None
) -> Consultation:
    """The consultant takes the request. Of two consultants accepting at once, one wins; the
    other is told that it was accepted already."""
    _require_side(accessor, consultation, Side.CONSULTANT)
    user = accessor.user
    assert user is not None
    with transaction.atomic():
        locked = _lock(consultation)
        if locked.status != Status.REQUESTED:
            raise IllegalTransition(_("This request was accepted or closed already."), code="taken")
        mine = locked.assignments.filter(consultant=user, ended_at__isnull=True).first()
        now = timezone.now()
        if mine is None:
            # A colleague at the routed facility claims it: the earlier assignee is released.
            assert user.facility is not None  # consult_sides admits only consultants there
            locked.assignments.filter(ended_at__isnull=True, role=AssignmentRole.PRIMARY).update(
                ended_at=now, end_reason="claimed by a colleague"
            )
            mine = Assignment.objects.create(
                consultation=locked,
                consultant=user,
                facility=user.facility,
                role=AssignmentRole.PRIMARY,
                assigned_by=user,
            )
        mine.accepted_at = now
        mine.save(update_fields=["accepted_at"])
        apply(
            locked,
            Status.ACCEPTED,
            side=Side.CONSULTANT,
            actor=user,
            expected_version=expected_version,
        )
        _audit(accessor, locked, AuditAction.UPDATE, {"event": "accept"})
        alerts.status_changed(locked, actor=user)
    return locked


def consult_decline(*, accessor: Accessor, consultation: Consultation, reason: str) -> Consultation:
    """The consultant cannot take it; the request moves on to the next consultant."""
    _require_side(accessor, consultation, Side.CONSULTANT)
    if len(reason.strip()) < 3:
        raise ValidationError({"reason": _("Say why you decline.")})
    user = accessor.user
    with transaction.atomic():
        locked = _lock(consultation)
        if locked.status != Status.REQUESTED:
            raise IllegalTransition(_("Only a request not yet accepted can be declined."))
        locked.assignments.filter(consultant=user, ended_at__isnull=True).update(
            ended_at=timezone.now(), end_reason=f"declined: {reason.strip()}"
        )
        record_event(locked, event="declined", actor=user, note=reason.strip())
        _route(locked, start_rank=locked.routing_rank, actor=user)
        _audit(accessor, locked, AuditAction.UPDATE, {"event": "decline", "reason": reason})
    return locked


def consult_reassign(
    *, accessor: Accessor, consultation: Consultation, consultant: User, reason: str = ""
) -> Consultation:
    """The coordinator hands the request to a named consultant."""
    _require_side(accessor, consultation, Side.COORDINATOR)
    if consultant.role != Role.CONSULTANT or consultant.facility is None:
        raise ValidationError({"consultant": _("Choose a consultant.")})
    with transaction.atomic():
        locked = _lock(consultation)
        if not locked.is_open:
            raise IllegalTransition(_("A closed request cannot be reassigned."))
        now = timezone.now()
        locked.assignments.filter(ended_at__isnull=True, role=AssignmentRole.PRIMARY).update(
            ended_at=now, end_reason=f"reassigned by the coordinator: {reason}"
        )
        Assignment.objects.create(
            consultation=locked,
            consultant=consultant,
            facility=consultant.facility,
            role=AssignmentRole.PRIMARY,
            assigned_by=accessor.user,
            accepted_at=now if locked.status != Status.REQUESTED else None,
        )
        locked.routed_facility = consultant.facility
        locked.save(update_fields=["routed_facility", "updated_at"])
        record_event(locked, event="reassigned", actor=accessor.user, note=str(consultant))
        _audit(accessor, locked, AuditAction.UPDATE, {"event": "reassign"})
        alerts.assigned(locked, consultant)
    return locked


def _pause(consultation: Consultation) -> None:
    # Waiting for the requester is not the consultant's delay: the clock of an urgent or
    # planned request stops while it is on hold. An emergency clock never stops.
    if consultation.form != ConsultForm.EMERGENCY:
        consultation.paused_at = timezone.now()
        consultation.save(update_fields=["paused_at"])


def _resume(consultation: Consultation) -> None:
    if consultation.paused_at and consultation.deadline_at:
        consultation.deadline_at += timezone.now() - consultation.paused_at
    consultation.paused_at = None
    consultation.save(update_fields=["paused_at", "deadline_at"])


def message_post(
    *,
    accessor: Accessor,
    consultation: Consultation,
    body: str,
    ask_requester: bool = False,
    expected_version: int | None = None,
    files: list[UploadedFile] | None = None,
    uuid: uuid_lib.UUID | None = None,
    declared: list[dict[str, Any]] | None = None,
) -> Message:
    """A message in the case's thread. A consultant's question to the requester puts the
    request on hold; the requester's reply resumes it."""
    sides = consult_sides(accessor.user, consultation)
    if not sides & {Side.REQUESTER, Side.CONSULTANT}:
        _require_side(accessor, consultation, Side.REQUESTER)
    if not body.strip() and not files:
        raise ValidationError({"body": _("The message is empty.")})
    problem = length_problem(
        body.strip(), settings.FARCARE_MESSAGE_MAX_CHARS, _("The message")
    ) or identity_problem(body, consultation.patient)
    if problem:
        raise ValidationError({"body": problem})
    for upload in files or []:
        check_upload(upload)
    with transaction.atomic():
        locked = _lock(consultation)
        if locked.status in (Status.DRAFT, Status.CANCELLED, Status.ENTERED_IN_ERROR):
            raise IllegalTransition(_("This request takes no messages."))
        assert accessor.user is not None
        message = Message(
            consultation=locked,
            author=accessor.user,
            body=body.strip(),
            asks_requester=ask_requester and Side.CONSULTANT in sides,
        )
        if uuid is not None:
            message.uuid = uuid
        message.save()
        for upload in files or []:
            attachment_store(
                consultation=locked, upload=upload, user=accessor.user, message=message
            )
        for entry in declared or []:
            attachment_declare(consultation=locked, user=accessor.user, message=message, **entry)
        if message.asks_requester and locked.status in (Status.ACCEPTED, Status.IN_PROGRESS):
            apply(
                locked,
                Status.ON_HOLD,
                side=Side.CONSULTANT,
                actor=accessor.user,
                expected_version=expected_version,
            )
            _pause(locked)
        elif Side.REQUESTER in sides and locked.status == Status.ON_HOLD:
            apply(locked, Status.IN_PROGRESS, side=Side.REQUESTER, actor=accessor.user)
            _resume(locked)
        elif locked.status == Status.ACCEPTED and Side.CONSULTANT in sides:
            apply(locked, Status.IN_PROGRESS, side=Side.CONSULTANT, actor=accessor.user)
        else:
            record_event(locked, event="message", actor=accessor.user)
        _audit(accessor, locked, AuditAction.UPDATE, {"event": "message"})
        alerts.new_message(locked, message)
        replication().message_posted(message=message, actor=accessor.user)
    return message


def consult_cancel(*, accessor: Accessor, consultation: Consultation, reason: str) -> Consultation:
    sides = consult_sides(accessor.user, consultation)
    if not sides:
        _require_side(accessor, consultation, Side.REQUESTER)
    if len(reason.strip()) < 3:
        raise ValidationError({"reason": _("Say why the request is cancelled.")})
    side = next(s for s in (Side.REQUESTER, Side.CONSULTANT, Side.COORDINATOR) if s in sides)
    with transaction.atomic():
        locked = _lock(consultation)
        apply(locked, Status.CANCELLED, side=side, actor=accessor.user, note=reason.strip())
        locked.assignments.filter(ended_at__isnull=True).update(
            ended_at=timezone.now(), end_reason="cancelled"
        )
        _audit(accessor, locked, AuditAction.UPDATE, {"event": "cancel", "reason": reason})
        alerts.status_changed(locked, actor=accessor.user)
    return locked


def consult_transition(
    *,
    accessor: Accessor,
    consultation: Consultation,
    target: Status,
    note: str = "",
    expected_version: int | None = None,
) -> Consultation:
    """Any other move a side may make (start work, reject, fail, discard a draft)."""
    sides = consult_sides(accessor.user, consultation)
    if not sides:
        _require_side(accessor, consultation, Side.REQUESTER)
    with transaction.atomic():
        locked = _lock(consultation)
        side = next(
            (s for s in (Side.CONSULTANT, Side.REQUESTER, Side.COORDINATOR) if s in sides),
            Side.REQUESTER,
        )
        was_on_hold = locked.status == Status.ON_HOLD
        apply(
            locked,
            target,
            side=side,
            actor=accessor.user,
            note=note,
            expected_version=expected_version,
        )
        if was_on_hold and target == Status.IN_PROGRESS:
            _resume(locked)  # however it resumes, the stopped clock starts again
        if target in (Status.REJECTED, Status.FAILED, Status.CANCELLED):
            locked.assignments.filter(ended_at__isnull=True).update(
                ended_at=timezone.now(), end_reason=str(target)
            )
        _audit(accessor, locked, AuditAction.UPDATE, {"event": str(target), "note": note})
        alerts.status_changed(locked, actor=accessor.user)
    return locked


@dataclass
class ConclusionData:
    findings: str
    diagnoses: list[str]
    recommendations: str
    evacuation: str = EvacuationAdvice.NONE
    evacuation_destination: Facility | None = None
    follow_up: str = ""


def conclusion_document(conclusion: Conclusion) -> dict[str, Any]:
    """What the signature covers: every clinical field of the conclusion, and whom it is about."""
    consultation = conclusion.consultation
    return {
        "consultation": str(consultation.uuid),
        "patient": str(consultation.patient.uuid),
        "requesting_facility": str(consultation.requesting_facility.uuid),
        "requester": str(consultation.requester.uuid),
        "consultant": str(conclusion.author.uuid),
        "question": consultation.question,
        "version": conclusion.version,
        "findings": conclusion.findings,
        "diagnoses": [entry["code"] for entry in conclusion.diagnoses],
        "recommendations": conclusion.recommendations,
        "evacuation": conclusion.evacuation,
        "evacuation_destination": str(conclusion.evacuation_destination.uuid)
        if conclusion.evacuation_destination
        else "",
        "follow_up": conclusion.follow_up,
        "signed_at": conclusion.signed_at,
    }


def _check_conclusion(data: ConclusionData) -> list[dict[str, str]]:
    errors: dict[str, str] = {}
    codes = [icd10.normalise_code(code) for code in data.diagnoses if code.strip()]
    unknown = [code for code in codes if not icd10.is_valid(code)]
    if not codes:
        errors["diagnoses"] = _("Give at least one diagnosis as an ICD-10 code.")
    elif unknown:
        errors["diagnoses"] = _("Not an ICD-10 code: %(codes)s") % {"codes": ", ".join(unknown)}
    if not data.findings.strip():
        errors["findings"] = _("Write your findings.")
    if not data.recommendations.strip():
        errors["recommendations"] = _("Write your recommendations.")
    if data.evacuation != EvacuationAdvice.NONE and data.evacuation_destination is None:
        errors["evacuation_destination"] = _("Name the facility the patient should go to.")
    if data.evacuation not in EvacuationAdvice.values:
        errors["evacuation"] = _("Choose the transfer advice.")
    if errors:
        raise ValidationError(errors)
    return [{"code": code, "label": icd10.label(code, "en")} for code in codes]


def conclusion_sign(
    *,
    accessor: Accessor,
    consultation: Consultation,
    data: ConclusionData,
    expected_version: int | None = None,
) -> Conclusion:
    """Sign the conclusion; the request is completed. Signing again amends it: a new signed
    version, the earlier one kept."""
    _require_side(accessor, consultation, Side.CONSULTANT)
    diagnoses = _check_conclusion(data)
    user = accessor.user
    assert user is not None
    with transaction.atomic():
        locked = _lock(consultation)
        if not locked.assignments.filter(consultant=user, ended_at__isnull=True).exists():
            raise PermissionDenied(_("Accept the request before you answer it."))
        previous = locked.conclusions.order_by("-version").first()
        amending = locked.status == Status.COMPLETED
        conclusion = Conclusion(
            consultation=locked,
            version=(previous.version + 1) if previous else 1,
            author=user,
            findings=data.findings.strip(),
            diagnoses=diagnoses,
            recommendations=data.recommendations.strip(),
            evacuation=data.evacuation,
            evacuation_destination=data.evacuation_destination,
            follow_up=data.follow_up.strip(),
            signed_at=timezone.now().replace(microsecond=0),
        )
        conclusion.signature = sign_document(
            signer_user=user,
            document_type="conclusion",
            document_id=f"{locked.uuid}/v{conclusion.version}",
            document=conclusion_document(conclusion),
        )
        conclusion.save()
        _file_conclusion(conclusion, user)
        apply(
            locked,
            Status.COMPLETED,
            side=Side.CONSULTANT,
            actor=user,
            expected_version=expected_version,
            event="amend" if amending else "complete",
        )
        if amending and hasattr(locked, "acknowledgement"):
            # The requester must read the amended conclusion again.
            locked.acknowledgement.delete()
        _audit(accessor, locked, AuditAction.CREATE, {"conclusion": conclusion.version})
        alerts.concluded(locked, conclusion)
    return conclusion


def _file_conclusion(conclusion: Conclusion, user: User) -> Attachment:
    """The signed conclusion as a PDF document in the case (and so in the patient's record),
    in the requester's language."""
    from django.core.files.base import ContentFile

    from .pdf import render_conclusion

    consultation = conclusion.consultation
    language = consultation.requester.language or consultation.language or "ru"
    content = render_conclusion(conclusion, language=language)
    document = Attachment(
        consultation=consultation,
        conclusion=conclusion,
        original_name=f"conclusion-{consultation.uuid.hex[:8]}-v{conclusion.version}.pdf",
        content_type="application/pdf",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=user,
    )
    document.file.save("conclusion.pdf", ContentFile(content), save=False)
    document.save()
    return document


def consult_acknowledge(
    *, accessor: Accessor, consultation: Consultation, action: str, helped: str, note: str = ""
) -> Acknowledgement:
    """The requester read the conclusion and says what was done and whether it helped."""
    _require_side(accessor, consultation, Side.REQUESTER)
    with transaction.atomic():
        locked = _lock(consultation)
        latest = locked.conclusions.order_by("-version").first()
        if locked.status != Status.COMPLETED or latest is None:
            raise IllegalTransition(_("There is no conclusion to acknowledge yet."))
        acknowledgement, _created = Acknowledgement.objects.update_or_create(
            consultation=locked,
            defaults={
                "conclusion": latest,
                "by": accessor.user,
                "at": timezone.now(),
                "action": action,
                "helped": helped,
                "note": note.strip(),
            },
        )
        acknowledgement.full_clean()
        record_event(locked, event="acknowledged", actor=accessor.user, note=action)
        _audit(accessor, locked, AuditAction.UPDATE, {"event": "acknowledge", "action": action})
    return acknowledgement


# Files that are read as text when the requester marks them: a number or a name in them is found
# by the same rules as in the question (a PDF or a photo is left to the requester's eyes).
TEXT_TYPES = frozenset({"text/plain", "text/csv", "application/xml"})


def _file_text(attachment: Attachment) -> str:
    if attachment.content_type not in TEXT_TYPES or not attachment.file:
        return ""
    with attachment.file.open("rb") as source:
        raw = source.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1251", errors="replace")  # what Russian Windows software writes


def attachment_mark_checked(*, accessor: Accessor, attachment: Attachment) -> Attachment:
    """The requester says the file shows no name or number of the patient: from now on it may
    go to a consultant abroad (pseudonymised under a neutral name). Recorded with who and when,
    and audited. A text file that does name the patient is refused, saying what was found."""
    consultation = attachment.consultation
    _require_side(accessor, consultation, Side.REQUESTER)
    problem = identity_problem(_file_text(attachment), consultation.patient)
    if problem:
        raise ValidationError(problem)
    with transaction.atomic():
        locked = Attachment.objects.select_for_update().get(pk=attachment.pk)
        if locked.identity_checked_at is None:
            locked.identity_checked_by = accessor.user
            locked.identity_checked_at = timezone.now()
            locked.save(update_fields=["identity_checked_by", "identity_checked_at"])
            Consultation.objects.filter(pk=consultation.pk).update(updated_at=timezone.now())
            audit_record(
                accessor=accessor,
                action=AuditAction.UPDATE,
                patient_uuid=consultation.patient.uuid,
                record=locked,
                details={"identity_checked": True},
            )
    return locked
