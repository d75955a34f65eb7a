"""Writes of a call: joining, leaving, the quality each side measured, ending it.

Every join and leave is audited against the consultation's patient; the call's start and end
go on the case's timeline (the end with its duration, who took part, the mode and the quality
figures). Nothing of the media is kept (`Call.recorded` stays false; docs/decisions.md)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.models import Consultation
from farcare.consults.workflow import record_event

from .access import require_join
from .models import Call, CallKind, CallParticipant, MediaMode
from .quality import clean_link_figures

CALL_STARTED = "call_started"
CALL_ENDED = "call_ended"


def _audit(accessor: Accessor, call: Call, event: str, **details: Any) -> None:
    audit_record(
        accessor=accessor,
        action=AuditAction.UPDATE,
        patient_uuid=call.consultation.patient.uuid,
        record=call.consultation,
        details={"event": event, "call": str(call.uuid), "kind": call.kind, **details},
    )


def _lock_consultation(consultation: Consultation) -> Consultation:
    return (
        Consultation.objects.select_for_update(of=("self",))
        .select_related("patient")
        .get(pk=consultation.pk)
    )


def _lock_call(call: Call) -> Call:
    """The call and its consultation, locked in the order `call_join` takes them (consultation
    first), so that a join and a leave never wait on each other crosswise."""
    consultation = _lock_consultation(call.consultation)
    locked = Call.objects.select_for_update().get(pk=call.pk)
    locked.consultation = consultation
    return locked


def call_join(*, accessor: Accessor, consultation: Consultation, kind: str) -> CallParticipant:
    """Join the open call of this kind, starting it when there is none. Joining again after a
    drop keeps the presence and counts the reconnect."""
    if kind not in CallKind.values:
        raise ValidationError(_("Unknown kind of call."))
    require_join(accessor, consultation)
    user = accessor.user
    assert user is not None
    with transaction.atomic():
        locked = _lock_consultation(consultation)
        now = timezone.now()
        call = Call.objects.filter(consultation=locked, kind=kind, ended_at__isnull=True).first()
        started = call is None
        if call is None:
            call = Call.objects.create(
                consultation=locked, kind=kind, started_at=now, started_by=user
            )
            record_event(locked, event=CALL_STARTED, actor=user, note=kind)
        call.consultation = locked
        participant = CallParticipant.objects.filter(call=call, user=user).first()
        rejoined = participant is not None
        if participant is None:
            participant = CallParticipant.objects.create(
                call=call, user=user, joined_at=now, last_seen_at=now
            )
        else:
            participant.left_at = None
            participant.reconnects += 1
            participant.last_seen_at = now
            participant.save(update_fields=["left_at", "reconnects", "last_seen_at"])
        _audit(
            accessor,
            call,
            "call_joined",
            started=started,
            reconnect=rejoined,
        )
    return participant


def _present(call: Call) -> list[CallParticipant]:
    return list(call.participants.filter(left_at__isnull=True))


def _participant(accessor: Accessor, call: Call) -> CallParticipant:
    participant = CallParticipant.objects.filter(call=call, user=accessor.user).first()
    if participant is None:
        raise PermissionDenied(_("You are not in this call."))
    return participant


def call_leave(*, accessor: Accessor, call: Call) -> None:
    """Leave the call; the last one out ends it."""
    with transaction.atomic():
        call = _lock_call(call)
        _depart(accessor, call, _participant(accessor, call), at=timezone.now())


def call_leave_silent(
    *, accessor: Accessor, call: Call, user_id: int, seen_before: datetime
) -> bool:
    """The presence of a browser that went silent (no report since before `seen_before`: a
    crash, a power cut, a restart, no pagehide beacon) leaves as of when it was last seen, the
    way `call_leave` does: the last one out ends the call. False if it spoke up meanwhile."""
    with transaction.atomic():
        call = _lock_call(call)
        participant = (
            CallParticipant.objects.select_for_update()
            .filter(call=call, user_id=user_id, left_at__isnull=True)
            .first()
        )
        if participant is None:
            return False
        seen = participant.last_seen_at or participant.joined_at
        if seen >= seen_before:
            return False
        _depart(accessor, call, participant, at=seen, silent=True)
    return True


def _depart(
    accessor: Accessor,
    call: Call,
    participant: CallParticipant,
    *,
    at: datetime,
    silent: bool = False,
) -> None:
    """One presence leaves (the call is locked); the last one out ends the call, as of then."""
    if participant.left_at is None:
        participant.left_at = at
        participant.save(update_fields=["left_at"])
    _audit(accessor, call, "call_left", **({"silent": True} if silent else {}))
    if call.ended_at is None and not _present(call):
        # Ended when the last one was last there (a silent presence may go after others left).
        last = call.participants.aggregate(last=Max("left_at"))["last"]
        _finish(accessor, call, at=max(at, last or at))


def call_end(*, accessor: Accessor, call: Call) -> None:
    """End the call for everyone in it (hang up)."""
    with transaction.atomic():
        call = _lock_call(call)
        _participant(accessor, call)
        if call.ended_at is not None:
            return
        now = timezone.now()
        call.participants.filter(left_at__isnull=True).update(left_at=now)
        _audit(accessor, call, "call_left", ended_for_all=True)
        _finish(accessor, call)


def _finish(accessor: Accessor, call: Call, *, at: datetime | None = None) -> None:
    call.ended_at = max(at or timezone.now(), call.started_at)
    call.save(update_fields=["ended_at"])
    record_event(
        call.consultation,
        event=CALL_ENDED,
        actor=accessor.user,
        note=json.dumps(call_summary(call)),
    )


def call_summary(call: Call) -> dict[str, Any]:
    """What the timeline keeps of a call: language-neutral figures, worded when shown
    (`farcare.consults.call_notes`)."""
    end = call.ended_at or timezone.now()
    people = []
    for p in call.participants.select_related("user").order_by("joined_at", "pk"):
        people.append(
            {
                "name": p.user.get_full_name() or p.user.username,
                "mode": p.mode,
                "sent_kbps": p.sent_kbps,
                "received_kbps": p.received_kbps,
                "rtt_ms": p.rtt_ms,
                "loss_percent": float(p.loss_percent) if p.loss_percent is not None else None,
                "reconnects": p.reconnects,
            }
        )
    return {
        "call": str(call.uuid),
        "kind": call.kind,
        "duration_s": max(0, int((end - call.started_at).total_seconds())),
        "recorded": call.recorded,
        "participants": people,
    }


def call_quality(
    *,
    accessor: Accessor,
    call: Call,
    mode: str,
    sent_kbps: float | None,
    received_kbps: float | None,
    rtt_ms: float | None,
    loss_percent: float | None,
) -> None:
    """Keep the last figures the user's browser measured (getStats). Not audited: no patient
    data is read or changed, and a browser reports every few seconds."""
    if mode not in MediaMode.values:
        raise ValidationError({"mode": _("Unknown media mode.")})
    figures = clean_link_figures(
        {
            "sent_kbps": sent_kbps,
            "received_kbps": received_kbps,
            "rtt_ms": rtt_ms,
            "loss_percent": loss_percent,
        }
    )
    updated = CallParticipant.objects.filter(
        call=call, user=accessor.user, left_at__isnull=True
    ).update(
        mode=mode,
        sent_kbps=figures.sent_kbps,
        received_kbps=figures.received_kbps,
        rtt_ms=figures.rtt_ms,
        loss_percent=figures.loss_percent,
        # A report is a sign of life: the sweep leaves alone a presence that keeps reporting.
        last_seen_at=timezone.now(),
    )
    if not updated:
        raise PermissionDenied(_("You are not in this call."))
