"""The resources the FHIR API serves. Each is a `Handler` that maps one domain model to a FHIR
resource and back; the domain stays the single source of truth and writes go through the same
services the pages use."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from django.db.models import Model, QuerySet

from farcare.patients.models import Patient

from .auth import Principal
from .errors import not_allowed


@dataclass(frozen=True)
class SearchParam:
    """One search parameter: its FHIR type and the ORM path it filters on."""

    type: str  # token, string, date, reference, number, uri
    path: str = ""
    # token: the identifier system when the path holds a bare value; or a function mapping a
    # (system, code) pair to a Q object for tokens spanning several columns.
    system: str = ""
    to_q: Callable[[str, str, str], Any] | None = None  # (modifier, system, value) -> Q
    target: str = ""  # reference: the resource type referred to
    sortable: bool = False


@dataclass(frozen=True)
class Include:
    """`Type:param` for _include/_revinclude: the attribute holding the referenced object."""

    param: str
    target: str
    attribute: str


class Handler:
    resource_type: ClassVar[str]
    model: ClassVar[type[Model]]
    lookup: ClassVar[str] = "uuid"
    updated_field: ClassVar[str] = ""
    interactions: ClassVar[frozenset[str]] = frozenset(
        {"read", "vread", "history-instance", "search-type"}
    )
    search_params: ClassVar[dict[str, SearchParam]] = {}
    includes: ClassVar[tuple[Include, ...]] = ()
    default_sort: ClassVar[str] = "pk"
    # What a write keeps beyond the record (remainder.py): elements whose sent value must not
    # differ from the record's (else 422), and elements whose sent value replaces the stand-in
    # the handler derives.
    refused_elements: ClassVar[frozenset[str]] = frozenset()
    replaced_elements: ClassVar[frozenset[str]] = frozenset()
    # The lean read (lean.py): whether a read may serve the stored current version without
    # rendering, the access policy asked in the same query. Only for a type whose scope is
    # exactly "its patient is visible to the user" (no narrower `visible`, no `hidden`), whose
    # `find` is a plain lookup of `lookup`, whose rendering changes only when it is versioned
    # (`versioned_objects`) or when a row of `render_depends_on` changes, and whose rendering
    # does not depend on the time it is made.
    lean_read: ClassVar[bool] = False
    # The models a rendering reads beyond the rows `versioned_objects` follows (a Patient shows
    # its facility's name): a change of one moves the render epoch (versioning.py).
    render_depends_on: ClassVar[tuple[type[Model], ...]] = ()
    # The field by which a row's patient is in the policy's scope (`visible_patients`), when a
    # search of this type is nothing but its parameters within that scope: the hot path may
    # then answer its searches (fhir/hot/searches.py). "pk" for Patient itself.
    hot_search_scope: ClassVar[str] = ""

    def consumed(self, resource: dict[str, Any]) -> dict[str, Any]:
        """The submitted resource without what the write consumed into the record in another
        shape (a file's bytes become a Binary): that is not kept twice."""
        return resource

    def queryset(self, principal: Principal) -> QuerySet[Any]:
        """Everything of this type the principal may see (the access policy's scope)."""
        raise NotImplementedError

    def all_objects(self) -> QuerySet[Any]:
        return self.model._default_manager.all()

    def find(self, logical_id: str) -> Any:
        """The object behind `Type/logical_id`, or None."""
        return self.all_objects().filter(**{self.lookup: logical_id}).first()

    def logical_id(self, obj: Any) -> str:
        return str(getattr(obj, self.lookup))

    def to_fhir(self, obj: Any) -> dict[str, Any]:
        raise NotImplementedError

    def patient_of(self, obj: Any) -> Patient | None:
        return None

    def create(self, principal: Principal, resource: dict[str, Any]) -> Any:
        raise not_allowed(f"{self.resource_type} cannot be created through this API.")

    def update(self, principal: Principal, obj: Any, resource: dict[str, Any]) -> Any:
        raise not_allowed(f"{self.resource_type} cannot be updated through this API.")

    def delete(self, principal: Principal, obj: Any) -> None:
        raise not_allowed(f"{self.resource_type} cannot be deleted: the record must be kept.")

    def versioned_objects(self, instance: Model) -> Iterable[Any]:
        """The objects of this type whose resource changes when `instance` is saved."""
        if isinstance(instance, self.model):
            return [instance]
        return []

    # --- one resource type served from several models (composite.py) ---------------------

    @property
    def parts(self) -> tuple[Handler, ...]:
        """The handlers a search of this type runs over: itself, or a composite's parts."""
        return (self,)

    def concrete(self, obj: Any) -> Handler:
        """The handler that maps `obj` (a composite's part; else this one)."""
        return self

    def visible(self, principal: Principal, obj: Any) -> bool:
        """Whether `obj` is within the principal's scope for this type."""
        return bool(self.queryset(principal).filter(pk=obj.pk).exists())

    def hidden(self, principal: Principal, obj: Any) -> bool:
        """Whether an `obj` outside the principal's scope is answered as not found (404)
        rather than refused (403): a patient's value not yet released."""
        return False

    def refresh(self, obj: Any) -> Any:
        """`obj` as stored now, or None when it is gone."""
        return self.all_objects().filter(pk=obj.pk).first()

    def claims(self, resource: dict[str, Any]) -> bool:
        """Whether a created resource is this part's (a composite asks its parts in turn)."""
        return False

    # --- a transaction's entries created as parts of another (bundles.py) ------------------

    def gather(
        self, resource: dict[str, Any], bundled: dict[str, dict[str, Any]]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """`resource` with the POST entries of its transaction that it is created with (by
        fullUrl in `bundled`) folded in, and the local id each of those became. A
        DiagnosticReport takes its Observations so; other types take none."""
        return resource, {}

    def gathered(self, logical_id: str, local_ids: list[str]) -> dict[str, tuple[Handler, Any]]:
        """After the create of `logical_id`: the (handler, object) each local id became."""
        return {}

    # --- a transaction's creates of this type, many at once (bundles.py) -------------------
    #
    # A type that can create many resources in a constant number of statements sets
    # `creates_many` and implements `create_many`; the transaction hands it runs of its POST
    # entries and does the rest (remainders, versions, responses) for all of them at once. An
    # `ifNoneExist` the type can resolve for many entries in one query has a key
    # (`condition_key`); entries whose condition has none are created one by one.

    creates_many: ClassVar[bool] = False
    # Whether the objects `create_many` answers render as they would read back from the
    # database: every field the rendering shows is what was written, every row it reads beyond
    # (a patient's facility) is loaded. Then they are not read again before their first version.
    created_as_stored: ClassVar[bool] = False
    # Whether `create` answers an object it has just loaded as `refresh` loads it, having written
    # nothing to it since (a Task: every request has its own, and posting one gives it back).
    # Then it is not read a second time before its version is stored.
    create_answers_stored: ClassVar[bool] = False

    def creates_at_once(self, resource: dict[str, Any]) -> Handler | None:
        """The handler whose `create_many` creates `resource` (a composite's part that claims
        it), or None when it is created one by one (`create`)."""
        return self if self.creates_many else None

    def create_many(self, principal: Principal, resources: list[dict[str, Any]]) -> list[Any]:
        """Create each of `resources` as `create` would, one after another, and answer the
        objects in order. Raises at the first refused, as `create` would for it (the caller
        rolls back and retries one by one, so it need not say which)."""
        raise not_allowed(f"{self.resource_type} cannot be created many at once.")

    def condition_key(self, params: list[tuple[str, str]]) -> str | None:
        """A key naming what the `ifNoneExist` `params` match, when `find_many` can resolve it
        exactly as the search would; None otherwise."""
        return None

    def condition_keys(self, resource: dict[str, Any]) -> set[str]:
        """The keys of the conditions `resource`, once created, would match (an entry after it
        in the transaction asking one of them must see it created)."""
        return set()

    def find_many(self, keys: set[str]) -> dict[str, list[Any]]:
        """The objects each key matches (as `all_objects` loads them), in one query."""
        return {}


REGISTRY: dict[str, Handler] = {}


def register(handler_class: type[Handler]) -> type[Handler]:
    REGISTRY[handler_class.resource_type] = handler_class()
    return handler_class


def register_part(handler_class: type[Handler]) -> type[Handler]:
    """Register a handler for a resource type another handler already serves (Observation:
    vital signs and laboratory values): the type becomes a composite of both."""
    from .composite import CompositeHandler

    part = handler_class()
    existing = REGISTRY.get(part.resource_type)
    if existing is None:
        REGISTRY[part.resource_type] = part
    elif isinstance(existing, CompositeHandler):
        existing.add(part)
    else:
        REGISTRY[part.resource_type] = CompositeHandler(existing, part)
    return handler_class


def handler_for(resource_type: str) -> Handler | None:
    _load()
    return REGISTRY.get(resource_type)


_LOADED = False


def _load() -> None:
    global _LOADED
    if not _LOADED:
        from . import resources  # noqa: F401  (registers every handler)

        _LOADED = True
