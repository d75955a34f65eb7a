"""An open request on its way to an answer: the consultant accepts or declines it, the
coordinator reassigns it, the thread's messages (a question to the requester puts it on hold),
cancelling it and any other move of the state machine, and the requester's word that a file
does not name the patient."""

from __future__ import annotations

import uuid as uuid_lib
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.access.policy import consult_sides
from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.core.ports import replication

from .. import alerts
from ..attachments import attachment_declare, attachment_store, check_upload
from ..models import (
    Assignment,
    AssignmentRole,
    Attachment,
    Consultation,
    ConsultForm,
    Message,
    Status,
)
from ..reassignment import reassign_verdict
from ..workflow import IllegalTransition, Side, apply, record_event
from ._common import _audit, _lock, _require_side, identity_problem, length_problem
from .requesting import _route


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
    """The coordinator hands the request to a consultant who may take it: of its specialty, at a
    facility its routing allows (`reassignment.reassign_verdict`); anyone else is refused with
    the reason, in the coordinator's language."""
    _require_side(accessor, consultation, Side.COORDINATOR)
    # The reason is on the timeline, which a consultant abroad may read.
    problem = identity_problem(reason, consultation.patient)
    if problem:
        raise ValidationError({"reason": problem})
    with transaction.atomic():
        locked = _lock(consultation)
        if not locked.is_open:
            raise IllegalTransition(_("A closed request cannot be reassigned."))
        verdict = reassign_verdict(locked, consultant)
        if verdict.facility is None:
            raise ValidationError({"consultant": verdict.refusal})
        now = timezone.now()
        locked.assignments.filter(ended_at__isnull=True, role=AssignmentRole.PRIMARY).update(
            ended_at=now, end_reason=f"reassigned by the coordinator: {reason}"
        )
        Assignment.objects.create(
            consultation=locked,
            consultant=consultant,
            facility=verdict.facility,
            role=AssignmentRole.PRIMARY,
            assigned_by=accessor.user,
            accepted_at=now if locked.status != Status.REQUESTED else None,
        )
        # A later decline moves on down the routing table from the facility chosen here.
        locked.routed_facility = verdict.facility
        locked.routing_rank = verdict.rank
        locked.save(update_fields=["routed_facility", "routing_rank", "updated_at"])
        note = f"{consultant}: {reason.strip()}" if reason.strip() else str(consultant)
        record_event(locked, event="reassigned", actor=accessor.user, note=note)
        _audit(
            accessor,
            locked,
            AuditAction.UPDATE,
            {"event": "reassign", "consultant": str(consultant.uuid), "reason": reason.strip()},
        )
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
