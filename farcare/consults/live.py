"""Live worklists: a change of a consultation is published to the channel groups of the people
who watch it, and their open pages refresh the affected list (Channels)."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync

logger = logging.getLogger(__name__)


def publish_change(consultation_pk: int) -> None:
    try:
        from channels.layers import get_channel_layer
    except ImportError:  # pragma: no cover - channels is a dependency
        return
    layer = get_channel_layer()
    if layer is None:
        return
    from .models import Consultation

    consultation = (
        Consultation.objects.select_related("requesting_facility")
        .filter(pk=consultation_pk)
        .first()
    )
    if consultation is None:
        return
    groups = {
        f"region.{_slug(consultation.requesting_facility.region)}",
        f"facility.{consultation.requesting_facility.uuid.hex}",
        *(
            f"user.{consultant_uuid.hex}"
            for consultant_uuid in consultation.assignments.filter(
                ended_at__isnull=True
            ).values_list("consultant__uuid", flat=True)
        ),
    }
    if consultation.routed_facility_id:
        groups.add(f"facility.{consultation.routed_facility.uuid.hex}")  # type: ignore[union-attr]
    message = {"type": "worklist.changed", "consultation": str(consultation.uuid)}
    try:
        for group in groups:
            async_to_sync(layer.group_send)(group, message)
    except Exception:  # a live refresh is a convenience; the change itself is saved
        logger.warning("could not publish a worklist change", exc_info=True)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower())
