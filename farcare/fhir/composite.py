"""One resource type served from several domain models: ServiceRequest is a consultation or a
diagnostic order, Observation a vital sign or a laboratory value. The composite handler holds
one part per model and hands each object to the part that maps it; search runs over every part
and merges the pages (views.search_bundle), so a client sees one type, as FHIR defines it.

Every part is an ordinary `Handler` with its own model, scope and search parameters. A search
parameter one part lacks (Observation `based-on` for a laboratory value...) matches nothing of
that part; one no part knows is refused as before."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Model, QuerySet

from farcare.patients.models import Patient

from .auth import Principal
from .registry import Handler, Include, SearchParam


class CompositeHandler(Handler):
    def __init__(self, *parts: Handler) -> None:
        self._parts: list[Handler] = []
        for part in parts:
            self.add(part)

    def add(self, part: Handler) -> None:
        self._parts.append(part)
        primary = self._parts[0]
        self.resource_type = primary.resource_type  # type: ignore[misc]
        self.model = primary.model  # type: ignore[misc]
        self.lookup = primary.lookup  # type: ignore[misc]
        self.default_sort = primary.default_sort  # type: ignore[misc]
        # _lastUpdated only when every part tracks changes (else it would miss some).
        fields = {p.updated_field for p in self._parts}
        self.updated_field = "" if "" in fields else primary.updated_field  # type: ignore[misc]
        self.interactions = frozenset().union(  # type: ignore[misc]
            *(p.interactions for p in self._parts)
        )
        params: dict[str, SearchParam] = {}
        includes: dict[str, Include] = {}
        for each in self._parts:
            for name, param in each.search_params.items():
                params.setdefault(name, param)
            for include in each.includes:
                includes.setdefault(include.param, include)
        self.search_params = params  # type: ignore[misc]
        self.includes = tuple(includes.values())  # type: ignore[misc]

    @property
    def parts(self) -> tuple[Handler, ...]:
        return tuple(self._parts)

    def concrete(self, obj: Any) -> Handler:
        # The later parts' models first: the first part may map objects that are not rows
        # of its model (the NEWS2 total of a consultation).
        for part in self._parts[1:]:
            if isinstance(obj, part.model):
                return part
        return self._parts[0]

    # --- dispatch to the part that maps the object -------------------------------------------

    def all_objects(self) -> QuerySet[Any]:
        return self._parts[0].all_objects()

    def queryset(self, principal: Principal) -> QuerySet[Any]:
        return self._parts[0].queryset(principal)

    def find(self, logical_id: str) -> Any:
        for part in self._parts:
            found = part.find(logical_id)
            if found is not None:
                return found
        return None

    def logical_id(self, obj: Any) -> str:
        return self.concrete(obj).logical_id(obj)

    def to_fhir(self, obj: Any) -> dict[str, Any]:
        return self.concrete(obj).to_fhir(obj)

    def patient_of(self, obj: Any) -> Patient | None:
        return self.concrete(obj).patient_of(obj)

    def consumed(self, resource: dict[str, Any]) -> dict[str, Any]:
        return self._claimant(resource).consumed(resource)

    def visible(self, principal: Principal, obj: Any) -> bool:
        return self.concrete(obj).visible(principal, obj)

    def refresh(self, obj: Any) -> Any:
        return self.concrete(obj).refresh(obj)

    def claims(self, resource: dict[str, Any]) -> bool:
        return any(part.claims(resource) for part in self._parts)

    def _claimant(self, resource: dict[str, Any]) -> Handler:
        return next((part for part in self._parts if part.claims(resource)), self._parts[0])

    def create(self, principal: Principal, resource: dict[str, Any]) -> Any:
        return self._claimant(resource).create(principal, resource)

    def creates_at_once(self, resource: dict[str, Any]) -> Handler | None:
        # A run is of one part: vital signs and laboratory values are different rows.
        return self._claimant(resource).creates_at_once(resource)

    def update(self, principal: Principal, obj: Any, resource: dict[str, Any]) -> Any:
        return self.concrete(obj).update(principal, obj, resource)

    def delete(self, principal: Principal, obj: Any) -> None:
        self.concrete(obj).delete(principal, obj)

    def versioned_objects(self, instance: Model) -> Iterable[Any]:
        found: list[Any] = []
        for part in self._parts:
            found += list(part.versioned_objects(instance))
        return found
