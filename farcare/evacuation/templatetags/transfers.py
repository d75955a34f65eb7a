"""The patient's page shows the transfer's state (issue 16: visible at the post): the open one,
or the last one for a week after it ended, so the post sees that the patient was handed over.
The page has already authorised and audited the read of the patient; the transfer shows only to
those who stand on one of its sides (access.visible_transfers)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import template
from django.db.models import Q
from django.utils import timezone

from ..access import may_open_transfer, visible_transfers
from ..services import at_station

register = template.Library()

RECENT = timedelta(days=7)


@register.inclusion_tag("evacuation/_patient_transfer.html", takes_context=True)
def patient_transfer(context: dict[str, Any], patient: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    transfer = (
        visible_transfers(user)
        .filter(patient_id=patient.pk)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=timezone.now() - RECENT))
        .select_related("origin", "destination")
        .order_by("-decided_at", "-pk")
        .first()
    )
    # At a station the transfer is the hub's copy: it is opened and moved at the hub.
    read_only = at_station()
    may_open = (
        not read_only
        and (transfer is None or transfer.is_final)
        and may_open_transfer(user, patient)
    )
    return {"t": transfer, "patient": patient, "may_open": may_open, "read_only": read_only}
