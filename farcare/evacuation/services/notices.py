"""Who is told what about a transfer. Like every message (consults.alerts) they never name the
patient nor say anything medical: the facilities and a link that opens after login."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from farcare.access.policy import Action, decide
from farcare.accounts.models import Role, User
from farcare.network.staff import coordinators_of
from farcare.notifications.services import notify

from ..models import Transfer


def transfer_link(transfer: Transfer) -> str:
    return f"/transfers/{transfer.uuid}/"


def receivers_of(transfer: Transfer) -> list[User]:
    if transfer.destination_id is None:
        return []
    return list(
        User.objects.filter(
            role=Role.CLINICIAN, is_active=True, facility_id=transfer.destination_id
        ).order_by("pk")
    )


def _params(transfer: Transfer) -> dict[str, object]:
    # Lazy: notify renders each language in turn, and a facility's name is per language.
    origin, destination = transfer.origin, transfer.destination
    return {
        "origin": lazy(lambda: origin.name, str)(),
        "destination": lazy(lambda: destination.name if destination else "—", str)(),
    }


def _tell(
    recipients: Iterable[User],
    transfer: Transfer,
    event: str,
    subject: object,
    body: object,
    urgent: bool = False,
) -> None:
    params = _params(transfer)
    link = transfer_link(transfer)
    people = list(recipients)

    def send() -> None:
        for user in people:
            notify(
                recipient=user,
                event=event,
                subject=subject,  # type: ignore[arg-type]
                body=body,  # type: ignore[arg-type]
                params=params,
                link=link,
                urgent=urgent,
            )

    # After commit: a rolled-back move tells nobody anything.
    transaction.on_commit(send)


def requested(transfer: Transfer) -> None:
    _tell(
        coordinators_of(transfer.origin.region) + receivers_of(transfer),
        transfer,
        "evacuation.requested",
        _("Transfer requested from %(origin)s"),
        _("A transfer from %(origin)s to %(destination)s was requested. Open it in FarCare."),
        urgent=True,
    )


def offered(transfer: Transfer) -> None:
    """A destination chosen by dispatch: its clinicians are asked for a bed."""
    _tell(
        receivers_of(transfer),
        transfer,
        "evacuation.requested",
        _("Transfer requested from %(origin)s"),
        _("A transfer from %(origin)s to %(destination)s was requested. Open it in FarCare."),
        urgent=True,
    )


def stalled(transfer: Transfer, regions: Iterable[str]) -> None:
    # Only those who can open the link: a coordinator of the destination's region reaches the
    # patient only where the policy lets them.
    people = [
        user for user in coordinators_of(*regions) if decide(user, Action.VIEW, transfer.patient)
    ]
    _tell(
        people,
        transfer,
        "evacuation.stalled",
        _("Transfer from %(origin)s has not moved"),
        _(
            "The transfer from %(origin)s to %(destination)s has had no progress for longer "
            "than its stage allows. Open it in FarCare."
        ),
        urgent=True,
    )


def declined(transfer: Transfer, facility: object) -> None:
    _tell(
        coordinators_of(transfer.origin.region),
        transfer,
        "evacuation.declined",
        _("Bed declined for the transfer from %(origin)s"),
        _(
            "The receiving hospital declined the transfer from %(origin)s. Choose another "
            "destination in FarCare."
        ),
        urgent=True,
    )


def changed(transfer: Transfer, event: str) -> None:
    """A hold, a cancellation or a death: the other side and dispatch should know at once."""
    _tell(
        coordinators_of(transfer.origin.region) + receivers_of(transfer),
        transfer,
        f"evacuation.{event}",
        _("Transfer from %(origin)s changed"),
        _("The transfer from %(origin)s to %(destination)s changed. Open it in FarCare."),
    )
