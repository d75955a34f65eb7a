"""Writes of training: programmes opened and closed, their trainers, sessions scheduled, moved
and cancelled, learners enrolled, attendance recorded. Training data is not patient data, but
every change goes to the audit trail (with no patient), as the house does for its other
non-patient changes, after the permission check and inside the change's transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record, audit_refusal
from farcare.network.models import Specialty

from .models import (
    Attendance,
    AttendanceHow,
    Enrolment,
    Programme,
    ProgrammeStatus,
    Session,
    SessionMode,
    SessionStatus,
)
from .selectors import (
    TEACHER_ROLES,
    is_trainer_of,
    may_create_programmes,
    may_learn,
)

LANGUAGES = ("ru", "ko", "en")
MAX_IN_SERIES = 52


def _audit(accessor: Accessor, record: Any, action: str, **details: Any) -> None:
    audit_record(
        accessor=accessor, action=action, record=record, details={"app": "training", **details}
    )


def _refuse(accessor: Accessor, record: Any, message: str) -> NoReturn:
    """The refusal is written outside any change's transaction, so it is kept."""
    audit_refusal(accessor=accessor, message=message, record=record, details={"app": "training"})


def _user(accessor: Accessor) -> User:
    if accessor.user is None:
        raise PermissionDenied(_("Sign in first."))
    return accessor.user


def _require_trainer(accessor: Accessor, programme: Programme) -> User:
    if not is_trainer_of(accessor.user, programme):
        _refuse(accessor, programme, _("Only the trainers of this programme may do this."))
    assert accessor.user is not None
    return accessor.user


def _clean_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValidationError({"language": _("Choose Russian, Korean or English.")})
    return language


# --- programmes --------------------------------------------------------------------------------


def programme_create(
    *,
    accessor: Accessor,
    title: str,
    summary: str = "",
    language: str = "ru",
    audience: str = "",
    specialty: Specialty | None = None,
) -> Programme:
    if not may_create_programmes(accessor.user):
        _refuse(accessor, None, _("Only trainers may create programmes."))
    title = title.strip()
    if not title:
        raise ValidationError({"title": _("A programme needs a title.")})
    with transaction.atomic():
        programme = Programme.objects.create(
            title=title,
            summary=summary.strip(),
            language=_clean_language(language),
            audience=audience.strip(),
            specialty=specialty,
            owner=_user(accessor),
        )
        _audit(accessor, programme, AuditAction.CREATE, title=title)
    return programme


def programme_update(
    *,
    accessor: Accessor,
    programme: Programme,
    title: str,
    summary: str,
    language: str,
    audience: str,
    specialty: Specialty | None,
) -> Programme:
    _require_trainer(accessor, programme)
    title = title.strip()
    if not title:
        raise ValidationError({"title": _("A programme needs a title.")})
    with transaction.atomic():
        programme.title = title
        programme.summary = summary.strip()
        programme.language = _clean_language(language)
        programme.audience = audience.strip()
        programme.specialty = specialty
        programme.save()
        _audit(accessor, programme, AuditAction.UPDATE, title=title)
    return programme


# draft → open → closed, and a closed programme may be opened again.
STATUS_MOVES: dict[str, set[str]] = {
    ProgrammeStatus.DRAFT: {ProgrammeStatus.OPEN},
    ProgrammeStatus.OPEN: {ProgrammeStatus.CLOSED},
    ProgrammeStatus.CLOSED: {ProgrammeStatus.OPEN},
}


def programme_set_status(*, accessor: Accessor, programme: Programme, status: str) -> Programme:
    _require_trainer(accessor, programme)
    with transaction.atomic():
        locked = Programme.objects.select_for_update().get(pk=programme.pk)
        if status not in STATUS_MOVES.get(locked.status, set()):
            raise ValidationError(_("This programme cannot be moved to that state now."))
        before = locked.status
        locked.status = status
        locked.save(update_fields=["status"])
        _audit(accessor, locked, AuditAction.UPDATE, status=[before, status])
    return locked


def trainer_add(*, accessor: Accessor, programme: Programme, trainer: User) -> None:
    _require_trainer(accessor, programme)
    if trainer.role not in TEACHER_ROLES or not trainer.is_active:
        raise ValidationError(_("Only trainers and consultants may teach a programme."))
    with transaction.atomic():
        programme.trainers.add(trainer)
        _audit(accessor, programme, AuditAction.UPDATE, trainer_added=str(trainer.uuid))


def trainer_remove(*, accessor: Accessor, programme: Programme, trainer: User) -> None:
    _require_trainer(accessor, programme)
    with transaction.atomic():
        programme.trainers.remove(trainer)
        _audit(accessor, programme, AuditAction.UPDATE, trainer_removed=str(trainer.uuid))


# --- sessions ----------------------------------------------------------------------------------


def _check_session(*, duration_minutes: int, lecture_minutes: int, mode: str, room: str) -> None:
    errors: dict[str, str] = {}
    if not 15 <= duration_minutes <= 480:
        errors["duration_minutes"] = _("A session lasts from 15 minutes to 8 hours.")
    elif not 0 <= lecture_minutes <= duration_minutes:
        errors["lecture_minutes"] = _("The lecture cannot be longer than the session.")
    if mode not in SessionMode.values:
        errors["mode"] = _("Choose online, in a room, or both.")
    elif mode != SessionMode.ONLINE and not room.strip():
        errors["room"] = _("Say in which room the session is held.")
    if errors:
        raise ValidationError(errors)


def session_series_create(
    *,
    accessor: Accessor,
    programme: Programme,
    title: str,
    first_starts_at: datetime,
    count: int = 1,
    every_days: int = 7,
    duration_minutes: int = 90,
    lecture_minutes: int = 30,
    mode: str = SessionMode.ONLINE,
    room: str = "",
) -> list[Session]:
    """`count` sessions, `every_days` apart, from `first_starts_at` (aware). Numbered after the
    programme's last session; titled "<title> (n)" when there are several."""
    _require_trainer(accessor, programme)
    if timezone.is_naive(first_starts_at):
        raise ValidationError({"starts_at": _("Give the time with its zone.")})
    if not 1 <= count <= MAX_IN_SERIES:
        raise ValidationError(
            {"count": _("A series has from 1 to %(max)s sessions.") % {"max": MAX_IN_SERIES}}
        )
    if not 1 <= every_days <= 60:
        raise ValidationError({"every_days": _("Sessions are from 1 to 60 days apart.")})
    try:  # near year 1 or 9999 the series runs off the calendar
        first_starts_at.astimezone(UTC)
        (first_starts_at + timedelta(days=every_days * (count - 1))).astimezone(UTC)
    except OverflowError as error:
        raise ValidationError({"day": _("Choose a date within two years of today.")}) from error
    title = title.strip()
    if not title:
        raise ValidationError({"title": _("A session needs a title.")})
    _check_session(
        duration_minutes=duration_minutes, lecture_minutes=lecture_minutes, mode=mode, room=room
    )
    with transaction.atomic():
        Programme.objects.select_for_update().get(pk=programme.pk)
        last = Session.objects.filter(programme=programme).order_by("-number").first()
        number = last.number if last else 0
        created: list[Session] = []
        for index in range(count):
            number += 1
            created.append(
                Session.objects.create(
                    programme=programme,
                    number=number,
                    title=f"{title} ({index + 1})" if count > 1 else title,
                    starts_at=first_starts_at + timedelta(days=every_days * index),
                    duration_minutes=duration_minutes,
                    lecture_minutes=lecture_minutes,
                    mode=mode,
                    room=room.strip(),
                )
            )
        _audit(
            accessor,
            programme,
            AuditAction.CREATE,
            sessions=[str(session.uuid) for session in created],
        )
    return created


def session_reschedule(
    *,
    accessor: Accessor,
    session: Session,
    starts_at: datetime,
    duration_minutes: int | None = None,
    mode: str | None = None,
    room: str | None = None,
) -> Session:
    _require_trainer(accessor, session.programme)
    if timezone.is_naive(starts_at):
        raise ValidationError({"starts_at": _("Give the time with its zone.")})
    with transaction.atomic():
        locked = Session.objects.select_for_update().get(pk=session.pk)
        if locked.status != SessionStatus.SCHEDULED:
            raise ValidationError(_("Only a scheduled session can be moved."))
        before = locked.starts_at
        locked.starts_at = starts_at
        if duration_minutes is not None:
            locked.duration_minutes = duration_minutes
        if mode is not None:
            locked.mode = mode
        if room is not None:
            locked.room = room.strip()
        _check_session(
            duration_minutes=locked.duration_minutes,
            lecture_minutes=locked.lecture_minutes,
            mode=locked.mode,
            room=locked.room,
        )
        locked.save()
        _audit(
            accessor,
            locked,
            AuditAction.UPDATE,
            starts_at=[before.isoformat(), starts_at.isoformat()],
        )
    return locked


def session_cancel(*, accessor: Accessor, session: Session, reason: str = "") -> Session:
    _require_trainer(accessor, session.programme)
    with transaction.atomic():
        locked = Session.objects.select_for_update().get(pk=session.pk)
        if locked.status not in (SessionStatus.SCHEDULED, SessionStatus.LIVE):
            raise ValidationError(_("This session is over and cannot be cancelled."))
        locked.status = SessionStatus.CANCELLED
        locked.save(update_fields=["status"])
        _audit(accessor, locked, AuditAction.UPDATE, status="cancelled", reason=reason.strip())
    return locked


def session_set_status(*, accessor: Accessor, session: Session, status: str) -> Session:
    """The trainer opens the session (live) and marks it held."""
    _require_trainer(accessor, session.programme)
    allowed: dict[str, set[str]] = {
        SessionStatus.SCHEDULED: {SessionStatus.LIVE, SessionStatus.HELD},
        SessionStatus.LIVE: {SessionStatus.HELD},
    }
    with transaction.atomic():
        locked = Session.objects.select_for_update().get(pk=session.pk)
        if status not in allowed.get(locked.status, set()):
            raise ValidationError(_("This session cannot be moved to that state now."))
        locked.status = status
        locked.save(update_fields=["status"])
        _audit(accessor, locked, AuditAction.UPDATE, status=status)
    return locked


# --- enrolment ---------------------------------------------------------------------------------


def _enrol(accessor: Accessor, programme: Programme, learner: User) -> Enrolment:
    with transaction.atomic():
        enrolment = (
            Enrolment.objects.select_for_update()
            .filter(programme=programme, learner=learner)
            .first()
        )
        if enrolment is None:
            try:
                with transaction.atomic():
                    enrolment = Enrolment.objects.create(
                        programme=programme, learner=learner, enrolled_at=timezone.now()
                    )
            except IntegrityError:
                enrolment = Enrolment.objects.get(programme=programme, learner=learner)
        elif enrolment.withdrawn_at is not None:
            enrolment.withdrawn_at = None
            enrolment.enrolled_at = timezone.now()
            enrolment.save(update_fields=["withdrawn_at", "enrolled_at"])
        else:
            return enrolment
        _audit(accessor, enrolment, AuditAction.CREATE, learner=str(learner.uuid))
    return enrolment


def enrol_self(*, accessor: Accessor, programme: Programme) -> Enrolment:
    """A learner enrols in an open programme."""
    user = accessor.user
    if not may_learn(user):
        _refuse(accessor, programme, _("Only clinicians and consultants may enrol."))
    if programme.status != ProgrammeStatus.OPEN:
        raise ValidationError(_("This programme is not open for enrolment."))
    assert user is not None
    return _enrol(accessor, programme, user)


def enrol_learner(*, accessor: Accessor, programme: Programme, learner: User) -> Enrolment:
    """A trainer enrols a named person of the network (in a draft programme too)."""
    _require_trainer(accessor, programme)
    if not may_learn(learner):
        raise ValidationError(_("%(name)s cannot be enrolled in training.") % {"name": learner})
    return _enrol(accessor, programme, learner)


def withdraw(*, accessor: Accessor, enrolment: Enrolment) -> Enrolment:
    user = accessor.user
    if user is None or (
        enrolment.learner_id != user.pk and not is_trainer_of(user, enrolment.programme)
    ):
        _refuse(accessor, enrolment, _("You may not withdraw this enrolment."))
    with transaction.atomic():
        enrolment.withdrawn_at = timezone.now()
        enrolment.save(update_fields=["withdrawn_at"])
        _audit(accessor, enrolment, AuditAction.UPDATE, withdrawn=True)
    return enrolment


# --- attendance --------------------------------------------------------------------------------


def _minutes(joined_at: datetime, left_at: datetime | None, session: Session) -> int:
    """Minutes present within the session's time (early arrival and lingering do not count)."""
    if left_at is None:
        return 0
    start = max(joined_at, session.starts_at)
    end = min(left_at, session.starts_at + timedelta(minutes=session.duration_minutes))
    return max(0, int((end - start).total_seconds() // 60))


def attendance_record(
    *,
    accessor: Accessor,
    session: Session,
    learner: User,
    how: str,
    joined_at: datetime,
    left_at: datetime | None,
) -> Attendance:
    """Record (or widen) a learner's presence at a session. Online: the live room's join and
    leave, recorded by the learner's own connection; in the room: a trainer's tick. A second
    visit to the live room widens the span: joined is the earliest, left the latest."""
    user = accessor.user
    trainer = is_trainer_of(user, session.programme)
    if user is None or (learner.pk != user.pk and not trainer):
        _refuse(accessor, session, _("You may not record attendance at this session."))
    if how not in AttendanceHow.values:
        raise ValidationError({"how": _("Online or in the room.")})
    if how == AttendanceHow.IN_PERSON and not trainer:
        _refuse(accessor, session, _("Only a trainer marks attendance in the room."))
    if left_at is not None and left_at < joined_at:
        raise ValidationError(_("A learner cannot leave before joining."))
    with transaction.atomic():
        rows = Attendance.objects.select_for_update()
        row = rows.filter(session=session, learner=learner).first()
        if row is None:
            try:
                with transaction.atomic():
                    row = Attendance.objects.create(
                        session=session,
                        learner=learner,
                        how=how,
                        joined_at=joined_at,
                        left_at=left_at,
                        recorded_by=user if trainer and learner.pk != user.pk else None,
                    )
            except IntegrityError:
                row = Attendance.objects.select_for_update().get(session=session, learner=learner)
        else:
            row.joined_at = min(row.joined_at, joined_at)
            if left_at is not None:
                row.left_at = max(row.left_at, left_at) if row.left_at else left_at
            if how == AttendanceHow.IN_PERSON:
                row.how = how
                row.recorded_by = user
        row.minutes = _minutes(row.joined_at, row.left_at, session)
        row.save()
        _audit(accessor, row, AuditAction.UPDATE, learner=str(learner.uuid), minutes=row.minutes)
    return row


def attendance_tick(
    *, accessor: Accessor, session: Session, learner: User, present: bool
) -> Attendance | None:
    """A trainer marks a learner present in the room for the whole session, or not present."""
    _require_trainer(accessor, session.programme)
    if session.mode == SessionMode.ONLINE:
        raise ValidationError(_("This session is held online only."))
    if not present:
        with transaction.atomic():
            row = Attendance.objects.filter(
                session=session, learner=learner, how=AttendanceHow.IN_PERSON
            ).first()
            if row is not None:
                _audit(accessor, row, AuditAction.DELETE, learner=str(learner.uuid))
                row.delete()
        return None
    end = session.starts_at + timedelta(minutes=session.duration_minutes)
    return attendance_record(
        accessor=accessor,
        session=session,
        learner=learner,
        how=AttendanceHow.IN_PERSON,
        joined_at=session.starts_at,
        left_at=end,
    )
