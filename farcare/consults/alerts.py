"""Who is told what about a consultation. Messages never name the patient: an e-mail or an SMS
is not a safe place for a medical secret (323-FZ art. 13), so they carry the form, the specialty,
the facility and a link that opens only after login."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

from django.db import transaction
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from farcare.accounts.models import Role, User
from farcare.notifications.services import notify

from .models import Assignment, Conclusion, Consultation, ConsultForm, Message, Status


def case_link(consultation: Consultation) -> str:
    return f"/consultations/{consultation.uuid}/"


CASE_LINK = re.compile(r"/consultations/([0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})/")


def linked_case(link: str) -> uuid.UUID | None:
    """The case a notification's link opens (the inverse of `case_link`), or None."""
    found = CASE_LINK.fullmatch(link)
    return uuid.UUID(found.group(1)) if found else None


def coordinators(consultation: Consultation) -> list[User]:
    return list(
        User.objects.filter(
            role=Role.COORDINATOR,
            is_active=True,
            facility__region=consultation.requesting_facility.region,
        )
    )


def _params(consultation: Consultation) -> dict[str, object]:
    # Lazy, so that each recipient reads the names in their own language.
    specialty, facility = consultation.specialty, consultation.requesting_facility
    return {
        "form": ConsultForm(consultation.form).label,
        "status": Status(consultation.status).label,
        "specialty": lazy(lambda: specialty.name, str)(),
        "facility": lazy(lambda: facility.name, str)(),
    }


def _send(
    recipients: Iterable[User | None],
    consultation: Consultation,
    event: str,
    subject: object,
    body: object,
    *,
    skip: User | None = None,
    urgent: bool | None = None,
) -> None:
    seen: set[int] = set()
    for user in recipients:
        if user is None or user.pk in seen or (skip is not None and user.pk == skip.pk):
            continue
        seen.add(user.pk)
        notify(
            recipient=user,
            event=event,
            subject=subject,  # type: ignore[arg-type]
            body=body,  # type: ignore[arg-type]
            params=_params(consultation),
            link=case_link(consultation),
            urgent=consultation.form == ConsultForm.EMERGENCY if urgent is None else urgent,
        )
    transaction.on_commit(lambda: _publish(consultation.pk), robust=True)


def _publish(consultation_pk: int) -> None:
    from .live import publish_change

    publish_change(consultation_pk)


def _team(consultation: Consultation) -> list[User]:
    return [
        assignment.consultant
        for assignment in consultation.assignments.filter(ended_at__isnull=True).select_related(
            "consultant"
        )
    ]


def assigned(consultation: Consultation, consultant: User) -> None:
    recipients: list[User | None] = [consultant]
    if consultation.form == ConsultForm.EMERGENCY:
        recipients += coordinators(consultation)
    _send(
        recipients,
        consultation,
        "consult.assigned",
        _("New %(form)s request: %(specialty)s"),
        _("%(facility)s asks for a %(form)s consultation in %(specialty)s."),
    )


def nobody_available(consultation: Consultation) -> None:
    _send(
        coordinators(consultation),
        consultation,
        "consult.unassigned",
        _("No consultant found: %(specialty)s"),
        _("A %(form)s request from %(facility)s has no consultant. Assign one."),
    )


def status_changed(consultation: Consultation, *, actor: User | None) -> None:
    asking = consultation.status == Status.ON_HOLD
    if asking:
        # Put on hold by a move rather than a message: still a question for the requester.
        answer_needed(consultation, skip=actor)
    _send(
        [*([] if asking else [consultation.requester]), *_team(consultation)],
        consultation,
        "consult.status",
        _("Request %(status)s: %(specialty)s"),
        _("The %(form)s request from %(facility)s is now %(status)s."),
        skip=actor,
    )


def new_message(consultation: Consultation, message: Message) -> None:
    asking = message.asks_requester
    if asking:
        answer_needed(consultation, skip=message.author)
    _send(
        [*([] if asking else [consultation.requester]), *_team(consultation)],
        consultation,
        "consult.message",
        _("New message: %(specialty)s"),
        _("There is a new message in the %(form)s request from %(facility)s."),
        skip=message.author,
    )


def answer_needed(consultation: Consultation, *, skip: User | None = None) -> None:
    """A consultant asked the requester a question: the request waits for the answer, and the
    text says so plainly (not "a new message"). The question itself stays behind the login."""
    _send(
        [consultation.requester],
        consultation,
        "consult.question",
        _("Answer needed: %(specialty)s"),
        _(
            "The consultant has asked you a question about your %(form)s request in "
            "%(specialty)s. Your answer is needed: open the request and reply."
        ),
        skip=skip,
    )


def concluded(consultation: Consultation, conclusion: Conclusion) -> None:
    _send(
        [consultation.requester],
        consultation,
        "consult.conclusion",
        _("Conclusion ready: %(specialty)s"),
        _("The consultant has signed a conclusion on your %(form)s request."),
    )


def half_deadline(consultation: Consultation, backup: User | None) -> None:
    _send(
        [*coordinators(consultation), backup],
        consultation,
        "consult.half_deadline",
        _("Half the deadline passed: %(specialty)s"),
        _("Nobody has accepted the %(form)s request from %(facility)s yet."),
        urgent=True,
    )


def deadline_breached(consultation: Consultation) -> None:
    _send(
        [*coordinators(consultation), *_team(consultation)],
        consultation,
        "consult.breached",
        _("Deadline passed: %(specialty)s"),
        _("The %(form)s request from %(facility)s has passed its deadline."),
        urgent=True,
    )


def rerouted(consultation: Consultation, assignments: list[Assignment]) -> None:
    _send(
        [*coordinators(consultation), consultation.requester],
        consultation,
        "consult.rerouted",
        _("Request re-routed: %(specialty)s"),
        _("Nobody accepted the %(form)s request from %(facility)s in time; it went up the chain."),
        urgent=True,
    )


def failed(consultation: Consultation) -> None:
    _send(
        [*coordinators(consultation), consultation.requester],
        consultation,
        "consult.failed",
        _("Request failed: %(specialty)s"),
        _("Nobody could take the %(form)s request from %(facility)s. Arrange care directly."),
        urgent=True,
    )
