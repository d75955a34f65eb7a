"""The FHIR REST API at /fhir: thin views over the registry of resource handlers. Every
interaction authenticates the bearer token, checks its scopes, asks the access policy for the
patient data involved and writes the audit trail; every error is an OperationOutcome."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.views.decorators.csrf import csrf_exempt

from farcare.access.policy import Action
from farcare.access.services import PatientAccessDenied, authorise
from farcare.audit.models import AuditAction
from farcare.audit.services import audit_record

from . import composite_search, lean, remainder, search
from .auth import Principal, authenticate
from .errors import (
    FHIR_JSON,
    FhirError,
    bad_request,
    business_rule,
    forbidden,
    not_allowed,
    not_found,
    precondition_failed,
    refuse_nul,
)
from .models import ResourceVersion, StoredRemainder
from .registry import Handler, handler_for
from .versioning import ensure_version, latest, pending, snapshot, store_versions

logger = logging.getLogger(__name__)
JSON_TYPES = ("json", "application/json", "application/fhir+json")
XML_TYPES = ("xml", "text/xml", "application/xml", "application/fhir+xml")


def fhir_response(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False, default=str), status=status, content_type=FHIR_JSON
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def negotiate(request: HttpRequest) -> None:
    wanted = request.GET.get("_format", "")
    if wanted and wanted not in JSON_TYPES:
        if wanted in XML_TYPES:
            raise FhirError(
                406, "not-supported", "FarCare speaks FHIR JSON only; XML is not served."
            )
        raise FhirError(406, "not-supported", f"Unknown _format {wanted!r}.")
    accept = request.headers.get("Accept", "")
    if accept and "xml" in accept and not any(kind in accept for kind in ("json", "*/*")):
        raise FhirError(406, "not-supported", "FarCare speaks FHIR JSON only; XML is not served.")


def fhir_endpoint(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            # A NUL byte anywhere in the query or the path is refused before it reaches a query
            # or the audit trail (PostgreSQL cannot store it); bodies are checked in _body.
            refuse_nul(_texts(_params(request.GET)), "The query")
            refuse_nul([str(part) for part in (*args, *kwargs.values())], "The URL")
            negotiate(request)
            # Messages in the language the client asks for; English for a client that does not.
            if "Accept-Language" in request.headers:
                return view(request, *args, **kwargs)
            with translation.override("en"):
                return view(request, *args, **kwargs)
        except FhirError as error:
            return error.response()
        except PermissionDenied as error:
            return forbidden(str(error) or "Access refused.").response()
        except ValidationError as error:
            return business_rule(" ".join(error.messages)).response()
        except Exception:  # the client gets an OperationOutcome, the log gets the trace
            logger.exception("FHIR request failed: %s %s", request.method, request.path)
            return FhirError(500, "exception", "Internal error; nothing was changed.").response()

    return wrapper


def base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/fhir").rstrip("/")


def _handler(resource_type: str, interaction: str = "") -> Handler:
    handler = handler_for(resource_type)
    if handler is None:
        raise not_found(f"FarCare does not serve {resource_type} resources.")
    if interaction and interaction not in handler.interactions:
        raise not_allowed(f"{interaction} is not supported for {resource_type}.")
    return handler


def _body(request: HttpRequest) -> dict[str, Any]:
    content_type = request.content_type or ""
    if content_type and not any(kind in content_type for kind in ("json",)):
        raise FhirError(415, "not-supported", "Send application/fhir+json.")
    limit = max_body_bytes()
    too_big = FhirError(
        413, "too-costly", f"The request is larger than this server accepts ({limit} bytes)."
    )
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    try:
        raw = request.body
    except RequestDataTooBig as error:
        raise too_big from error
    if len(raw) > limit:
        raise too_big
    try:
        data = json.loads(raw or b"{}")
    except RecursionError as error:  # the parser recurses once per level of nesting
        raise bad_request(f"The body is nested deeper than {MAX_NESTING} levels.") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise bad_request(f"The body is not JSON: {error}") from error
    if not isinstance(data, dict):
        raise bad_request("The body must be a JSON object.")
    if nesting(data) > MAX_NESTING:
        raise bad_request(f"The body is nested deeper than {MAX_NESTING} levels.")
    refuse_nul(strings_in(data), "The body")
    return data


# FHIR resources are a few levels deep (an extension of an extension inside a contained resource
# is about 15); anything deeper is an attack on the parser and the validator, not a record.
MAX_NESTING = 64


def max_body_bytes() -> int:
    """FARCARE_FHIR_MAX_BODY_BYTES, else Django's own request limit (which the pages share):
    resources carry files inline (DocumentReference, Communication)."""
    configured = getattr(settings, "FARCARE_FHIR_MAX_BODY_BYTES", None)
    return int(configured or settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2**31)


def nesting(value: Any) -> int:
    """The deepest nesting of objects and arrays in parsed JSON, walked without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_NESTING:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def strings_in(value: Any) -> Iterator[str]:
    """Every key and string value of parsed JSON (`"\\u0000"` parses to a NUL), walked without
    recursion like nesting()."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            yield from (key for key in item if isinstance(key, str))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _texts(params: list[tuple[str, str]]) -> list[str]:
    return [text for pair in params for text in pair]


def _find(handler: Handler, logical_id: str) -> Any:
    try:
        obj = handler.find(logical_id)
    except (ValueError, ValidationError):
        obj = None
    if obj is None:
        gone = latest(handler.resource_type, logical_id)
        if gone is not None and gone.deleted:
            raise FhirError(410, "deleted", f"{handler.resource_type}/{logical_id} was deleted.")
        raise not_found(f"{handler.resource_type}/{logical_id} is not known.")
    return obj


def check_access(principal: Principal, handler: Handler, obj: Any, audit_action: str) -> None:
    """The access policy for the patient behind a resource (audited), then the handler's scope."""
    patient = handler.patient_of(obj)
    if patient is not None:
        authorise(
            accessor=principal.accessor,
            patient=patient,
            action=Action.VIEW,
            audit_action=audit_action,
            record=obj,
        )
    if not handler.visible(principal, obj):
        if handler.concrete(obj).hidden(principal, obj):
            raise not_found(f"{handler.resource_type}/{handler.logical_id(obj)} is not known.")
        raise forbidden(
            f"{handler.resource_type}/{handler.logical_id(obj)} is outside your access."
        )


def _etag(version: ResourceVersion) -> dict[str, str]:
    return {
        "ETag": f'W/"{version.version_id}"',
        "Last-Modified": version.last_updated.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }


def read_resource(principal: Principal, handler: Handler, logical_id: str) -> ResourceVersion:
    stored = lean.read(principal, handler, logical_id)
    if stored is not None:
        return stored
    return read_rendered(principal, handler, logical_id)


def read_rendered(principal: Principal, handler: Handler, logical_id: str) -> ResourceVersion:
    """The full path of a read: the record found, the access policy asked (and audited), the
    resource rendered and, when it changed, stored as a new version."""
    obj = _find(handler, logical_id)
    check_access(principal, handler, obj, AuditAction.VIEW)
    return snapshot(handler, obj)


# --- endpoints ----------------------------------------------------------------------------


@fhir_endpoint
def type_level(request: HttpRequest, resource_type: str) -> HttpResponse:
    handler = _handler(
        resource_type, {"GET": "search-type", "POST": "create"}.get(request.method or "", "")
    )
    principal = authenticate(request)
    if request.method == "GET":
        principal.require(resource_type, "search")
        return search_response(request, principal, handler, _params(request.GET))
    if request.method == "POST":
        principal.require(resource_type, "create")
        return create_response(request, principal, handler, _body(request))
    raise not_allowed(f"{request.method} is not allowed on {resource_type}.")


@fhir_endpoint
def type_search(request: HttpRequest, resource_type: str) -> HttpResponse:
    if request.method != "POST":
        raise not_allowed("Use POST for _search.")
    handler = _handler(resource_type, "search-type")
    principal = authenticate(request)
    principal.require(resource_type, "search")
    params = _params(request.GET) + _params(request.POST)
    return search_response(request, principal, handler, params)


@fhir_endpoint
def instance(request: HttpRequest, resource_type: str, logical_id: str) -> HttpResponse:
    interaction = {"GET": "read", "PUT": "update", "DELETE": "delete"}.get(request.method or "", "")
    handler = _handler(resource_type, interaction)
    principal = authenticate(request)
    if request.method == "GET":
        principal.require(resource_type, "read")
        version = read_resource(principal, handler, logical_id)
        return fhir_response(version.content, headers=_etag(version))
    if request.method == "PUT":
        principal.require(resource_type, "update")
        return update_response(request, principal, handler, logical_id, _body(request))
    if request.method == "DELETE":
        principal.require(resource_type, "delete")
        version = delete_resource(principal, handler, logical_id)
        return HttpResponse(status=204, headers={"ETag": f'W/"{version.version_id}"'})
    raise not_allowed(f"{request.method} is not allowed on {resource_type}/{logical_id}.")


@fhir_endpoint
def history(request: HttpRequest, resource_type: str, logical_id: str) -> HttpResponse:
    handler = _handler(resource_type, "history-instance")
    principal = authenticate(request)
    principal.require(resource_type, "history")
    read_resource(principal, handler, logical_id)  # access check, audit, and a fresh version
    versions = ResourceVersion.objects.filter(
        resource_type=resource_type, logical_id=logical_id
    ).order_by("-version_id")
    base = base_url(request)
    entries = [
        {
            "fullUrl": f"{base}/{resource_type}/{logical_id}",
            "resource": version.content,
            "request": {
                "method": "DELETE"
                if version.deleted
                else ("POST" if version.version_id == 1 else "PUT"),
                "url": f"{resource_type}/{logical_id}",
            },
            "response": {"status": "200", "lastModified": version.content["meta"]["lastUpdated"]},
        }
        for version in versions
    ]
    return fhir_response(
        {"resourceType": "Bundle", "type": "history", "total": len(entries), "entry": entries}
    )


@fhir_endpoint
def vread(
    request: HttpRequest, resource_type: str, logical_id: str, version_id: str
) -> HttpResponse:
    handler = _handler(resource_type, "vread")
    principal = authenticate(request)
    principal.require(resource_type, "vread")
    read_resource(principal, handler, logical_id)
    version = ResourceVersion.objects.filter(
        resource_type=resource_type,
        logical_id=logical_id,
        version_id=int(version_id) if version_id.isdigit() else -1,
    ).first()
    if version is None:
        raise not_found(f"{resource_type}/{logical_id} has no version {version_id}.")
    if version.deleted:
        raise FhirError(410, "deleted", f"Version {version_id} records the deletion.")
    return fhir_response(version.content, headers=_etag(version))


# --- search -------------------------------------------------------------------------------


def search_response(
    request: HttpRequest, principal: Principal, handler: Handler, params: list[tuple[str, str]]
) -> HttpResponse:
    return fhir_response(search_bundle(request, principal, handler, params))


def search_bundle(
    request: HttpRequest, principal: Principal, handler: Handler, params: list[tuple[str, str]]
) -> dict[str, Any]:
    # Searches also arrive from a form body (_search) and from a bundle entry's request.url.
    refuse_nul(_texts(params), "The search")
    if handler.hot_search_scope:
        lean.remember_scope(principal.user)  # for the hot path's next searches by this reader
    if len(handler.parts) > 1:
        page = composite_search.page(principal, handler, params)
        queryset: Any = None
    else:
        queryset = search.apply_params(handler, handler.queryset(principal), params)
    summary = dict(params).get("_summary", "")
    base = base_url(request)
    if summary == "count":
        audit_record(
            accessor=principal.accessor,
            action=AuditAction.SEARCH,
            details={"fhir": handler.resource_type, "summary": "count", "params": _audited(params)},
        )
        counted = page.count() if queryset is None else queryset.count()
        return {"resourceType": "Bundle", "type": "searchset", "total": counted}
    count = search.count_of(params)
    # Counting every match costs a scan on a large search; `_total=none` spares it.
    wants_total = dict(params).get("_total") != "none"
    cursor = dict(params).get("_cursor", "")
    if queryset is None:
        total = page.count() if wants_total else None
        rows, more, next_cursor = page.rows(count, cursor)
    else:
        sort = search.parse_sort(handler, dict(params).get("_sort", ""))
        page_query = queryset.order_by(*sort.order)
        if cursor:
            page_query = search.after_cursor(page_query, sort, cursor)
        rows = list(page_query[: count + 1])
        more = len(rows) > count
        rows = rows[:count]
        next_cursor = search.cursor_of(rows[-1], sort) if more and rows else ""
        if not wants_total:
            total = None
        elif not cursor and not more:
            total = len(rows)  # the first page holds every match: nothing left to count
        else:
            total = queryset.count()
    entries = []
    patients = []
    # Every row's latest stored version in one query; a type that allows it shows it as
    # stored (lean.py), any other row is rendered (and a changed rendering stored).
    stored = lean.page_versions(handler, rows)
    waiting = pending()
    for obj in rows:
        part = handler.concrete(obj)
        current = stored.get((part.resource_type, handler.logical_id(obj)))
        version = current if lean.servable(part, obj, current, waiting) else None
        if version is None:
            version = snapshot(handler, obj, current=current)
        entries.append(
            {
                "fullUrl": f"{base}/{handler.resource_type}/{handler.logical_id(obj)}",
                "resource": version.content,
                "search": {"mode": "match"},
            }
        )
        if version.patient_uuid is not None:
            patients.append(str(version.patient_uuid))
    included = []
    for part in handler.parts:
        mine = [row for row in rows if handler.concrete(row) is part]
        included += _includes(request, principal, part, mine, params, composite=handler)
    entries += [entry for entry, _patient in included]
    patients += [patient for _entry, patient in included if patient is not None]
    # Every patient the bundle shows is linked to the record: it is on their "who looked at my
    # record" (the search itself is a disclosure, 323-FZ art. 13).
    audit_record(
        accessor=principal.accessor,
        action=AuditAction.SEARCH,
        details={"fhir": handler.resource_type, "params": _audited(params)},
        patients=patients,
    )
    self_params = [(k, v) for k, v in params if k != "_cursor"]
    links = [{"relation": "self", "url": _url(base, handler.resource_type, params)}]
    if more and rows:
        following = [*self_params, ("_cursor", next_cursor)]
        links.append({"relation": "next", "url": _url(base, handler.resource_type, following)})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        bundle["total"] = total
    bundle["link"] = links
    bundle["entry"] = entries
    return bundle


def _audited(params: list[tuple[str, str]]) -> list[list[str]]:
    """What was asked, as the audit trail keeps it (bounded: a query is not a document)."""
    return [[key[:100], value[:200]] for key, value in params if key != "_cursor"][:50]


def _params(query: Any) -> list[tuple[str, str]]:
    """Every value of every parameter, repeated parameters kept (they AND together)."""
    return [(key, value) for key in query for value in query.getlist(key)]


def _url(base: str, resource_type: str, params: list[tuple[str, str]]) -> str:
    query = urlencode(params)
    return f"{base}/{resource_type}" + (f"?{query}" if query else "")


def _includes(
    request: HttpRequest,
    principal: Principal,
    handler: Handler,
    rows: list[Any],
    params: list[tuple[str, str]],
    composite: Handler | None = None,
) -> list[tuple[dict[str, Any], str | None]]:
    """The included entries, each with the UUID of the patient it is about (if any). `handler`
    is the part of a `composite` type whose `rows` these are."""
    base = base_url(request)
    seen: set[tuple[str, str]] = set()
    found: list[tuple[dict[str, Any], str | None]] = []

    def add(target: Handler, obj: Any) -> None:
        key = (target.resource_type, target.logical_id(obj))
        if key in seen or not target.visible(principal, obj):
            return
        seen.add(key)
        entry = {
            "fullUrl": f"{base}/{key[0]}/{key[1]}",
            "resource": snapshot(target, obj).content,
            "search": {"mode": "include"},
        }
        patient = target.patient_of(obj)
        found.append((entry, str(patient.uuid) if patient is not None else None))

    for key, value in params:
        if key not in ("_include", "_revinclude"):
            continue
        source_type, _colon, param = value.partition(":")
        if key == "_include":
            if source_type != handler.resource_type:
                continue
            include = next((i for i in handler.includes if i.param == param.split(":")[0]), None)
            if include is None:
                known = composite.includes if composite is not None else ()
                if any(i.param == param.split(":")[0] for i in known):
                    continue  # another part of the type has it: these rows have nothing there
                raise bad_request(f"_include={value} is not supported")
            target = _handler(include.target)
            for obj in rows:
                for related in _many(_walk(obj, include.attribute)):
                    add(target, related)
        else:
            kind = _handler(source_type)
            sources = [
                (part, i)
                for part in kind.parts
                for i in part.includes
                if i.param == param and i.target == handler.resource_type
            ]
            if not sources:
                raise bad_request(f"_revinclude={value} is not supported")
            for source, include in sources:
                if include.attribute:
                    if not _points_at(source.model, include.attribute, rows):
                        continue  # it refers to objects of another part of the type
                    path = include.attribute.replace(".", "__")
                    condition: dict[str, Any] = {f"{path}__in": rows}
                else:  # the same objects under another type
                    condition = {"pk__in": [row.pk for row in rows]}
                for obj in source.queryset(principal).filter(**condition)[:1000]:
                    add(kind, obj)
    return found


def _points_at(model: Any, attribute: str, rows: list[Any]) -> bool:
    """Whether `attribute` of `model` refers to objects like `rows`."""
    if not rows:
        return False
    current = model
    for name in attribute.split("."):
        current = getattr(current._meta.get_field(name), "related_model", None)
        if current is None:
            return True
    return isinstance(rows[0], current)


def _many(related: Any) -> list[Any]:
    """What an include's attribute holds: one object, none, or many (a related manager)."""
    if related is None:
        return []
    if callable(getattr(related, "all", None)):
        return list(related.all())
    return [related]


def _walk(obj: Any, attribute: str) -> Any:
    if not attribute:  # the same object under another type (Task:focus → its ServiceRequest)
        return obj
    for part in attribute.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


# --- writes -------------------------------------------------------------------------------


def create_response(
    request: HttpRequest, principal: Principal, handler: Handler, resource: dict[str, Any]
) -> HttpResponse:
    condition = request.headers.get("If-None-Exist", "")
    status, version = create_resource(principal, handler, resource, condition)
    base = base_url(request)
    location = f"{base}/{handler.resource_type}/{version.logical_id}/_history/{version.version_id}"
    return fhir_response(
        version.content, status=status, headers={"Location": location, **_etag(version)}
    )


@contextmanager
def refusals_kept(principal: Principal) -> Iterator[None]:
    """A change runs in one transaction; when the policy refuses it, the refusal's audit record
    was written inside that transaction and rolled back with it, so it is written again here,
    after the rollback."""
    try:
        yield
    except PatientAccessDenied as denied:
        audit_record(
            accessor=principal.accessor,
            action=AuditAction.DENIED,
            patient_uuid=denied.patient.uuid,
            record=denied.patient,
            outcome="denied",
            details={"fhir": "write"},
        )
        raise


def create_resource(
    principal: Principal, handler: Handler, resource: dict[str, Any], condition: str = ""
) -> tuple[int, ResourceVersion]:
    """201 and the new version, or 200 and the existing match of a conditional create."""
    if resource.get("resourceType") != handler.resource_type:
        raise bad_request(f"The body must be a {handler.resource_type}.", [handler.resource_type])
    if condition:
        from urllib.parse import parse_qsl

        params = parse_qsl(condition, keep_blank_values=True)
        claimant = next((p for p in handler.parts if p.claims(resource)), handler.parts[0])
        matches = list(search.apply_params(claimant, claimant.all_objects(), params)[:2])
        if len(matches) > 1:
            raise precondition_failed("If-None-Exist matches more than one resource.")
        if matches:
            existing = matches[0]
            check_access(principal, handler, existing, AuditAction.VIEW)
            return 200, snapshot(handler, existing)
    at_once = handler.creates_at_once(resource)
    if at_once is not None:
        with refusals_kept(principal), transaction.atomic():
            (version,) = create_new(principal, at_once, [resource])
        return 201, version
    started = timezone.now()
    with refusals_kept(principal), transaction.atomic():
        obj = handler.create(principal, resource)
        version, _current = _stored_after_write(
            handler, obj, resource, loaded=handler.concrete(obj).create_answers_stored
        )
    # A create that found what it was asked to make (an idempotent resubmission) is a 200.
    existed = _current is not None and (_current.last_updated < started or _current.version_id > 1)
    return (200 if existed else 201), version


def create_new(
    principal: Principal, handler: Handler, resources: list[dict[str, Any]]
) -> list[ResourceVersion]:
    """New resources of a type that `creates_many` (`handler`: the part that creates them, when
    the type is a composite), in a constant number of statements: the handler registers them
    at once; they are read back as stored (one query for all, unless the handler's objects are
    `created_as_stored`), each rendered once with what its client sent beyond the record
    (remainder.py), and stored as its first version (one INSERT for all). A new resource has
    no version and no remainder yet: nothing is looked up or deleted. Raises at the first
    refusal."""
    made = handler.create_many(principal, resources)
    rendered_at = timezone.now()
    if handler.created_as_stored:
        stored = {obj.pk: obj for obj in made}
    else:
        stored = {o.pk: o for o in handler.all_objects().filter(pk__in=[o.pk for o in made])}
    contents, kept_rows = [], []
    for resource, obj in zip(resources, made, strict=True):
        fresh = stored[obj.pk]
        part = handler.concrete(fresh)
        served, kept, content = _with_remainder(part, fresh, resource)
        if kept:
            kept_rows.append(
                StoredRemainder(
                    resource_type=handler.resource_type,
                    logical_id=part.logical_id(fresh),
                    content=kept,
                    basis=remainder.basis(served),
                )
            )
        contents.append((fresh, content))
    if kept_rows:
        StoredRemainder.objects.bulk_create(kept_rows)
    return store_versions(handler, contents, rendered_at=rendered_at)


def _stored_after_write(
    handler: Handler, obj: Any, resource: dict[str, Any], *, loaded: bool = False
) -> tuple[ResourceVersion, ResourceVersion | None]:
    """After a create or an update: the remainder kept, and the resource as it now renders
    stored as its current version (rendered once, from the record as stored); also the version
    that was current before. `loaded`: `obj` is already as stored (`create_answers_stored`)."""
    part = handler.concrete(obj)
    fresh = obj if loaded else (part.refresh(obj) or obj)
    rendered_at = timezone.now()
    content = remember(part, fresh, resource)
    current = latest(handler.resource_type, handler.logical_id(fresh))
    version = snapshot(handler, fresh, current=current, content=content, rendered_at=rendered_at)
    return version, current


def keep_remainder(handler: Handler, obj: Any, resource: dict[str, Any]) -> None:
    """Keep what the client sent beyond what the record holds (remainder.py); a write replaces
    what an earlier one kept. Raises 422 for an element the record owns and cannot honour."""
    remember(handler, handler.refresh(obj) or obj, resource)


def remember(handler: Handler, fresh: Any, resource: dict[str, Any]) -> dict[str, Any]:
    """keep_remainder for an object just read from the database; the resource as it now
    renders (the record's rendering with the remainder merged, as remainder.rendered makes it)."""
    served, kept, content = _with_remainder(handler, fresh, resource)
    remainder.store(handler.resource_type, handler.logical_id(fresh), kept, served)
    return content


def _with_remainder(
    handler: Handler, fresh: Any, resource: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The record's rendering, what the client sent beyond it (to keep), and the resource as
    it now renders (the two merged, as remainder.rendered makes it). Raises 422 for an element
    the record owns and cannot honour."""
    served = handler.to_fhir(fresh)
    kept = remainder.compute(
        handler.consumed(resource),
        served,
        refused=handler.refused_elements,
        replaced=handler.replaced_elements,
    )
    return served, kept, (remainder.merge(served, kept) if kept else served)


def update_response(
    request: HttpRequest,
    principal: Principal,
    handler: Handler,
    logical_id: str,
    resource: dict[str, Any],
) -> HttpResponse:
    version = update_resource(
        principal, handler, logical_id, resource, request.headers.get("If-Match", "")
    )
    return fhir_response(version.content, status=200, headers=_etag(version))


def update_resource(
    principal: Principal,
    handler: Handler,
    logical_id: str,
    resource: dict[str, Any],
    expected: str = "",
) -> ResourceVersion:
    """The new version after an update; `expected` is the If-Match ETag, if any."""
    if resource.get("id") and resource["id"] != logical_id:
        raise bad_request(
            "The resource's id differs from the URL.", [f"{handler.resource_type}.id"]
        )
    obj = _find(handler, logical_id)
    check_access(principal, handler, obj, AuditAction.VIEW)
    current = snapshot(handler, obj)
    if expected:
        wanted = expected.replace("W/", "").strip('"')
        if wanted != str(current.version_id):
            raise precondition_failed(
                f"{handler.resource_type}/{logical_id} is at version {current.version_id}, "
                f"not {wanted}: read it again before changing it."
            )
    with refusals_kept(principal), transaction.atomic():
        changed = handler.update(principal, obj, resource)
        version, _before = _stored_after_write(handler, changed, resource)
    return version


def delete_resource(principal: Principal, handler: Handler, logical_id: str) -> ResourceVersion:
    """Delete through the handler and record the deletion as the resource's last version."""
    obj = _find(handler, logical_id)
    check_access(principal, handler, obj, AuditAction.VIEW)
    with refusals_kept(principal), transaction.atomic():
        handler.delete(principal, obj)
        version = ensure_version(
            handler.resource_type, logical_id, remainder.rendered(handler, obj), deleted=True
        )
    return version
