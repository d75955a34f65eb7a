"""Ports: what the domain tells the layers that deliver it, without knowing them.

A write at a remote post's station must also wait in its outbox for the hub, in the same
transaction as the write, or something typed offline could be lost. The domain (patients,
consults) announces its writes to the `Replication` port; the sync app installs the station's
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


_replication: Replication = NoReplication()


def replication() -> Replication:
    return _replication


def install_replication(port: Replication) -> None:
    """Called once at start-up by the app that delivers writes elsewhere."""
    global _replication
    _replication = port
