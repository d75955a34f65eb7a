"""A call of two on the record: who may join, the start and the end on the case's timeline
(with duration, who took part, mode and quality), the audit trail, and no media recorded."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.calls.access import may_join
from farcare.calls.models import Call, CallKind
from farcare.calls.services import call_end, call_join, call_leave, call_quality
from farcare.consults.models import ConsultMode

from .conftest import live_case


def me(user):
    return Accessor(user, "127.0.0.1")


def test_the_feldsher_starts_the_call_and_the_consultant_joins_it(scene, case):
    mine = call_join(accessor=me(scene.feldsher), consultation=case, kind=CallKind.PAIR)
    theirs = call_join(accessor=me(scene.hub_cardiologist), consultation=case, kind=CallKind.PAIR)
    assert mine.call == theirs.call
    assert Call.objects.filter(consultation=case).count() == 1
    events = list(case.transitions.values_list("event", flat=True))
    assert events.count("call_started") == 1
    started = case.transitions.get(event="call_started")
    assert started.actor == scene.feldsher
    assert started.note_label == "call of two"
    joins = AuditEvent.objects.filter(patient_uuid=case.patient.uuid, details__event="call_joined")
    assert joins.count() == 2


def test_the_last_one_out_ends_the_call_with_its_figures_on_the_timeline(scene, case):
    feldsher = call_join(accessor=me(scene.feldsher), consultation=case, kind=CallKind.PAIR)
    call = feldsher.call
    call_join(accessor=me(scene.hub_cardiologist), consultation=case, kind=CallKind.PAIR)
    call_quality(
        accessor=me(scene.feldsher),
        call=call,
        mode="audio",
        sent_kbps=31,
        received_kbps=240,
        rtt_ms=612,
        loss_percent=1.5,
    )
    call_leave(accessor=me(scene.feldsher), call=call)
    call.refresh_from_db()
    assert call.ended_at is None, "the consultant is still in the call"
    call_leave(accessor=me(scene.hub_cardiologist), call=call)
    call.refresh_from_db()
    assert call.ended_at is not None and call.recorded is False
    ended = case.transitions.get(event="call_ended")
    summary = json.loads(ended.note)
    assert [p["mode"] for p in summary["participants"]] == ["audio", "video"]
    shown = ended.note_label
    assert "sent 31 / received 240 kbit/s" in shown
    assert "round trip 612 ms" in shown and "1.5% lost" in shown
    assert "no media recorded" in shown
    assert AuditEvent.objects.filter(details__event="call_left", details__call=str(call.uuid))


def test_leaving_and_coming_back_is_one_presence_with_a_reconnect(scene, case):
    first = call_join(accessor=me(scene.feldsher), consultation=case, kind=CallKind.PAIR)
    call_join(accessor=me(scene.hub_cardiologist), consultation=case, kind=CallKind.PAIR)
    call_leave(accessor=me(scene.feldsher), call=first.call)
    again = call_join(accessor=me(scene.feldsher), consultation=case, kind=CallKind.PAIR)
    assert again.pk == first.pk and again.reconnects == 1 and again.left_at is None


def test_hanging_up_ends_the_call_for_both(scene, case):
    joined = call_join(accessor=me(scene.feldsher), consultation=case, kind=CallKind.PAIR)
    call_join(accessor=me(scene.hub_cardiologist), consultation=case, kind=CallKind.PAIR)
    call_end(accessor=me(scene.hub_cardiologist), call=joined.call)
    call = Call.objects.get(pk=joined.call.pk)
    assert call.ended_at is not None
    assert not call.participants.filter(left_at__isnull=True).exists()
    assert case.transitions.filter(event="call_ended").count() == 1


def test_who_may_join(scene, case):
    assert may_join(scene.feldsher, case)
    assert may_join(scene.hub_cardiologist, case)
    # Reads the case, but is not in the call; nor is a consultant it was not given to.
    assert not may_join(scene.coordinator, case)
    assert not may_join(scene.federal_cardiologist, case)


def test_a_stranger_is_refused_and_the_refusal_is_audited(scene, case):
    with pytest.raises(PermissionDenied):
        call_join(accessor=me(scene.federal_cardiologist), consultation=case, kind=CallKind.PAIR)
    assert AuditEvent.objects.filter(
        patient_uuid=case.patient.uuid, action="denied", details__wanted="call"
    ).exists()
    assert not Call.objects.exists()


def test_a_deferred_consultation_has_no_call(scene):
    deferred = scene.submit("planned", mode=ConsultMode.DEFERRED)
    assert not may_join(scene.feldsher, deferred)


def test_figures_out_of_range_are_refused_not_dropped(scene, case):
    joined = call_join(accessor=me(scene.feldsher), consultation=case, kind=CallKind.PAIR)
    for bad in ({"mode": "hologram"}, {"sent_kbps": -1}, {"loss_percent": 101}, {"rtt_ms": "x"}):
        figures = {"mode": "video", "sent_kbps": 1, "received_kbps": 1, "rtt_ms": 1}
        figures |= {"loss_percent": 0, **bad}
        with pytest.raises(ValidationError):
            call_quality(accessor=me(scene.feldsher), call=joined.call, **figures)


def test_the_korean_partner_joins_a_case_routed_to_them(scene):
    case = live_case(scene, abroad=True)
    joined = call_join(
        accessor=me(scene.partner_cardiologist), consultation=case, kind=CallKind.PAIR
    )
    assert joined.call.consultation == case
