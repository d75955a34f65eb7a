"""The hub's side of training at a station (issue 15): the programmes the station's staff are
enrolled in, their sessions, their materials (records; the light files cross afterwards, see
`training_mirror`), the staff's enrolments and attendance. Not patient data, and small: a pull
carries all of it each time, so a change or a withdrawal at the hub always reaches the post."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from farcare.accounts.models import Role, User
from farcare.training.models import Attendance, Enrolment, Material, Programme, Session

from .models import Station


def _staff(station: Station) -> QuerySet[User]:
    return User.objects.filter(facility=station.facility, role=Role.CLINICIAN)


def station_programmes(station: Station) -> QuerySet[Programme]:
    """Programmes any of the station's staff is enrolled in (and has not left)."""
    return Programme.objects.filter(
        enrolments__learner__in=_staff(station), enrolments__withdrawn_at__isnull=True
    ).distinct()


def _person(user: User) -> dict[str, Any]:
    # Enough to name a trainer on the post's pages; never a password, never a login. The pk:
    # a station keeps the hub's users under the hub's keys (as the staff it mirrors).
    return {
        "pk": user.pk,
        "uuid": str(user.uuid),
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": user.role,
    }


def _time(value: Any) -> str | None:
    return value.isoformat() if value else None


def changes(station: Station) -> dict[str, list[dict[str, Any]]]:
    programmes = list(
        station_programmes(station).select_related("owner").prefetch_related("trainers")
    )
    sessions = Session.objects.filter(programme__in=programmes).select_related("programme")
    materials = Material.objects.filter(programme__in=programmes).select_related(
        "programme", "session", "added_by"
    )
    staff = _staff(station)
    enrolments = Enrolment.objects.filter(
        programme__in=programmes, learner__in=staff
    ).select_related("programme", "learner")
    attendance = Attendance.objects.filter(
        session__programme__in=programmes, learner__in=staff
    ).select_related("session", "learner")
    return {
        "programmes": [
            {
                "uuid": str(p.uuid),
                "title": p.title,
                "summary": p.summary,
                "language": p.language,
                "audience": p.audience,
                "status": p.status,
                "owner": _person(p.owner),
                "trainers": [_person(t) for t in p.trainers.all()],
                "created_at": p.created_at.isoformat(),
            }
            for p in programmes
        ],
        "sessions": [
            {
                "uuid": str(s.uuid),
                "programme": str(s.programme.uuid),
                "number": s.number,
                "title": s.title,
                "starts_at": s.starts_at.isoformat(),
                "duration_minutes": s.duration_minutes,
                "lecture_minutes": s.lecture_minutes,
                "mode": s.mode,
                "room": s.room,
                "credit_hours": str(s.credit_hours),
                "status": s.status,
            }
            for s in sessions
        ],
        "materials": [
            {
                "uuid": str(m.uuid),
                "programme": str(m.programme.uuid),
                "session": str(m.session.uuid) if m.session else None,
                "title": m.title,
                "kind": m.kind,
                "content_type": m.content_type,
                "size": m.size,
                "sha256": m.sha256,
                "light_content_type": m.light_content_type if m.light_file else "",
                "light_size": m.light_size if m.light_file else None,
                "light_sha256": m.light_sha256 if m.light_file else "",
                "added_by": _person(m.added_by),
                "added_at": m.added_at.isoformat(),
            }
            for m in materials
        ],
        "enrolments": [
            {
                "uuid": str(e.uuid),
                "programme": str(e.programme.uuid),
                "learner": str(e.learner.uuid),
                "enrolled_at": e.enrolled_at.isoformat(),
                "withdrawn_at": _time(e.withdrawn_at),
            }
            for e in enrolments
        ],
        "attendance": [
            {
                "uuid": str(a.uuid),
                "session": str(a.session.uuid),
                "learner": str(a.learner.uuid),
                "how": a.how,
                "joined_at": a.joined_at.isoformat(),
                "left_at": _time(a.left_at),
                "minutes": a.minutes,
            }
            for a in attendance
        ],
    }


def light_file_for(station: Station, material_uuid: Any) -> Material | None:
    """A material's light version, if one of the station's programmes holds it."""
    return (
        Material.objects.filter(programme__in=station_programmes(station), uuid=material_uuid)
        .exclude(light_file="")
        .first()
    )
