"""A specimen's way to the laboratory: collected (when, by whom), shipped (in a batch, by a
transport), received, or rejected with a reason that goes back to the orderer, who is told at
once; a rejected specimen is replaced by a new one to collect (a new label)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor
from farcare.core.ports import replication

from .. import alerts
from ..models import DiagnosticOrder, RejectionReason, Specimen, SpecimenStatus
from ..workflow import Side, apply_specimen
from ._common import audit, require_side

BATCH_MAX_CHARS = 40
TRANSPORT_MAX_CHARS = 80
NOTE_MAX_CHARS = 200


def _lock(specimen: Specimen) -> Specimen:
    return (
        Specimen.objects.select_for_update(of=("self",))
        .select_related("order__patient", "order__orderer", "order__ordering_facility")
        .get(pk=specimen.pk)
    )


def _order(specimen: Specimen) -> DiagnosticOrder:
    return DiagnosticOrder.objects.select_related(
        "patient", "ordering_facility", "performer", "orderer"
    ).get(pk=specimen.order_id)


def _audit(accessor: Accessor, specimen: Specimen, event: str, **details: object) -> None:
    audit(
        accessor,
        specimen,
        specimen.order.patient.uuid,
        AuditAction.UPDATE,
        {"event": event, "label": specimen.label, **details},
    )


def specimen_collect(
    *,
    accessor: Accessor,
    specimen: Specimen,
    collected_at: datetime | None = None,
    version: int | None = None,
) -> Specimen:
    side = require_side(accessor, _order(specimen), {Side.ORDERER, Side.LABORATORY})
    now = timezone.now()
    if collected_at is not None and collected_at > now:
        raise ValidationError({"collected_at": _("The collection time cannot be in the future.")})
    with transaction.atomic():
        specimen = _lock(specimen)
        specimen.collected_at = collected_at or now
        specimen.collected_by = accessor.user
        apply_specimen(
            specimen,
            SpecimenStatus.COLLECTED,
            side=side,
            expected_version=version,
            fields=("collected_at", "collected_by"),
        )
        _audit(accessor, specimen, "collect", at=specimen.collected_at.isoformat())
        replication().specimen_changed(specimen=specimen, actor=accessor.user, event="collect")
    return specimen


def specimen_ship(
    *, accessor: Accessor, specimens: Sequence[Specimen], batch: str, transport: str
) -> list[Specimen]:
    """Ship collected specimens together: one batch (the box), one transport (the flight, the
    snowmobile, the ambulance)."""
    if not specimens:
        raise ValidationError(_("Choose the specimens to ship."))
    batch, transport = batch.strip(), transport.strip()
    errors = {}
    if not batch or len(batch) > BATCH_MAX_CHARS:
        errors["batch"] = _("Give the batch a name or number (at most 40 characters).")
    if not transport or len(transport) > TRANSPORT_MAX_CHARS:
        errors["transport"] = _("Say how the batch travels (at most 80 characters).")
    if errors:
        raise ValidationError(errors)
    for specimen in specimens:
        require_side(accessor, _order(specimen), {Side.ORDERER})
    now = timezone.now()
    shipped: list[Specimen] = []
    with transaction.atomic():
        for original in specimens:
            specimen = _lock(original)
            specimen.batch, specimen.transport, specimen.shipped_at = batch, transport, now
            apply_specimen(
                specimen,
                SpecimenStatus.SHIPPED,
                side=Side.ORDERER,
                fields=("batch", "transport", "shipped_at"),
            )
            _audit(accessor, specimen, "ship", batch=batch, transport=transport)
            replication().specimen_changed(specimen=specimen, actor=accessor.user, event="ship")
            shipped.append(specimen)
    return shipped


def specimen_receive(
    *, accessor: Accessor, specimen: Specimen, version: int | None = None
) -> Specimen:
    require_side(accessor, _order(specimen), {Side.LABORATORY})
    with transaction.atomic():
        specimen = _lock(specimen)
        specimen.received_at = timezone.now()
        specimen.received_by = accessor.user
        apply_specimen(
            specimen,
            SpecimenStatus.RECEIVED,
            side=Side.LABORATORY,
            expected_version=version,
            fields=("received_at", "received_by"),
        )
        _audit(accessor, specimen, "receive")
    return specimen


def specimen_reject(
    *,
    accessor: Accessor,
    specimen: Specimen,
    reason: str,
    note: str = "",
    version: int | None = None,
) -> Specimen:
    """Reject a specimen: the orderer is told why, and a new specimen waits to be collected."""
    require_side(accessor, _order(specimen), {Side.LABORATORY})
    if reason not in RejectionReason.values:
        raise ValidationError({"reason": _("Choose why the specimen is rejected.")})
    note = note.strip()
    if reason == RejectionReason.OTHER and not note:
        raise ValidationError({"note": _("Say why the specimen is rejected.")})
    if len(note) > NOTE_MAX_CHARS:
        raise ValidationError({"note": _("The note is too long (at most 200 characters).")})
    with transaction.atomic():
        specimen = _lock(specimen)
        specimen.rejected_at = timezone.now()
        specimen.rejection_reason = reason
        specimen.rejection_note = note
        apply_specimen(
            specimen,
            SpecimenStatus.REJECTED,
            side=Side.LABORATORY,
            expected_version=version,
            fields=("rejected_at", "rejection_reason", "rejection_note"),
        )
        # Locked: two tubes of one order rejected at once must not compute the same new label.
        order = DiagnosticOrder.objects.select_for_update(of=("self",)).get(pk=specimen.order_id)
        count = Specimen.objects.filter(order=order).count()
        replacement = Specimen.objects.create(
            order=order, kind=specimen.kind, label=f"{order.placer_number}-{count + 1}"
        )
        _audit(
            accessor, specimen, "reject", reason=reason, note=note, replacement=replacement.label
        )
        alerts.specimen_rejected(order, specimen)
    return specimen
