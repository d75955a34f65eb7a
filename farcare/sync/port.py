"""The sync app's side of the domain's ports (farcare.core.ports). `StationReplication`: every
write made at a station (patients, requests, diagnostic orders) also waits in its outbox, in the
write's own transaction; at the hub (no `StationConfig`) each call finds it is not a station and
does nothing. `StationSidePages`: what a case page shows of the hub's answers at a station, and
the patient page the conflicts of an edit made at both ends."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from django.db.models import Model

from farcare.accounts.models import User
from farcare.consults.models import Consultation, Message
from farcare.diagnostics.models import (
    CriticalAlert,
    DiagnosticOrder,
    DiagnosticReport,
    Specimen,
)
from farcare.monitoring.models import HomeReading
from farcare.patients.models import Consent, Patient

from . import diagnostics_out, monitoring_out, outbox, selectors

M = TypeVar("M", bound=Model)


def _queued(obj: Model, kind: type[M], actor: User | None) -> tuple[M, User] | None:
    """The write and its author when this is a station, else None. A write the outbox cannot
    carry is an error here, never a silent skip: it would be lost to the hub."""
    if not outbox.is_station():
        return None
    if not isinstance(obj, kind) or actor is None:
        raise TypeError(f"a station queues a {kind.__name__} with its author, not {obj!r}")
    return obj, actor


MARK_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def station_mark(station_uuid: uuid.UUID | str) -> str:
    value = uuid.UUID(str(station_uuid)).int
    mark = ""
    for _position in range(5):
        value, digit = divmod(value, 36)
        mark += MARK_DIGITS[digit]
    return mark


class StationSidePages:
    def case(
        self, consultation: Model, facts: Any, thread: list[Any]
    ) -> tuple[Any, list[Any], dict[str, Any] | None]:
        if not isinstance(consultation, Consultation):
            raise TypeError(f"a case page shows a Consultation, not {consultation!r}")
        delivery = selectors.case_delivery(consultation)
        facts, thread = selectors.as_the_hub_has_it(facts, thread, delivery)
        return facts, thread, delivery

    def patient_conflicts(self, patient: Model) -> list[Any]:
        if not isinstance(patient, Patient):
            raise TypeError(f"conflicts belong to a Patient, not {patient!r}")
        return list(selectors.open_conflicts(patient))


class StationReplication:
    def is_station(self) -> bool:
        return outbox.is_station()

    def patient_created(self, *, patient: Model, actor: User | None) -> None:
        if found := _queued(patient, Patient, actor):
            outbox.queue_patient_create(patient=found[0], actor=found[1])

    def patient_changed(
        self, *, patient: Model, actor: User | None, before: dict[str, Any], changed: list[str]
    ) -> None:
        if found := _queued(patient, Patient, actor):
            outbox.queue_patient_update(
                patient=found[0], actor=found[1], base=before, changed=changed
            )

    def consent_recorded(self, *, consent: Model, actor: User | None) -> None:
        if found := _queued(consent, Consent, actor):
            outbox.queue_consent(consent=found[0], actor=found[1])

    def request_submitted(self, *, consultation: Model, actor: User | None) -> None:
        if found := _queued(consultation, Consultation, actor):
            outbox.queue_consultation(consultation=found[0], actor=found[1])

    def message_posted(self, *, message: Model, actor: User | None) -> None:
        if found := _queued(message, Message, actor):
            outbox.queue_message(message=found[0], actor=found[1])

    def number_series(self, series: str) -> str:
        """A station's numbers carry a mark of its own (its UUID in five base-36 characters,
        60 million marks: the series is at most 8 characters): the hub keeps them, and the
        tubes' labels printed offline stay valid. Two stations with one mark would be refused
        at the hub, by number, never merged."""
        config = outbox.station()
        if config is None:
            return series
        return f"{series}-{station_mark(config.station_uuid)}"[:8]

    def order_placed(self, *, order: Model, actor: User | None) -> None:
        if found := _queued(order, DiagnosticOrder, actor):
            diagnostics_out.queue_order(order=found[0], actor=found[1])

    def order_cancelled(self, *, order: Model, actor: User | None, reason: str) -> None:
        if found := _queued(order, DiagnosticOrder, actor):
            diagnostics_out.queue_cancel(order=found[0], actor=found[1], reason=reason)

    def specimen_changed(self, *, specimen: Model, actor: User | None, event: str) -> None:
        if found := _queued(specimen, Specimen, actor):
            diagnostics_out.queue_specimen(specimen=found[0], actor=found[1], event=event)

    def alert_acknowledged(self, *, alert: Model, actor: User | None) -> None:
        if found := _queued(alert, CriticalAlert, actor):
            diagnostics_out.queue_acknowledgement(alert=found[0], actor=found[1])

    def report_reviewed(self, *, report: Model, actor: User | None) -> None:
        if found := _queued(report, DiagnosticReport, actor):
            diagnostics_out.queue_review(report=found[0], actor=found[1])

    def reading_recorded(self, *, reading: Model, actor: User | None) -> None:
        if found := _queued(reading, HomeReading, actor):
            monitoring_out.queue_reading(reading=found[0], actor=found[1])
