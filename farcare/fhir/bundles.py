"""POST /fhir with a Bundle of type `transaction` or `batch`.

A transaction is all or nothing: its entries run in one database transaction, in the order the
FHIR specification gives (DELETE, POST, PUT/PATCH, GET), POST entries sorted so that an entry
is created after every entry whose `urn:uuid:` fullUrl it refers to, and those references
rewritten to `Type/<id>` as the targets are created. The first failing entry rolls everything
back and its OperationOutcome answers the whole request, its expressions prefixed with
`Bundle.entry[i]`. A batch runs every entry on its own; a failure is that entry's answer only.

Every entry goes through the same functions as the single interactions (views.create_resource,
read_resource, search_bundle, update_resource, delete_resource), so scopes, the access policy,
the audit trail and conditional create (`request.ifNoneExist`) behave exactly as there; except
that consecutive POST entries of a type that can create many at once (Patient) are created as
one run in a constant number of statements, answering exactly what they would one by one (see
"creates of one type, many at once" below). A batch's entries always go one by one. A remote
post that lost its connection resubmits the same transaction; with `ifNoneExist` on the entries
(a Patient's SNILS, a ServiceRequest's client token) the second submission creates nothing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse

from farcare.access.services import PatientAccessDenied
from farcare.audit.models import AuditAction
from farcare.audit.services import audit_record
from farcare.core.contention import busy_message, is_busy, retry_after

from . import views
from .auth import Principal, authenticate
from .errors import (
    FhirError,
    bad_request,
    business_rule,
    forbidden,
    not_allowed,
    not_found,
    precondition_failed,
)
from .models import ResourceVersion
from .registry import Handler
from .versioning import snapshot

logger = logging.getLogger(__name__)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# FHIR R4 §3.1.0.11.2: the order a server processes the entries of a transaction in.
ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3}
URN = re.compile(r"^urn:(uuid|oid):\S+$")
_TYPE = re.compile(r"^[A-Z][A-Za-z]+$")
_ID = re.compile(r"^[A-Za-z0-9\-\.]{1,64}$")


@dataclass
class Entry:
    """One entry of the request bundle, with what processing it produced."""

    index: int
    method: str
    url: str
    resource: dict[str, Any] | None
    full_url: str = ""
    if_none_exist: str = ""
    if_match: str = ""
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"Bundle.entry[{self.index}]"


@dataclass(frozen=True)
class Target:
    """What an entry's request.url names: a type, an instance, a version, or a search."""

    resource_type: str
    logical_id: str = ""
    version_id: str = ""
    params: tuple[tuple[str, str], ...] = ()
    is_search: bool = False
    named_search: bool = False  # Type/_search


class EntryFailed(Exception):
    """Raised inside the transaction to roll it back; carries the failing entry's error."""

    def __init__(self, entry: Entry, error: FhirError) -> None:
        super().__init__(error.diagnostics)
        self.entry = entry
        self.error = error


# --- the endpoint -------------------------------------------------------------------------


@views.fhir_endpoint
def base(request: HttpRequest) -> HttpResponse:
    """POST [base]: a transaction or a batch."""
    if request.method != "POST":
        raise not_allowed("Only a transaction or batch Bundle may be POSTed to the base URL.")
    principal = authenticate(request)
    bundle = views._body(request)
    if bundle.get("resourceType") != "Bundle":
        raise bad_request("POST a Bundle to the base URL.", ["Bundle"])
    kind = bundle.get("type")
    if kind not in ("transaction", "batch"):
        raise bad_request(
            f"A Bundle POSTed to the base must be a transaction or a batch, not {kind!r}.",
            ["Bundle.type"],
        )
    entries = parse_entries(bundle, strict=kind == "transaction")
    minimal = _prefers_minimal(request)
    if kind == "transaction":
        answer = run_transaction(request, principal, entries, minimal=minimal)
    else:
        answer = run_batch(request, principal, entries, minimal=minimal)
    return views.fhir_response(answer)


def _prefers_minimal(request: HttpRequest) -> bool:
    """Created and updated resources are echoed unless the client asks for `return=minimal`:
    over a 64 kbit/s satellite link a post sends that and gets only statuses and locations."""
    return "return=minimal" in request.headers.get("Prefer", "").replace(" ", "")


# --- reading the bundle -------------------------------------------------------------------


def parse_entries(bundle: dict[str, Any], *, strict: bool) -> list[Entry | FhirError]:
    """The entries, or for a malformed one its error. A transaction refuses the whole bundle
    for one malformed entry (`strict`); a batch answers that entry alone."""
    raw_entries = bundle.get("entry") or []
    if not isinstance(raw_entries, list):
        raise bad_request("Bundle.entry must be a list.", ["Bundle.entry"])
    limit = max_entries()
    if len(raw_entries) > limit:
        # One transaction holds the database for all its entries: a huge one would stall every
        # other writer (and on SQLite every other request) for its whole run.
        raise FhirError(
            413,
            "too-costly",
            f"A bundle may have at most {limit} entries; this one has {len(raw_entries)}. "
            "Send it in smaller bundles.",
            expression=["Bundle.entry"],
        )
    parsed: list[Entry | FhirError] = []
    full_urls: set[str] = set()
    for index, raw in enumerate(raw_entries):
        try:
            entry = _parse_entry(index, raw)
        except FhirError as error:
            if strict:
                raise _prefixed(error, index) from None
            parsed.append(error)
            continue
        if entry.full_url:
            if strict and entry.full_url in full_urls:
                raise bad_request(
                    f"fullUrl {entry.full_url} appears in more than one entry.",
                    [f"Bundle.entry[{index}].fullUrl"],
                )
            full_urls.add(entry.full_url)
        parsed.append(entry)
    return parsed


DEFAULT_MAX_ENTRIES = 1000


def max_entries() -> int:
    """FARCARE_FHIR_MAX_BUNDLE_ENTRIES: the most entries a transaction or batch may carry."""
    return int(getattr(settings, "FARCARE_FHIR_MAX_BUNDLE_ENTRIES", None) or DEFAULT_MAX_ENTRIES)


def _parse_entry(index: int, raw: Any) -> Entry:
    if not isinstance(raw, dict):
        raise bad_request("An entry must be an object.", [""])
    request = raw.get("request")
    if not isinstance(request, dict):
        raise bad_request("Every entry needs a request (method and url).", [".request"])
    method = str(request.get("method") or "").upper()
    url = request.get("url")
    if method not in METHODS:
        raise bad_request(f"Unknown request.method {method or '(none)'!r}.", [".request.method"])
    if not isinstance(url, str) or not url.strip():
        raise bad_request("Every entry needs a request.url.", [".request.url"])
    resource = raw.get("resource")
    if method in ("POST", "PUT"):
        if not isinstance(resource, dict):
            raise bad_request(f"A {method} entry needs a resource.", [".resource"])
    elif resource is not None and not isinstance(resource, dict):
        raise bad_request("entry.resource must be an object.", [".resource"])
    full_url = raw.get("fullUrl") or ""
    if not isinstance(full_url, str):
        raise bad_request("fullUrl must be a string.", [".fullUrl"])
    return Entry(
        index=index,
        method=method,
        url=url.strip(),
        resource=resource,
        full_url=full_url,
        if_none_exist=str(request.get("ifNoneExist") or ""),
        if_match=str(request.get("ifMatch") or ""),
    )


def parse_target(request: HttpRequest, url: str) -> Target:
    """request.url: `Patient`, `Patient/<id>`, `Patient/<id>/_history/<v>`, `Patient?...`, or
    the same as an absolute URL under this server's base."""
    base = views.base_url(request)
    if url.startswith(base + "/"):
        url = url[len(base) + 1 :]
    elif "://" in url:
        raise bad_request(f"request.url {url!r} is not on this server.", [".request.url"])
    path, question, query = url.lstrip("/").partition("?")
    params = tuple(parse_qsl(query, keep_blank_values=True))
    parts = [part for part in path.split("/") if part]
    if not parts or not _TYPE.match(parts[0]):
        raise bad_request(f"request.url {url!r} names no resource type.", [".request.url"])
    resource_type = parts[0]
    if len(parts) == 1:
        return Target(resource_type, params=params, is_search=True)
    if len(parts) == 2 and parts[1] == "_search":
        return Target(resource_type, params=params, is_search=True, named_search=True)
    if not _ID.match(parts[1]) or question:
        raise bad_request(f"request.url {url!r} is not supported here.", [".request.url"])
    if len(parts) == 2:
        return Target(resource_type, parts[1])
    if len(parts) == 4 and parts[2] == "_history":
        return Target(resource_type, parts[1], version_id=parts[3])
    raise bad_request(f"request.url {url!r} is not supported in a bundle.", [".request.url"])


# --- references between entries -----------------------------------------------------------


def _strings(value: Any) -> list[tuple[str, str]]:
    """Every (key, string) pair inside a resource, at any depth."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        key, item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.items())
        elif isinstance(item, list):
            stack.extend((key, element) for element in item)
        elif isinstance(item, str):
            found.append((key, item))
    return found


def _rewrite(value: Any, mapping: dict[str, str]) -> Any:
    """A copy of `value` with every string equal to a mapped fullUrl replaced by its target."""
    if isinstance(value, dict):
        return {key: _rewrite(item, mapping) for key, item in value.items()}
    if isinstance(value, list):
        return [_rewrite(item, mapping) for item in value]
    if isinstance(value, str):
        return mapping.get(value, value)
    return value


def _rewrite_query(query: str, mapping: dict[str, str]) -> str:
    """`focus=urn:uuid:…` in an ifNoneExist or a GET url, rewritten to `focus=Type/id`."""
    head, question, tail = query.rpartition("?") if "?" in query else ("", "", query)
    pairs = parse_qsl(tail, keep_blank_values=True)
    if not any(value in mapping for _key, value in pairs):
        return query
    rewritten = [(key, mapping.get(value, value)) for key, value in pairs]
    return head + question + urlencode(rewritten, safe="|:/,")


def _urns_in_query(query: str) -> set[str]:
    return {
        value for _key, value in parse_qsl(query.partition("?")[2] or query) if URN.match(value)
    }


def _references(entry: Entry) -> set[str]:
    """The fullUrls this entry points at: references in its resource, its ifNoneExist and
    (for a GET) its url."""
    found = {text for _key, text in _strings(entry.resource or {}) if URN.match(text)}
    found |= _urns_in_query(entry.if_none_exist)
    if entry.method == "GET":
        found |= _urns_in_query(entry.url)
    return found


def creation_order(entries: list[Entry]) -> list[Entry]:
    """The POST entries, each after the POST entries it refers to (stable otherwise)."""
    by_url = {entry.full_url: entry for entry in entries if entry.full_url}
    needs: dict[int, set[int]] = {}
    for entry in entries:
        needs[entry.index] = {
            by_url[urn].index
            for urn in _references(entry)
            if urn in by_url and by_url[urn].index != entry.index
        }
    ordered: list[Entry] = []
    done: set[int] = set()
    waiting = list(entries)
    while waiting:
        ready = [entry for entry in waiting if needs[entry.index] <= done]
        if not ready:
            raise bad_request(
                "The entries refer to each other in a circle; FarCare cannot create them.",
                [entry.label for entry in waiting],
            )
        for entry in ready:
            ordered.append(entry)
            done.add(entry.index)
        waiting = [entry for entry in waiting if entry.index not in done]
    return ordered


def _check_resolved(entry: Entry, known: set[str]) -> None:
    """A `reference` to a urn that no entry of the bundle carries cannot be resolved."""
    for key, text in _strings(entry.resource or {}):
        if key == "reference" and URN.match(text) and text not in known:
            raise bad_request(
                f"{text} is not the fullUrl of any entry of this bundle.", [".resource"]
            )


# --- running one entry --------------------------------------------------------------------


def _status(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def _version_response(
    request: HttpRequest, version: ResourceVersion, status: int, *, with_resource: bool
) -> dict[str, Any]:
    location = f"{version.resource_type}/{version.logical_id}/_history/{version.version_id}"
    answer: dict[str, Any] = {
        "response": {
            "status": _status(status),
            "location": location,
            "etag": f'W/"{version.version_id}"',
            "lastModified": version.content.get("meta", {}).get("lastUpdated")
            or version.last_updated.isoformat(),
        }
    }
    if with_resource and not version.deleted:
        base = views.base_url(request)
        answer = {
            "fullUrl": f"{base}/{version.resource_type}/{version.logical_id}",
            "resource": version.content,
            **answer,
        }
    return answer


def run_entry(
    request: HttpRequest,
    principal: Principal,
    entry: Entry,
    mapping: dict[str, str],
    *,
    minimal: bool,
) -> dict[str, Any]:
    """Do what one entry asks, exactly as the single interaction would; the response entry."""
    url = _rewrite_query(entry.url, mapping) if entry.method == "GET" else entry.url
    target = parse_target(request, url)
    handler = views._handler(target.resource_type)
    if entry.method == "POST":
        if not target.is_search or target.params or target.named_search:
            raise bad_request("request.url of a POST entry is the resource type.", [".request.url"])
        principal.require(handler.resource_type, "create")
        resource = _rewrite(entry.resource, mapping)
        condition = _rewrite_query(entry.if_none_exist, mapping)
        if "?" in condition:  # "Patient?identifier=…" as well as "identifier=…"
            condition = condition.partition("?")[2]
        status, version = views.create_resource(principal, handler, resource, condition)
        if entry.full_url:
            mapping[entry.full_url] = f"{handler.resource_type}/{version.logical_id}"
        return _version_response(request, version, status, with_resource=not minimal)
    if entry.method == "PUT":
        if target.is_search or target.version_id:
            raise bad_request(
                "request.url of a PUT entry is Type/id (conditional update is not supported).",
                [".request.url"],
            )
        principal.require(handler.resource_type, "update")
        resource = _rewrite(entry.resource, mapping)
        version = views.update_resource(
            principal, handler, target.logical_id, resource, entry.if_match
        )
        return _version_response(request, version, 200, with_resource=not minimal)
    if entry.method == "DELETE":
        if target.is_search or target.version_id:
            raise bad_request(
                "request.url of a DELETE entry is Type/id (conditional delete is not supported).",
                [".request.url"],
            )
        principal.require(handler.resource_type, "delete")
        version = views.delete_resource(principal, handler, target.logical_id)
        return {"response": {"status": _status(204), "etag": f'W/"{version.version_id}"'}}
    if entry.method == "GET":
        if target.is_search:
            principal.require(handler.resource_type, "search")
            found = views.search_bundle(request, principal, handler, list(target.params))
            return {"resource": found, "response": {"status": _status(200)}}
        if target.version_id:
            principal.require(handler.resource_type, "vread")
            version = _vread(principal, handler, target)
        else:
            principal.require(handler.resource_type, "read")
            version = views.read_resource(principal, handler, target.logical_id)
        return _version_response(request, version, 200, with_resource=True)
    raise not_allowed(f"{entry.method} is not supported in a bundle (PATCH is not served).")


def _vread(principal: Principal, handler: Handler, target: Target) -> ResourceVersion:
    views.read_resource(principal, handler, target.logical_id)
    version = ResourceVersion.objects.filter(
        resource_type=handler.resource_type,
        logical_id=target.logical_id,
        version_id=int(target.version_id) if target.version_id.isdigit() else -1,
    ).first()
    if version is None or version.deleted:
        raise not_found(f"{handler.resource_type}/{target.logical_id} has no such version.")
    return version


def as_fhir_error(error: Exception) -> FhirError:
    """The FhirError a failing entry answers with, as the single endpoints map exceptions."""
    if isinstance(error, FhirError):
        return error
    if isinstance(error, PermissionDenied):
        return forbidden(str(error) or "Access refused.")
    if isinstance(error, ValidationError):
        return business_rule(" ".join(error.messages))
    if is_busy(error):
        # The database stayed locked past the busy timeout: this entry may be sent again.
        return FhirError(
            503, "lock-error", busy_message(), headers={"Retry-After": str(retry_after())}
        )
    if isinstance(error, IntegrityError):
        # Two submissions of the same bundle racing: the other one created it first.
        return FhirError(409, "conflict", "A concurrent request created this resource: resubmit.")
    logger.exception("FHIR bundle entry failed", exc_info=error)
    return FhirError(500, "exception", "Internal error; this entry changed nothing.")


def _prefixed(error: FhirError, index: int) -> FhirError:
    """The error with its expressions placed inside `Bundle.entry[index]`: `Patient.birthDate`
    becomes `Bundle.entry[0].resource.birthDate`, `.request.url` `Bundle.entry[0].request.url`."""
    label = f"Bundle.entry[{index}]"
    expressions = []
    for expression in error.expression or [""]:
        if expression.startswith("Bundle.entry["):
            expressions.append(expression)
        elif not expression:
            expressions.append(label)
        elif expression.startswith("."):
            expressions.append(label + expression)
        elif _TYPE.match(expression.split(".", 1)[0].split("[", 1)[0]):
            head, dot, rest = expression.partition(".")
            bracket = head[len(head.split("[", 1)[0]) :]  # "Patient[0]" keeps its "[0]"
            expressions.append(f"{label}.resource{bracket}{dot}{rest}")
        else:  # a search parameter of the url or ifNoneExist (the diagnostics name it)
            expressions.append(f"{label}.request")
    return FhirError(
        error.status,
        error.code,
        f"Entry {index}: {error.diagnostics}",
        expression=expressions,
        severity=error.severity,
    )


def _failure(error: FhirError) -> dict[str, Any]:
    return {"response": {"status": _status(error.status), "outcome": error.outcome()}}


def _audit_denial(principal: Principal, entry: Entry, error: BaseException) -> None:
    """A refusal is written to the audit trail even though the transaction it happened in was
    rolled back: an attempt to reach a patient's data must stay on the record."""
    if isinstance(error, PatientAccessDenied):
        audit_record(
            accessor=principal.accessor,
            action=AuditAction.DENIED,
            patient_uuid=error.patient.uuid,
            record=error.patient,
            outcome="denied",
            details={"wanted": "bundle", "entry": entry.index, "method": entry.method},
        )


# --- transaction and batch ----------------------------------------------------------------


def run_transaction(
    request: HttpRequest,
    principal: Principal,
    parsed: list[Entry | FhirError],
    *,
    minimal: bool,
) -> dict[str, Any]:
    entries = [entry for entry in parsed if isinstance(entry, Entry)]
    for entry in entries:
        if entry.method == "PATCH":
            raise _prefixed(not_allowed("PATCH is not served."), entry.index)
    known = {entry.full_url for entry in entries if entry.full_url}
    mapping: dict[str, str] = {}
    for entry in entries:
        # A PUT or DELETE entry's urn fullUrl already names its target.
        if entry.method in ("PUT", "DELETE") and URN.match(entry.full_url):
            mapping[entry.full_url] = entry.url.split("?", 1)[0]
    gathered = _gather([entry for entry in entries if entry.method == "POST"])
    consumed = {part.index for parts in gathered.values() for part, _local in parts}
    posts = creation_order(
        [entry for entry in entries if entry.method == "POST" and entry.index not in consumed]
    )
    others = sorted(
        (entry for entry in entries if entry.method != "POST"), key=lambda e: ORDER[e.method]
    )
    steps = [e for e in others if e.method == "DELETE"] + posts
    steps += [e for e in others if e.method != "DELETE"]
    try:
        with transaction.atomic():
            for step in runs(request, steps, known, gathered):
                if isinstance(step, Run):
                    _run_many(request, principal, step, mapping, known, gathered, minimal)
                else:
                    _run_one(request, principal, step, mapping, known, gathered, minimal)
    except EntryFailed as failed:
        _audit_denial(principal, failed.entry, failed.__cause__ or failed)
        raise _prefixed(failed.error, failed.entry.index) from None
    return {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [entry.response for entry in entries],
    }


def _run_one(
    request: HttpRequest,
    principal: Principal,
    entry: Entry,
    mapping: dict[str, str],
    known: set[str],
    gathered: dict[int, list[tuple[Entry, str]]],
    minimal: bool,
) -> None:
    """One entry of a transaction, as the single interaction would do it."""
    try:
        _check_resolved(entry, known)
        entry.response = run_entry(request, principal, entry, mapping, minimal=minimal)
        if entry.index in gathered:
            _answer_gathered(request, entry, gathered[entry.index], mapping, minimal)
    except Exception as error:
        raise EntryFailed(entry, as_fhir_error(error)) from error


# --- creates of one type, many at once --------------------------------------------------------
#
# A transaction of a hundred Patients used to cost twenty statements per entry (the checks, the
# audit record, the remainder, the version, savepoints, each one by one). Consecutive POST
# entries of a type whose handler `creates_many` are created as one run: their ifNoneExist
# conditions resolved in one query, the records written by the handler's bulk service, their
# versions (and remainders, when any) in one INSERT each, a constant number of statements for
# the run. A run never holds an entry that refers to another entry of the same run, nor one
# whose condition an earlier entry of the run could satisfy: those start the next run, after
# the ones they depend on are created. When a run fails, it is rolled back to its savepoint
# and its entries are done again one by one: a refusal is then exactly the one-by-one answer
# (which entry, which OperationOutcome, what is audited).


@dataclass
class Run:
    """Consecutive POST entries of one type, created at once."""

    handler: Handler
    entries: list[Entry]
    conditions: dict[int, str]  # entry index -> the handler's key for its ifNoneExist
    urls: set[str]  # the entries' fullUrls
    keys: set[str]  # the condition keys its entries would satisfy once created


def runs(
    request: HttpRequest,
    steps: list[Entry],
    known: set[str],
    gathered: dict[int, list[tuple[Entry, str]]],
) -> list[Entry | Run]:
    """The transaction's steps with consecutive POST entries that can be created at once put
    together into runs."""
    grouped: list[Entry | Run] = []
    current: Run | None = None
    for entry in steps:
        fit = _fits_many(request, entry, known, gathered)
        if fit is not None and current is not None:
            handler, key = fit
            if (
                handler is not current.handler
                or _references(entry) & current.urls
                or (key is not None and key in current.keys)
            ):
                current = None
        if fit is None:
            grouped.append(entry)
            current = None
            continue
        handler, key = fit
        if current is None:
            current = Run(handler, [], {}, set(), set())
            grouped.append(current)
        current.entries.append(entry)
        if key is not None:
            current.conditions[entry.index] = key
        if entry.full_url:
            current.urls.add(entry.full_url)
        current.keys |= handler.condition_keys(entry.resource or {})
    return grouped


def _fits_many(
    request: HttpRequest,
    entry: Entry,
    known: set[str],
    gathered: dict[int, list[tuple[Entry, str]]],
) -> tuple[Handler, str | None] | None:
    """(handler, condition key) when `entry` may be created in a run; None when it must go on
    its own (anything the run cannot do as the single interaction does: the one-by-one path
    then answers it, refusals included)."""
    if entry.method != "POST" or entry.index in gathered or entry.resource is None:
        return None
    try:
        target = parse_target(request, entry.url)
        _check_resolved(entry, known)
    except FhirError:
        return None
    if not target.is_search or target.params or target.named_search:
        return None
    handler = views.handler_for(target.resource_type)
    if handler is None or "create" not in handler.interactions:
        return None
    if entry.resource.get("resourceType") != handler.resource_type:
        return None
    creator = handler.creates_at_once(entry.resource)
    if creator is None:
        return None
    handler = creator  # a composite's part: a run is of one part
    if not entry.if_none_exist:
        return handler, None
    key = handler.condition_key(_condition_params(entry.if_none_exist))
    return None if key is None else (handler, key)


def _condition_params(condition: str) -> list[tuple[str, str]]:
    if "?" in condition:  # "Patient?identifier=…" as well as "identifier=…"
        condition = condition.partition("?")[2]
    return parse_qsl(condition, keep_blank_values=True)


def _run_many(
    request: HttpRequest,
    principal: Principal,
    run: Run,
    mapping: dict[str, str],
    known: set[str],
    gathered: dict[int, list[tuple[Entry, str]]],
    minimal: bool,
) -> None:
    """Create the run's entries at once; when that fails, one by one (see above)."""
    if len(run.entries) == 1:
        # Alone (a consultation's patient): its savepoint would cost more than at once saves
        # when its condition finds the patient, the usual case.
        _run_one(request, principal, run.entries[0], mapping, known, gathered, minimal)
        return
    before = dict(mapping)
    try:
        with transaction.atomic():
            _create_many(request, principal, run, mapping, minimal)
        return
    except Exception as error:
        if is_busy(error):  # one by one would wait for the same lock again
            raise EntryFailed(run.entries[0], as_fhir_error(error)) from error
        failure = error
    mapping.clear()
    mapping.update(before)
    for entry in run.entries:
        _run_one(request, principal, entry, mapping, known, gathered, minimal)
    # One by one succeeded where at once did not: the two paths disagree.
    logger.warning("a run of %d creates failed at once", len(run.entries), exc_info=failure)


def _create_many(
    request: HttpRequest,
    principal: Principal,
    run: Run,
    mapping: dict[str, str],
    minimal: bool,
) -> None:
    """What `run_entry` does for each POST entry of the run (views.create_resource and the
    response), at once: raises at the first refusal."""
    handler = run.handler
    principal.require(handler.resource_type, "create")
    matches = handler.find_many(set(run.conditions.values())) if run.conditions else {}
    creates: list[tuple[Entry, dict[str, Any]]] = []
    for entry in run.entries:
        found = (
            matches.get(run.conditions[entry.index], []) if entry.index in run.conditions else []
        )
        if len(found) > 1:
            raise precondition_failed("If-None-Exist matches more than one resource.")
        if found:
            # The conditional create's match: what create_resource answers (the access policy
            # asked and audited, the resource as it renders now) is what a read answers; the
            # read serves the stored version when it is current (lean.py), in two statements.
            version = views.read_resource(principal, handler, handler.logical_id(found[0]))
            _answered(request, entry, version, 200, mapping, minimal)
        else:
            creates.append((entry, _rewrite(entry.resource, mapping)))
    if not creates:
        return
    versions = views.create_new(principal, handler, [resource for _entry, resource in creates])
    for (entry, _resource), version in zip(creates, versions, strict=True):
        _answered(request, entry, version, 201, mapping, minimal)


def _answered(
    request: HttpRequest,
    entry: Entry,
    version: ResourceVersion,
    status: int,
    mapping: dict[str, str],
    minimal: bool,
) -> None:
    if entry.full_url:
        mapping[entry.full_url] = f"{version.resource_type}/{version.logical_id}"
    entry.response = _version_response(request, version, status, with_resource=not minimal)


def _gather(posts: list[Entry]) -> dict[int, list[tuple[Entry, str]]]:
    """POST entries created as parts of another (a DiagnosticReport's Observations named by
    their fullUrls): folded into that entry's resource; the parts, each with its local id."""
    bundled = {
        entry.full_url: entry.resource for entry in posts if entry.full_url and entry.resource
    }
    by_url = {entry.full_url: entry for entry in posts if entry.full_url}
    gathered: dict[int, list[tuple[Entry, str]]] = {}
    taken: set[str] = set()
    for entry in posts:
        kind = str((entry.resource or {}).get("resourceType") or "")
        handler = views.handler_for(kind) if _TYPE.match(kind) else None
        if handler is None or entry.resource is None:
            continue
        folded, locals_ = handler.gather(entry.resource, bundled)
        fresh = {url: local for url, local in locals_.items() if url not in taken}
        if fresh:
            entry.resource = folded
            taken |= set(fresh)
            gathered[entry.index] = [(by_url[url], local) for url, local in fresh.items()]
    return gathered


def _answer_gathered(
    request: HttpRequest,
    entry: Entry,
    parts: list[tuple[Entry, str]],
    mapping: dict[str, str],
    minimal: bool,
) -> None:
    """The response of each entry created as a part of `entry`, and its fullUrl mapped."""
    handler = views._handler(str((entry.resource or {}).get("resourceType")))
    location = str(entry.response.get("response", {}).get("location", ""))
    logical_id = location.split("/_history")[0].rsplit("/", 1)[-1]
    status = int(str(entry.response.get("response", {}).get("status", "201")).split()[0])
    made = handler.gathered(logical_id, [local for _part, local in parts])
    for part, local in parts:
        if local not in made:
            raise bad_request("This entry was not stored with its report.", [".resource"])
        part_handler, obj = made[local]
        version = snapshot(part_handler, obj)
        if part.full_url:
            mapping[part.full_url] = f"{version.resource_type}/{version.logical_id}"
        part.response = _version_response(request, version, status, with_resource=not minimal)


def run_batch(
    request: HttpRequest,
    principal: Principal,
    parsed: list[Entry | FhirError],
    *,
    minimal: bool,
) -> dict[str, Any]:
    """Each entry on its own, in the order given; no references between entries."""
    answers = []
    for index, item in enumerate(parsed):
        if isinstance(item, FhirError):
            answers.append(_failure(_prefixed(item, index)))
            continue
        try:
            if any(key == "reference" and URN.match(text) for key, text in _strings(item.resource)):
                raise bad_request(
                    "Entries of a batch cannot refer to each other; use a transaction.",
                    [".resource"],
                )
            with transaction.atomic():
                answers.append(run_entry(request, principal, item, {}, minimal=minimal))
        except Exception as error:
            _audit_denial(principal, item, error)  # the entry's own records were rolled back
            answers.append(_failure(_prefixed(as_fhir_error(error), item.index)))
    return {"resourceType": "Bundle", "type": "batch-response", "entry": answers}
