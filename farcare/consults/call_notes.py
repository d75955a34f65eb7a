"""How the timeline words what farcare.calls wrote there: a call's start (its kind) and its end
(a JSON summary: duration, who took part, the mode and the quality each side measured). Kept
language-neutral in the record and worded in the reader's language when shown."""

from __future__ import annotations

import json
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

CALL_KINDS = {"pair": gettext_lazy("call of two"), "consilium": gettext_lazy("consilium call")}
MEDIA_MODES = {"video": gettext_lazy("video"), "audio": gettext_lazy("audio only")}


def _duration(seconds: int) -> str:
    minutes, second = divmod(max(0, seconds), 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}:{minute:02d}:{second:02d}" if hours else f"{minute}:{second:02d}"


def _person(person: dict[str, Any]) -> str:
    figures = []
    mode = MEDIA_MODES.get(str(person.get("mode")), "")
    if mode:
        figures.append(str(mode))
    if person.get("sent_kbps") is not None and person.get("received_kbps") is not None:
        figures.append(
            _("sent %(sent)s / received %(received)s kbit/s")
            % {"sent": person["sent_kbps"], "received": person["received_kbps"]}
        )
    if person.get("rtt_ms") is not None:
        figures.append(_("round trip %(rtt)s ms") % {"rtt": person["rtt_ms"]})
    if person.get("loss_percent") is not None:
        figures.append(_("%(loss)s%% lost") % {"loss": person["loss_percent"]})
    if person.get("reconnects"):
        figures.append(_("reconnected %(count)s×") % {"count": person["reconnects"]})
    name = str(person.get("name", ""))
    return f"{name}: {', '.join(figures)}" if figures else name


def call_note(event: str, note: str) -> str:
    if event == "call_started":
        return str(CALL_KINDS.get(note, note))
    try:
        summary = json.loads(note)
    except ValueError:
        return note
    if not isinstance(summary, dict):
        return note
    parts = [
        str(CALL_KINDS.get(str(summary.get("kind")), "")),
        _("duration %(duration)s") % {"duration": _duration(int(summary.get("duration_s", 0)))},
    ]
    parts += [_person(p) for p in summary.get("participants", []) if isinstance(p, dict)]
    parts.append(_("media recorded") if summary.get("recorded") else _("no media recorded"))
    return "; ".join(part for part in parts if part)
