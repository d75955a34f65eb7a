"""Who is told what about a call. Like every message about a consultation (consults.alerts) they
never name the patient nor say anything medical: only the specialty, the time in the
recipient's own zone and a link that opens after login."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from django.utils import formats
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from farcare.accounts.models import User
from farcare.core.timezones import zone_for_user, zone_label
from farcare.notifications.services import notify

from .models import Appointment


def participants(appointment: Appointment) -> list[User]:
    """The requesting clinician and the consultant of the call."""
    consultation = appointment.consultation
    people = [consultation.requester, appointment.consultant]
    return [person for person in people if person.is_active]


def moment_for(user: User, moment: datetime) -> Callable[[], str]:
    """The moment in `user`'s zone, written in whichever language is active when it is called
    (notify renders each language in turn)."""
    zone = zone_for_user(user)

    def text() -> str:
        local = moment.astimezone(zone)
        return f"{formats.date_format(local, 'SHORT_DATETIME_FORMAT')} ({zone_label(local, zone)})"

    return text


def case_link(appointment: Appointment) -> str:
    return f"/consultations/{appointment.consultation.uuid}/"


def _tell(
    recipients: Iterable[User], appointment: Appointment, event: str, subject: object, body: object
) -> None:
    specialty = appointment.consultation.specialty
    for user in recipients:
        notify(
            recipient=user,
            event=event,
            subject=subject,  # type: ignore[arg-type]
            body=body,  # type: ignore[arg-type]
            params={
                "specialty": lazy(lambda: specialty.name, str)(),
                "when": lazy(moment_for(user, appointment.starts_at), str)(),
            },
            link=case_link(appointment),
        )


def _others(appointment: Appointment, actor: User | None) -> list[User]:
    return [p for p in participants(appointment) if actor is None or p.pk != actor.pk]


def booked(appointment: Appointment, *, actor: User | None) -> None:
    _tell(
        _others(appointment, actor),
        appointment,
        "appointment.booked",
        _("Call booked: %(specialty)s, %(when)s"),
        _(
            "A video consultation (%(specialty)s) is booked for %(when)s. The details are in "
            "FarCare."
        ),
    )


def cancelled(appointment: Appointment, *, actor: User | None) -> None:
    _tell(
        _others(appointment, actor),
        appointment,
        "appointment.cancelled",
        _("Call cancelled: %(specialty)s, %(when)s"),
        _(
            "The video consultation (%(specialty)s) at %(when)s is cancelled. The reason is in "
            "FarCare."
        ),
    )


def rescheduled(old: Appointment, new: Appointment, *, actor: User | None) -> None:
    _tell(
        _others(new, actor),
        new,
        "appointment.rescheduled",
        _("Call moved: %(specialty)s, now %(when)s"),
        _("The video consultation (%(specialty)s) is moved to %(when)s."),
    )


def remind(appointment: Appointment, recipient: User) -> None:
    _tell(
        [recipient],
        appointment,
        "appointment.reminder",
        _("Reminder: call at %(when)s"),
        _(
            "Reminder: the video consultation (%(specialty)s) starts at %(when)s. Open FarCare "
            "a few minutes before."
        ),
    )
