"""Who is told what about a monitoring alert. As for critical results (diagnostics.alerts), no
message names the patient: it names the measure, the kind of alert and its severity, and links
to the alert (/monitoring/alerts/<uuid>/), where the clinician sees who it is after logging in.
An SMS or an e-mail is not a safe place for a medical secret (323-FZ art. 13)."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext_lazy as _

from farcare.accounts.models import User
from farcare.notifications.services import notify_each

from .models import AlertKindChoice, MeasureChoice, MonitoringAlert, SeverityChoice
from .rules import Severity


def alert_link(alert: MonitoringAlert) -> str:
    return f"/monitoring/alerts/{alert.uuid}/"


def _send(
    recipients: Iterable[User | None],
    event: str,
    subject: object,
    body: object,
    alert: MonitoringAlert,
    *,
    urgent: bool,
) -> list[User]:
    return notify_each(
        recipients,
        event=event,
        subject=subject,  # type: ignore[arg-type]
        body=body,  # type: ignore[arg-type]
        params=_params(alert),
        link=alert_link(alert),
        urgent=urgent,
    )


def _params(alert: MonitoringAlert) -> dict[str, object]:
    return {
        "measure": MeasureChoice(alert.measure).label,
        "kind": AlertKindChoice(alert.kind).label,
        "severity": SeverityChoice(alert.severity).label,
    }


def alert_raised(alert: MonitoringAlert) -> list[User]:
    return _send(
        [alert.recipient],
        "monitoring.alert",
        _("Home monitoring alert (%(severity)s): %(measure)s"),
        _(
            "A home %(measure)s reading of a person you follow needs attention (%(kind)s, "
            "%(severity)s). Open the alert and acknowledge it."
        ),
        alert,
        urgent=alert.severity == Severity.CRITICAL,
    )


def alert_reassigned(alert: MonitoringAlert) -> list[User]:
    """To the clinician now named responsible, for an alert still open."""
    return _send(
        [alert.recipient],
        "monitoring.alert_reassigned",
        _("Home monitoring alert passed to you (%(severity)s): %(measure)s"),
        _(
            "You are now responsible for a person with an open home monitoring alert "
            "(%(measure)s, %(kind)s, %(severity)s). Open the alert and acknowledge it."
        ),
        alert,
        urgent=alert.severity == Severity.CRITICAL,
    )


def alert_escalated(alert: MonitoringAlert, recipients: list[User]) -> list[User]:
    return _send(
        recipients,
        "monitoring.alert_escalated",
        _("Unacknowledged home monitoring alert: %(measure)s"),
        _(
            "Nobody has acknowledged a home monitoring alert (%(measure)s, %(kind)s, "
            "%(severity)s) in time. Make sure someone acts on it."
        ),
        alert,
        urgent=alert.severity != Severity.WATCH,
    )


def alert_escalated_again(alert: MonitoringAlert, recipients: list[User]) -> list[User]:
    """The second escalation: short enough for one SMS, urgent."""
    return _send(
        recipients,
        "monitoring.alert_escalated_again",
        _("STILL unacknowledged monitoring alert: %(measure)s"),
        _(
            "A home monitoring alert (%(measure)s, %(severity)s) is still unacknowledged after "
            "escalation. Act now."
        ),
        alert,
        urgent=True,
    )
