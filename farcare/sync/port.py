"""The sync app's side of the domain's ports (farcare.core.ports). `StationReplication`: every
write made at a station also waits in its outbox, in the write's own transaction; at the hub (no
`StationConfig`) each call finds it is not a station and does nothing. `StationSidePages`: what
a case page shows of the hub's answers at a station, and the patient page the conflicts of an
edit made at both ends."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model

from farcare.accounts.models import User
from farcare.consults.models import Consultation, Message
from farcare.patients.models import Consent, Patient

from . import outbox, selectors

M = TypeVar("M", bound=Model)


def _queued(obj: Model, kind: type[M], actor: User | None) -> tuple[M, User] | None:
    """The write and its author when this is a station, else None. A write the outbox cannot
    carry is an error here, never a silent skip: it would be lost to the hub."""
    if not outbox.is_station():
        return None
    if not isinstance(obj, kind) or actor is None:
        raise TypeError(f"a station queues a {kind.__name__} with its author, not {obj!r}")
    return obj, actor


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
