"""Ordering tests: the order (idempotent by the form's client token), its lines, the specimens
to collect with their labels, the performing laboratory or diagnostic centre chosen by the
network's routing, and the due time by priority. Cancelling an order."""

from __future__ import annotations

import uuid as uuid_lib
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.access.policy import Action, is_abroad
from farcare.access.services import require
from farcare.accounts.models import Role
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor
from farcare.consults.models import Consultation
from farcare.consults.numbering import next_number
from farcare.core.ports import replication
from farcare.network.models import Facility
from farcare.patients.models import Patient

from .. import catalogue, routing
from ..models import (
    Category,
    DiagnosticOrder,
    OrderedTest,
    OrderStatus,
    Priority,
    Specimen,
)
from ..workflow import Side, apply_order
from ._common import audit, lock_order, require_side

# The series of order numbers (HL7 placer order number): "DX-2026-000123", gapless, counted
# like conclusion numbers (consults.numbering) in its own series.
ORDER_SERIES = "DX"
REASON_MAX_CHARS = 2000
CANCEL_REASON_MAX_CHARS = 500

# Minutes from ordering to when the result is due, by priority (configurable): a stat test
# within the hour, as soon as possible within 4 hours, urgent within a day, routine within a
# week (specimens from a remote post may wait for transport).
DEFAULT_DUE_MINUTES = {
    Priority.STAT: 60,
    Priority.ASAP: 4 * 60,
    Priority.URGENT: 24 * 60,
    Priority.ROUTINE: 7 * 24 * 60,
}


def due_minutes(priority: str) -> int:
    configured = getattr(settings, "FARCARE_DIAGNOSTIC_DUE_MINUTES", None) or {}
    return int(configured.get(priority, DEFAULT_DUE_MINUTES[Priority(priority)]))


def _ordering_facility(accessor: Accessor, consultation: Consultation | None) -> Facility:
    """Where the order is placed from: the clinician's own facility; for a consultant ordering
    from a conclusion, the facility that asked (where the patient is)."""
    user = accessor.user
    if user is None or is_abroad(user):
        raise PermissionDenied(_("Only a clinician in the network may order tests."))
    if user.role == Role.CLINICIAN and user.facility is not None:
        return user.facility
    if (
        user.role == Role.CONSULTANT
        and consultation is not None
        # Assigned now, not merely able to claim the consultation.
        and consultation.assignments.filter(consultant=user, ended_at__isnull=True).exists()
    ):
        return consultation.requesting_facility
    raise PermissionDenied(_("Only a clinician in the network may order tests."))


def _check_performer(performer: Facility, ordering: Facility, category: str, modality: str) -> None:
    """A performer the caller chose (FHIR, a station) must be one the routing offers for the
    ordering facility, and in the home country."""
    home = getattr(settings, "FARCARE_HOME_COUNTRY", "RU")
    offered = routing.alternatives(ordering=ordering, category=category, modality=modality)
    if performer.country != home or performer.pk not in {facility.pk for facility in offered}:
        raise ValidationError(
            {
                "performer": _("%(facility)s does not perform these tests for %(ordering)s.")
                % {"facility": performer.name, "ordering": ordering.name}
            }
        )


def _check(category: str, codes: list[str], reason: str, priority: str) -> list[str]:
    errors: dict[str, str] = {}
    if category not in Category.values:
        errors["category"] = _("Choose laboratory tests or imaging.")
    known: list[str] = []
    for code in codes:
        item = catalogue.entry(code)
        if item is None or item.category != category:
            errors["codes"] = _("%(code)s is not in the catalogue of %(category)s orders.") % {
                "code": code,
                "category": Category(category).label if category in Category.values else category,
            }
            break
        if item.code not in known:
            known.append(item.code)
    if not codes:
        errors["codes"] = _("Choose at least one test.")
    if not reason.strip():
        errors["reason"] = _("Say why the tests are needed.")
    elif len(reason) > REASON_MAX_CHARS:
        errors["reason"] = _("The reason is too long (at most %(limit)d characters).") % {
            "limit": REASON_MAX_CHARS
        }
    if priority not in Priority.values:
        errors["priority"] = _("Choose the priority.")
    if errors:
        raise ValidationError(errors)
    return known


def order_place(
    *,
    accessor: Accessor,
    patient: Patient,
    category: str,
    codes: list[str],
    reason: str,
    priority: str,
    client_token: uuid_lib.UUID,
    consultation: Consultation | None = None,
    performer: Facility | None = None,
    specimen_kind: str | None = None,
    uuid: uuid_lib.UUID | None = None,
    placer_number: str = "",
) -> DiagnosticOrder:
    """Place an order. The same client token never makes a second order (a double click, a
    retried POST): the first one is returned. `uuid` and `placer_number`: an order placed
    offline at a station keeps at the hub what the post gave it (the tubes' labels carry the
    number)."""
    existing = DiagnosticOrder.objects.filter(client_token=client_token).first()
    if existing is not None:
        if existing.patient_id != patient.pk or existing.orderer_id != getattr(
            accessor.user, "pk", None
        ):
            raise PermissionDenied(_("This form was used for another order."))
        return existing
    if consultation is not None and consultation.patient_id != patient.pk:
        raise ValidationError({"consultation": _("The consultation is about another patient.")})
    is_consultant = accessor.user is not None and accessor.user.role == Role.CONSULTANT
    decision = require(
        accessor=accessor,
        patient=patient,
        action=Action.VIEW if is_consultant else Action.UPDATE,
    )
    ordering = _ordering_facility(accessor, consultation)
    known = _check(category, codes, reason, priority)
    modality = next(
        (item.modality for code in known if (item := catalogue.entry(code)) and item.modality), ""
    )
    if performer is not None:
        _check_performer(performer, ordering, category, modality)
    performer = performer or routing.performer_for(
        ordering=ordering, category=category, modality=modality
    )
    if performer is None and not replication().is_station():
        # A station that cannot route (its copy of the routes is older) leaves it to the hub.
        raise ValidationError(
            {
                "codes": _(
                    "No laboratory or diagnostic centre in the network performs this for "
                    "%(facility)s. Ask the coordinator to add a route."
                )
                % {"facility": ordering.name}
            }
        )
    try:
        return _place(
            accessor,
            patient,
            category,
            known,
            reason.strip(),
            priority,
            client_token,
            consultation,
            ordering,
            performer,
            specimen_kind,
            decision.purpose,
            uuid,
            placer_number,
        )
    except IntegrityError:
        # Another submission with this token committed first: that one is the order, if it is
        # this person's for this patient. A clash on the number or id is another order's.
        existing = DiagnosticOrder.objects.filter(client_token=client_token).first()
        if existing is None:
            raise ValidationError(_("This order's number or identifier is already used.")) from None
        if existing.patient_id != patient.pk or existing.orderer_id != getattr(
            accessor.user, "pk", None
        ):
            raise PermissionDenied(_("This form was used for another order.")) from None
        return existing


@transaction.atomic
def _place(
    accessor: Accessor,
    patient: Patient,
    category: str,
    codes: list[str],
    reason: str,
    priority: str,
    client_token: uuid_lib.UUID,
    consultation: Consultation | None,
    ordering: Facility,
    performer: Facility | None,
    specimen_kind: str | None,
    purpose: str,
    uuid: uuid_lib.UUID | None = None,
    placer_number: str = "",
) -> DiagnosticOrder:
    assert accessor.user is not None
    now = timezone.now()
    extra = {"uuid": uuid} if uuid is not None else {}
    order = DiagnosticOrder.objects.create(
        **extra,
        client_token=client_token,
        patient=patient,
        orderer=accessor.user,
        ordering_facility=ordering,
        performer=performer,
        consultation=consultation,
        category=category,
        priority=priority,
        reason=reason,
        status=OrderStatus.ACTIVE,
        placer_number=placer_number
        or next_number(series=replication().number_series(ORDER_SERIES), moment=now),
        placed_at=now,
        due_at=now + timedelta(minutes=due_minutes(priority)),
    )
    items = [item for code in codes if (item := catalogue.entry(code)) is not None]
    OrderedTest.objects.bulk_create(
        [
            OrderedTest(
                order=order,
                code=item.code,
                display=item.names["en"],
                modality=item.modality,
                body_site=item.body_site,
            )
            for item in items
        ]
    )
    if category == Category.LABORATORY:
        # One tube per kind of specimen: a CBC and an HbA1c share the EDTA tube.
        kinds = list(dict.fromkeys(specimen_kind or item.specimen or "blood" for item in items))
        Specimen.objects.bulk_create(
            [
                Specimen(order=order, kind=kind, label=f"{order.placer_number}-{number}")
                for number, kind in enumerate(kinds, start=1)
            ]
        )
    audit(
        accessor,
        order,
        patient.uuid,
        AuditAction.CREATE,
        {
            "placer_number": order.placer_number,
            "codes": codes,
            "priority": priority,
            "performer": str(performer.uuid) if performer else "",
        },
        purpose,
    )
    replication().order_placed(order=order, actor=accessor.user)
    return order


def order_cancel(
    *, accessor: Accessor, order: DiagnosticOrder, reason: str, version: int
) -> DiagnosticOrder:
    """Cancel an order that has no results yet (the orderer or a coordinator)."""
    side = require_side(accessor, order, {Side.ORDERER, Side.COORDINATOR})
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the order is cancelled.")})
    if len(reason) > CANCEL_REASON_MAX_CHARS:
        raise ValidationError({"reason": _("The reason is too long.")})
    with transaction.atomic():
        order = lock_order(order)
        if order.reports.exists():
            raise ValidationError(
                _("Results of this order have arrived: it can no longer be cancelled.")
            )
        apply_order(order, OrderStatus.REVOKED, side=side, expected_version=version)
        order.note = reason
        order.save(update_fields=["note"])
        audit(
            accessor,
            order,
            order.patient.uuid,
            AuditAction.UPDATE,
            {"event": "cancel", "reason": reason},
        )
        replication().order_cancelled(order=order, actor=accessor.user, reason=reason)
    return order
