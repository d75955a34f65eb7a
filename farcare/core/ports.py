"""Ports: what the domain tells the layers that deliver it, without knowing them.

A write at a remote post's station must also wait in its outbox for the hub, in the same
transaction as the write, or something typed offline could be lost. The domain (patients,
consults, diagnostics) announces its writes to the `Replication` port, and its pages ask
`StationPages` what the hub last said about a case; the sync app installs the station's
implementation in its `AppConfig.ready()`; everywhere else (the hub, tests of the domain alone)
the default does nothing. So the domain never imports the sync app, and the dependency contracts
in pyproject.toml hold it to that."""

from __future__ import annotations

from typing import Any, Protocol

from django.db.models import Model

from farcare.accounts.models import User


class Replication(Protocol):
    """Called inside the write's transaction, after the write and its audit record."""

    def is_station(self) -> bool:
        """Whether this installation is a station: requests then wait for the hub to route
        them and start their clock (domain.md §2), instead of being routed here."""
        ...

    def patient_created(self, *, patient: Model, actor: User | None) -> None: ...

    def patient_changed(
        self, *, patient: Model, actor: User | None, before: dict[str, Any], changed: list[str]
    ) -> None:
        """`before`: the patient's editable fields as they were (`patients.records`), so that
        the hub can merge an edit made at both ends field by field."""
        ...

    def consent_recorded(self, *, consent: Model, actor: User | None) -> None: ...

    def request_submitted(self, *, consultation: Model, actor: User | None) -> None: ...

    def message_posted(self, *, message: Model, actor: User | None) -> None: ...

    # Diagnostics (issue 13): orders placed offline at a post, what was done to their specimens
    # there, and a critical result acknowledged there, cross to the hub as requests do.

    def number_series(self, series: str) -> str:
        """The series of document numbers this installation gives (e.g. an order's placer
        number): the hub's as it is; a station's marked as its own, so that a number given
        offline never collides with one the hub gives."""
        ...

    def order_placed(self, *, order: Model, actor: User | None) -> None: ...

    def order_cancelled(self, *, order: Model, actor: User | None, reason: str) -> None: ...

    def specimen_changed(self, *, specimen: Model, actor: User | None, event: str) -> None:
        """`event`: "collect" or "ship" (what a post does to a tube)."""
        ...

    def alert_acknowledged(self, *, alert: Model, actor: User | None) -> None: ...

    def report_reviewed(self, *, report: Model, actor: User | None) -> None: ...

    # Remote monitoring (issue 17): a home reading entered at a station's post crosses to the
    # hub, where the patient's plan is evaluated and the responsible clinicians alerted.

    def reading_recorded(self, *, reading: Model, actor: User | None) -> None:
        """Called once per new `HomeReading` (never for a duplicate a retry found)."""
        ...


class NoReplication:
    """The hub's: its writes are where they belong already."""

    def is_station(self) -> bool:
        return False

    def patient_created(self, *, patient: Model, actor: User | None) -> None:
        pass

    def patient_changed(
        self, *, patient: Model, actor: User | None, before: dict[str, Any], changed: list[str]
    ) -> None:
        pass

    def consent_recorded(self, *, consent: Model, actor: User | None) -> None:
        pass

    def request_submitted(self, *, consultation: Model, actor: User | None) -> None:
        pass

    def message_posted(self, *, message: Model, actor: User | None) -> None:
        pass

    def number_series(self, series: str) -> str:
        return series

    def order_placed(self, *, order: Model, actor: User | None) -> None:
        pass

    def order_cancelled(self, *, order: Model, actor: User | None, reason: str) -> None:
        pass

    def specimen_changed(self, *, specimen: Model, actor: User | None, event: str) -> None:
        pass

    def alert_acknowledged(self, *, alert: Model, actor: User | None) -> None:
        pass

    def report_reviewed(self, *, report: Model, actor: User | None) -> None:
        pass

    def reading_recorded(self, *, reading: Model, actor: User | None) -> None:
        pass


class StationPages(Protocol):
    """What the pages of a case or a patient show of the link between a station and its hub."""

    def case(
        self, consultation: Model, facts: Any, thread: list[Any]
    ) -> tuple[Any, list[Any], dict[str, Any] | None]:
        """At a station: the case's facts and thread as the hub last told them, merged with
        what the post wrote since, and how far each part of the request has got; elsewhere the
        facts and thread as they are, and None."""
        ...

    def patient_conflicts(self, patient: Model) -> list[Any]:
        """Fields of the patient edited at a station and here at once, not yet settled."""
        ...


class NoStationPages:
    def case(
        self, consultation: Model, facts: Any, thread: list[Any]
    ) -> tuple[Any, list[Any], dict[str, Any] | None]:
        return facts, thread, None

    def patient_conflicts(self, patient: Model) -> list[Any]:
        return []


_replication: Replication = NoReplication()
_station_pages: StationPages = NoStationPages()


def replication() -> Replication:
    return _replication


def install_replication(port: Replication) -> None:
    """Called once at start-up by the app that delivers writes elsewhere."""
    global _replication
    _replication = port


def station_pages() -> StationPages:
    return _station_pages


def install_station_pages(port: StationPages) -> None:
    global _station_pages
    _station_pages = port
