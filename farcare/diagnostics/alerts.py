"""Who is told what about an order and its results. As for consultations, no message names
the patient; a critical alert names the test, the order number and the direction of the value,
so that the clinician knows it must be acted on before opening it. The patient's own "your
result is ready" carries no medical content at all: not the test, not the value (an SMS or an
e-mail is not a safe place for a medical secret, 323-FZ art. 13)."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext_lazy as _

from farcare.accounts.models import User
from farcare.notifications.services import notify_each

from .catalogue import label
from .models import AlertKind, CriticalAlert, DiagnosticOrder, Interpretation, Specimen

PATIENT_RESULTS_LINK = "/my/results/"


def order_link(order: DiagnosticOrder) -> str:
    return f"/diagnostics/orders/{order.uuid}/"


def alert_link(alert: CriticalAlert) -> str:
    return f"/diagnostics/alerts/{alert.uuid}/"


def _send(
    recipients: Iterable[User | None],
    event: str,
    subject: object,
    body: object,
    params: dict[str, object],
    link: str,
    *,
    urgent: bool,
) -> list[User]:
    return notify_each(
        recipients,
        event=event,
        subject=subject,  # type: ignore[arg-type]
        body=body,  # type: ignore[arg-type]
        params=params,
        link=link,
        urgent=urgent,
    )


def _test_name(code: str) -> object:
    from django.utils.functional import lazy
    from django.utils.translation import get_language

    return lazy(lambda: label(code, (get_language() or "en")[:2]), str)()


def specimen_rejected(order: DiagnosticOrder, specimen: Specimen) -> None:
    _send(
        [order.orderer],
        "diagnostics.specimen_rejected",
        _("Specimen rejected: order %(number)s"),
        _(
            "The laboratory rejected specimen %(label)s of order %(number)s: %(reason)s. "
            "A new specimen is needed."
        ),
        {
            "number": order.placer_number,
            "label": specimen.label,
            "reason": specimen.get_rejection_reason_display(),
        },
        order_link(order),
        urgent=order.priority in ("stat", "asap"),
    )


def results_in(order: DiagnosticOrder) -> None:
    _send(
        [order.orderer],
        "diagnostics.results",
        _("Results in: order %(number)s"),
        _("Results of order %(number)s have arrived."),
        {"number": order.placer_number},
        order_link(order),
        urgent=False,
    )


def results_corrected(order: DiagnosticOrder) -> None:
    """A value the orderer (and the patient) may already have read was corrected."""
    _send(
        [order.orderer],
        "diagnostics.results_corrected",
        _("Result corrected: order %(number)s"),
        _(
            "The laboratory corrected a result of order %(number)s. Open the report to see the "
            "new value and what it replaces."
        ),
        {"number": order.placer_number},
        order_link(order),
        urgent=False,
    )


def _alert_params(alert: CriticalAlert, number: str) -> dict[str, object]:
    observation = alert.observation
    return {
        "number": number or "—",
        "test": _test_name(observation.code),
        "meaning": Interpretation(observation.interpretation).label
        if observation.interpretation
        else Interpretation.ABNORMAL.label,
    }


def critical_raised(alert: CriticalAlert, recipients: list[User], number: str) -> list[User]:
    if alert.kind == AlertKind.TROPONIN:
        subject = _("Troponin raised: order %(number)s")
        body = _(
            "%(test)s is above the assay's 99th percentile (order %(number)s). Open the result "
            "and acknowledge it."
        )
    else:
        subject = _("Critical result: %(test)s, order %(number)s")
        body = _("%(test)s is %(meaning)s (order %(number)s). Act on it and acknowledge the alert.")
    return _send(
        recipients,
        "diagnostics.critical",
        subject,
        body,
        _alert_params(alert, number),
        alert_link(alert),
        urgent=True,
    )


def critical_escalated(alert: CriticalAlert, recipients: list[User], number: str) -> list[User]:
    return _send(
        recipients,
        "diagnostics.critical_escalated",
        _("Unacknowledged critical result: order %(number)s"),
        _(
            "Nobody has acknowledged a critical %(test)s result (order %(number)s) in time. "
            "Make sure someone acts on it."
        ),
        _alert_params(alert, number),
        alert_link(alert),
        urgent=True,
    )


def critical_escalated_again(
    alert: CriticalAlert, recipients: list[User], number: str
) -> list[User]:
    """The second escalation: short enough for one SMS, urgent."""
    return _send(
        recipients,
        "diagnostics.critical_escalated_again",
        _("STILL unacknowledged critical result: order %(number)s"),
        _(
            "A critical %(test)s result (order %(number)s) is still unacknowledged after "
            "escalation. Act now."
        ),
        _alert_params(alert, number),
        alert_link(alert),
        urgent=True,
    )


def result_ready(patient_user: User | None) -> None:
    _send(
        [patient_user],
        "diagnostics.result_ready",
        _("Your result is ready"),
        _("A new result is ready in your FarCare account. Log in to see it."),
        {},
        PATIENT_RESULTS_LINK,
        urgent=False,
    )


def result_updated(patient_user: User | None) -> None:
    """A released result was corrected: the patient is told, again with nothing medical."""
    _send(
        [patient_user],
        "diagnostics.result_updated",
        _("Your result was updated"),
        _("A result in your FarCare account was updated by the laboratory. Log in to see it."),
        {},
        PATIENT_RESULTS_LINK,
        urgent=False,
    )


# --- who is told ----------------------------------------------------------------------------
