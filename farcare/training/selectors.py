"""Reads of training: programmes, their sessions and materials, who is enrolled and who attended.
Other apps (casebook, learning) read training only through these."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from farcare.accounts.models import Role, User

from .models import (
    Attendance,
    Enrolment,
    Material,
    Programme,
    ProgrammeStatus,
    Session,
    SessionStatus,
)

# Roles that may learn: the clinicians of posts and hospitals, and consultants.
LEARNER_ROLES = frozenset({Role.CLINICIAN, Role.CONSULTANT, Role.COORDINATOR})
# Roles that may run a programme: trainers, and consultants as co-trainers.
TEACHER_ROLES = frozenset({Role.TRAINER, Role.CONSULTANT})


def _active(user: User | None) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def is_trainer_of(user: User | None, programme: Programme) -> bool:
    """The owner or a co-trainer of the programme."""
    if not _active(user):
        return False
    assert user is not None
    return programme.owner_id == user.pk or programme.trainers.filter(pk=user.pk).exists()


def may_create_programmes(user: User | None) -> bool:
    return _active(user) and user is not None and user.role == Role.TRAINER


def may_learn(user: User | None) -> bool:
    return _active(user) and user is not None and user.role in LEARNER_ROLES


def is_enrolled(user: User | None, programme: Programme) -> bool:
    if not _active(user):
        return False
    return Enrolment.objects.filter(
        programme=programme, learner=user, withdrawn_at__isnull=True
    ).exists()


def may_see_programme(user: User | None, programme: Programme) -> bool:
    """Trainers of it; learners enrolled in it, or any learner once it is open; never patients."""
    if not _active(user) or user is None or user.role == Role.PATIENT:
        return False
    if is_trainer_of(user, programme):
        return True
    if not may_learn(user):
        return False
    return programme.status != ProgrammeStatus.DRAFT or is_enrolled(user, programme)


def programmes_taught_by(user: User) -> QuerySet[Programme]:
    return (
        Programme.objects.filter(Q(owner=user) | Q(trainers=user))
        .distinct()
        .select_related("owner", "specialty")
    )


def open_programmes() -> QuerySet[Programme]:
    return Programme.objects.filter(status=ProgrammeStatus.OPEN).select_related("owner")


def programme_for_learner(user: User) -> QuerySet[Programme]:
    """The programmes the user is enrolled in (not withdrawn), newest first."""
    return Programme.objects.filter(
        enrolments__learner=user, enrolments__withdrawn_at__isnull=True
    ).select_related("owner", "specialty")


def programmes_for_learner(user: User) -> QuerySet[Programme]:
    return programme_for_learner(user)


def sessions_of(programme: Programme) -> QuerySet[Session]:
    """A programme's sessions in order of their start, cancelled ones included (pages mark them)."""
    return Session.objects.filter(programme=programme).order_by("starts_at", "number")


def materials_of(programme: Programme) -> QuerySet[Material]:
    return Material.objects.filter(programme=programme).select_related("session")


def enrolled_learners(programme: Programme) -> QuerySet[User]:
    return User.objects.filter(
        enrolments__programme=programme, enrolments__withdrawn_at__isnull=True
    ).order_by("last_name", "first_name", "username")


def attendance_of(session: Session) -> QuerySet[Attendance]:
    return Attendance.objects.filter(session=session).select_related("learner", "recorded_by")


def attended_minutes(session: Session, learner: User) -> int:
    """Minutes the learner was present at the session (0 when absent)."""
    row = Attendance.objects.filter(session=session, learner=learner).first()
    return row.minutes if row else 0


def upcoming_sessions_for_learner(user: User, now: datetime | None = None) -> QuerySet[Session]:
    """Sessions not yet over of the programmes the user is enrolled in."""
    now = now or timezone.now()
    return (
        Session.objects.filter(
            programme__enrolments__learner=user,
            programme__enrolments__withdrawn_at__isnull=True,
            status__in=[SessionStatus.SCHEDULED, SessionStatus.LIVE],
            starts_at__gte=now - _longest_session(),
        )
        .select_related("programme")
        .order_by("starts_at")
    )


def upcoming_sessions_for_trainer(user: User, now: datetime | None = None) -> QuerySet[Session]:
    now = now or timezone.now()
    return (
        Session.objects.filter(
            Q(programme__owner=user) | Q(programme__trainers=user),
            status__in=[SessionStatus.SCHEDULED, SessionStatus.LIVE],
            starts_at__gte=now - _longest_session(),
        )
        .distinct()
        .select_related("programme")
        .order_by("starts_at")
    )


def history_of(user: User) -> QuerySet[Attendance]:
    """Sessions the learner attended, newest first, with minutes."""
    return (
        Attendance.objects.filter(learner=user)
        .select_related("session", "session__programme")
        .order_by("-joined_at")
    )


def total_minutes(user: User) -> int:
    return int(Attendance.objects.filter(learner=user).aggregate(m=Sum("minutes"))["m"] or 0)


def _longest_session() -> timedelta:
    # A session still counts as upcoming while it may be under way.
    return timedelta(hours=6)
