"""Orders out: a laboratory order placed for a laboratory whose system asked for them
(`LaboratoryInterface.order_message`) goes to it as ORM^O01 or OML^O21 over MLLP.

Queued, never in the way of the order: the outbox row is written in the order's own
transaction (in a savepoint: a failure here is logged and never undoes the order); the first
attempt runs after commit in a background thread; `farcare hl7 deliver --loop 30` retries what
is due with exponential backoff until the laboratory answers AA (or CA), and gives up after
FARCARE_HL7_MAX_ATTEMPTS. The message is built from the order when sent, so an order
cancelled before its first send is not sent at all; one cancelled after its laboratory accepted
it (or while it was on its way) is followed by a cancel, ORC-1 "CA" in the same message type,
through the same outbox.

The domain does not know this app: `apps.Hl7Config.ready` connects `order_saved` to
DiagnosticOrder's post_save."""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F
from django.utils import timezone
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message

from farcare.diagnostics.models import Category, DiagnosticOrder, OrderStatus, Priority

from .ack import AckCode, read_ack
from .mllp import exchange
from .models import (
    LaboratoryInterface,
    OrderControl,
    OrderMessage,
    OutboundMessage,
    OutboundStatus,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 20
RETRY_BASE_SECONDS = 30
RETRY_CAP_SECONDS = 60 * 60
CLAIM_LEASE = timedelta(minutes=2)
SEND_TIMEOUT_SECONDS = 15.0

# HL7 table 0027 (priority).
_PRIORITY = {
    Priority.ROUTINE: "R",
    Priority.URGENT: "A",
    Priority.ASAP: "A",
    Priority.STAT: "S",
}
_SEX = {"male": "M", "female": "F", "other": "O", "unknown": "U"}


def _escape(text: str, limit: int = 200) -> str:
    """Free text inside a field: HL7 delimiters escaped, line breaks as spaces."""
    text = " ".join(str(text).split())[:limit]
    for char, escaped in (
        ("\\", "\\E\\"),
        ("|", "\\F\\"),
        ("^", "\\S\\"),
        ("&", "\\T\\"),
        ("~", "\\R\\"),
    ):
        text = text.replace(char, escaped)
    return text


def _ts(moment: datetime | None) -> str:
    return (moment or timezone.now()).astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


def build_order_message(
    order: DiagnosticOrder,
    interface: LaboratoryInterface,
    *,
    control_id: str,
    now: datetime | None = None,
    control: str = "",
) -> str:
    """ORM^O01 or OML^O21 (as the interface asks) for the order: PID with the patient's
    FarCare id, SNILS and OMS policy; one ORC/OBR pair per ordered test. ORC-1 is `control`
    ("NW" new, "CA" cancel); by default "CA" for a cancelled order, else "NW"."""
    kind = interface.order_message or OrderMessage.OML
    structure = "ORM_O01" if kind == OrderMessage.ORM else "OML_O21"
    version = interface.version or "2.5.1"
    message = Message(structure, version=version, validation_level=VALIDATION_LEVEL.TOLERANT)
    msh = message.msh
    msh.msh_3 = "FARCARE"
    msh.msh_4 = "FARCARE"
    msh.msh_5 = _escape(interface.receiving_application, 180)
    msh.msh_6 = _escape(interface.sending_facility, 180)
    msh.msh_7 = _ts(now)
    msh.msh_9 = f"{kind}^{structure}" if version not in ("2.3", "2.3.1") else kind
    msh.msh_10 = control_id
    msh.msh_11 = "P"
    msh.msh_12 = version
    msh.msh_15 = "AL"
    msh.msh_16 = "NE"
    msh.msh_18 = "UNICODE UTF-8"

    patient = order.patient
    pid = message.add_segment("PID")
    pid.pid_1 = "1"
    identifiers = [f"{patient.uuid}^^^FARCARE^PI"]
    if patient.snils:
        identifiers.append(f"{patient.snils}^^^SNILS^PT")
    if patient.oms_policy:
        identifiers.append(f"{_escape(patient.oms_policy, 16)}^^^OMS^HC")
    pid.pid_3 = "~".join(identifiers)
    pid.pid_5 = "^".join(
        _escape(part, 80) for part in (patient.family, patient.given, patient.middle)
    )
    pid.pid_7 = patient.birth_date.strftime("%Y%m%d")
    pid.pid_8 = _SEX.get(patient.sex, "U")

    orderer = order.orderer
    provider = f"{orderer.uuid}^{_escape(orderer.last_name, 80)}^{_escape(orderer.first_name, 80)}"
    priority = _PRIORITY.get(Priority(order.priority), "R")
    if not control:
        control = OrderControl.CANCEL if order.status == OrderStatus.REVOKED else OrderControl.NEW
    placer = f"{_escape(order.placer_number, 32)}^FARCARE"
    filler = _escape(order.filler_number, 64)
    for number, test in enumerate(order.tests.all(), start=1):
        orc = message.add_segment("ORC")
        orc.orc_1 = control
        orc.orc_2 = placer
        if filler:
            orc.orc_3 = filler
        orc.orc_7 = f"^^^^^{priority}"
        orc.orc_9 = _ts(order.placed_at)
        orc.orc_12 = provider
        orc.orc_21 = _escape(order.ordering_facility.name_en, 120)
        obr = message.add_segment("OBR")
        obr.obr_1 = str(number)
        obr.obr_2 = placer
        if filler:
            obr.obr_3 = filler
        obr.obr_4 = f"{_escape(test.code, 16)}^{_escape(test.display, 120)}^LN"
        if version in ("2.3", "2.3.1", "2.4"):
            obr.obr_5 = priority
        obr.obr_13 = _escape(order.reason, 200)
        obr.obr_16 = provider
        obr.obr_27 = f"^^^^^{priority}"
    return str(message.to_er7())


# --- queueing -----------------------------------------------------------------------------------


def interface_for_performer(order: DiagnosticOrder) -> LaboratoryInterface | None:
    if order.performer_id is None:
        return None
    for interface in LaboratoryInterface.objects.filter(
        facility_id=order.performer_id, active=True
    ).exclude(order_message=""):
        if interface.sends_orders:
            return interface
    return None


def order_saved(sender: Any, instance: DiagnosticOrder, created: bool, **kwargs: Any) -> None:
    """post_save of DiagnosticOrder: queue the order for its laboratory's system, once; queue
    its cancel, once, when a cancelled order had reached the laboratory. Never raises: the
    order stands whatever happens here."""
    if kwargs.get("raw") or instance.category != Category.LABORATORY:
        return
    if instance.performer_id is None:
        return
    if instance.status == OrderStatus.REVOKED:
        cancel = _queue_cancel(instance)
        if cancel is not None:
            _send_after_commit(cancel)
        return
    if instance.status != OrderStatus.ACTIVE:
        return
    try:
        with transaction.atomic():
            interface = interface_for_performer(instance)
            if interface is None:
                return
            if OutboundMessage.objects.filter(order=instance).exists():
                return
            row = _queue(instance, interface, OrderControl.NEW, interface.order_message)
    except DatabaseError:
        logger.exception("HL7 order %s not queued", instance.placer_number)
        return
    _send_after_commit(row)


def _queue(
    order: DiagnosticOrder, interface: LaboratoryInterface, control: str, message_type: str
) -> OutboundMessage:
    return OutboundMessage.objects.create(
        interface=interface,
        order=order,
        control_id=f"FC{uuid.uuid4().hex[:18].upper()}",
        message_type=message_type,
        order_control=control,
        next_attempt_at=timezone.now(),
    )


def _send_after_commit(row: OutboundMessage) -> None:
    if getattr(settings, "FARCARE_HL7_SEND_ON_COMMIT", True):
        transaction.on_commit(partial(_send_soon, row.uuid), robust=True)


def _queue_cancel(order: DiagnosticOrder) -> OutboundMessage | None:
    """The laboratory accepted the order (its new-order row was sent): tell it the order is
    cancelled, as the interface's order message now is (else as the order went), once."""
    try:
        with transaction.atomic():
            rows = OutboundMessage.objects.select_for_update(of=("self",)).filter(order=order)
            sent = (
                rows.filter(order_control=OrderControl.NEW, status=OutboundStatus.SENT)
                .select_related("interface")
                .order_by("pk")
                .first()
            )
            if sent is None or rows.filter(order_control=OrderControl.CANCEL).exists():
                return None
            interface = sent.interface
            return _queue(
                order, interface, OrderControl.CANCEL, interface.order_message or sent.message_type
            )
    except DatabaseError:
        logger.exception("HL7 cancel of order %s not queued", order.placer_number)
        return None


def _send_soon(row_uuid: uuid.UUID) -> None:
    """The first attempt, in a thread of its own: the page that placed the order is answered
    without waiting for the laboratory."""

    def run() -> None:
        try:
            deliver_due(only=row_uuid)
        except Exception:
            logger.exception("HL7 order delivery %s failed", row_uuid)
        finally:
            connections.close_all()

    threading.Thread(target=run, name=f"hl7-order-{row_uuid}", daemon=True).start()


# --- sending ------------------------------------------------------------------------------------


@dataclass
class OutboundReport:
    sent: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    # Cancels queued by this run (an order cancelled while its new-order message was sent).
    follow_up: list[uuid.UUID] = field(default_factory=list)


def max_attempts() -> int:
    return max(1, int(getattr(settings, "FARCARE_HL7_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)))


def retry_delay(attempts: int) -> timedelta:
    exponent = min(max(attempts, 1) - 1, 16)
    return timedelta(seconds=min(RETRY_BASE_SECONDS * 2**exponent, RETRY_CAP_SECONDS))


def _claim(now: datetime, only: uuid.UUID | None) -> list[OutboundMessage]:
    features = connection.features
    with transaction.atomic():
        due = OutboundMessage.objects.filter(
            status=OutboundStatus.PENDING, next_attempt_at__lte=now
        )
        if only is not None:
            due = due.filter(uuid=only)
        ids = list(
            due.select_for_update(
                skip_locked=features.has_select_for_update_skip_locked,
                of=("self",) if features.has_select_for_update_of else (),
            )
            .order_by("next_attempt_at", "id")
            .values_list("pk", flat=True)[:50]
        )
        if not ids:
            return []
        OutboundMessage.objects.filter(pk__in=ids).update(
            attempts=F("attempts") + 1, next_attempt_at=max(now, timezone.now()) + CLAIM_LEASE
        )
        return list(
            OutboundMessage.objects.filter(pk__in=ids).select_related(
                "interface", "order__patient", "order__orderer", "order__ordering_facility"
            )
        )


def _attempt(row: OutboundMessage, now: datetime, report: OutboundReport) -> None:
    claimed = OutboundMessage.objects.filter(
        pk=row.pk, status=OutboundStatus.PENDING, attempts=row.attempts
    )
    order = row.order
    new_order = row.order_control == OrderControl.NEW
    if new_order and order.status == OrderStatus.REVOKED and not row.sent_at:
        claimed.update(status=OutboundStatus.CANCELLED, next_attempt_at=None)
        report.cancelled.append(row.control_id)
        return
    interface = row.interface
    try:
        text = build_order_message(
            order, interface, control_id=row.control_id, control=row.order_control
        )
        answer = exchange(
            interface.host,
            int(interface.port or 0),
            text,
            timeout=float(getattr(settings, "FARCARE_HL7_SEND_TIMEOUT", SEND_TIMEOUT_SECONDS)),
        )
        code, _control, reason = read_ack(answer)
    except Exception as error:  # unreachable, refused, timed out, garbage: retried
        code, reason, text = "", repr(error), row.message
    if code in (AckCode.ACCEPT, "CA"):
        claimed.update(
            status=OutboundStatus.SENT,
            sent_at=timezone.now(),
            next_attempt_at=None,
            message=text,
            ack_code=code,
            ack_text=reason[:400],
            last_error="",
        )
        report.sent.append(row.control_id)
        if (
            new_order
            and DiagnosticOrder.objects.filter(pk=order.pk, status=OrderStatus.REVOKED).exists()
        ):
            # Cancelled while the new order was on its way: the laboratory has it now. The
            # cancel is sent by this same delivery run, right after.
            order.status = OrderStatus.REVOKED
            cancel = _queue_cancel(order)
            if cancel is not None:
                report.follow_up.append(cancel.uuid)
        return
    given_up = code in (AckCode.REJECT, "CR") or row.attempts >= max_attempts()
    claimed.update(
        status=OutboundStatus.FAILED if given_up else OutboundStatus.PENDING,
        next_attempt_at=None if given_up else now + retry_delay(row.attempts),
        message=text,
        ack_code=code[:2],
        last_error=(reason or f"answered {code}")[:400],
    )
    (report.failed if given_up else report.retrying).append(row.control_id)
    (logger.error if given_up else logger.warning)(
        "HL7 order %s (%s) to %s attempt %d: %s %s",
        order.placer_number,
        row.order_control,
        interface.sending_facility,
        row.attempts,
        code or "no answer",
        reason,
    )


def deliver_due(now: datetime | None = None, *, only: uuid.UUID | None = None) -> OutboundReport:
    """Send every queued order whose time has come (or only the one given)."""
    now = now or timezone.now()
    report = OutboundReport()
    while batch := _claim(now, only):
        for row in batch:
            _attempt(row, now, report)
    while report.follow_up:
        then = timezone.now()
        for row in _claim(then, report.follow_up.pop(0)):
            _attempt(row, then, report)
    return report
