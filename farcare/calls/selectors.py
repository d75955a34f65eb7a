"""Reads of calls."""

from __future__ import annotations

from farcare.accounts.models import User
from farcare.consults.models import Consultation

from .models import Call, CallParticipant


def open_call(consultation: Consultation, kind: str) -> Call | None:
    return Call.objects.filter(consultation=consultation, kind=kind, ended_at__isnull=True).first()


def presence(call: Call, user: User) -> CallParticipant | None:
    return CallParticipant.objects.filter(call=call, user=user).first()


def others_present(call: Call, user: User) -> int:
    return call.participants.filter(left_at__isnull=True).exclude(user=user).count()
