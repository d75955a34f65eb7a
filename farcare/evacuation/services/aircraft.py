"""A coordinator changes an aircraft's availability on the dispatch board (maintenance, grounded
by weather, available again). "On a mission" is set by assigning it to a transfer only."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record

from ..access import may_dispatch_in
from ..models import AIRCRAFT_COMMITTED, Aircraft, AircraftStatus, Transfer
from ..workflow import StaleVersion
from ._common import refuse_at_station

SETTABLE = (AircraftStatus.AVAILABLE, AircraftStatus.MAINTENANCE, AircraftStatus.GROUNDED)


def aircraft_set_status(
    *,
    accessor: Accessor,
    aircraft: Aircraft,
    status: str,
    note: str = "",
    expected_version: int | None = None,
) -> Aircraft:
    refuse_at_station()
    if not may_dispatch_in(accessor.user, aircraft.base.region):
        audit_record(
            accessor=accessor,
            action=AuditAction.DENIED,
            record=aircraft,
            outcome="denied",
            details={"app": "evacuation", "event": "aircraft_status"},
        )
        raise PermissionDenied(_("Only a coordinator of the base's region changes its aircraft."))
    if status not in SETTABLE:
        raise ValidationError(
            {"status": _("Choose available, maintenance or grounded; a mission is assigned.")}
        )
    note = (note or "").strip()
    if len(note) > 200:
        raise ValidationError({"note": _("At most %(limit)s characters.") % {"limit": 200}})
    with transaction.atomic():
        locked = Aircraft.objects.select_for_update().get(pk=aircraft.pk)
        if expected_version is not None and expected_version != locked.version:
            raise StaleVersion(
                _(
                    "Someone changed this aircraft while you were looking at it. "
                    "Reload and try again."
                ),
                code="stale",
            )
        busy = Transfer.objects.filter(aircraft=locked, status__in=AIRCRAFT_COMMITTED).exists()
        if busy:
            raise ValidationError(
                _("This aircraft carries a transfer: release it from the transfer first."),
                code="busy",
            )
        before = locked.status
        locked.status = status
        locked.status_note = note
        locked.version += 1
        locked.save(update_fields=["status", "status_note", "version", "updated_at"])
        audit_record(
            accessor=accessor,
            action=AuditAction.UPDATE,
            record=locked,
            details={"app": "evacuation", "from": before, "to": status},
        )
    return locked
