"""FHIR operations: Patient/$everything, and the asynchronous bulk export of FHIR Bulk Data 2.0
($export at the system and Patient levels, its status endpoint, and the NDJSON files).

$everything: the patient (access checked and audited like a read) and every resource of a type
with a `patient` search parameter that refers to them and that the caller's access policy
scope and scopes reach, ordered by type. Pages of `_count` (at most 1000) entries with a `next`
link; `_type` and `_since` narrow it.

Bulk export is for system clients registered with `bulk_export` and holding a `system/` read
scope for every type exported. The kick-off records an ExportJob and enqueues a django-tasks
task (the immediate backend runs it at once; a queueing backend in a worker). The task writes
one NDJSON file per type through the default storage under `fhir-export/<job>/<Type>.ndjson`,
each line a resource as the client's service account may see it. Audit: one EXPORT record for
the job (types, counts, number of patients) and one EXPORT record per patient whose data left,
since the fact that a person sought care is itself a medical secret (323-FZ art. 13); the audit
chain writes them one by one, which is fine for the few thousand patients of a region.
"""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlencode

from django.core.files import File
from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils import timezone
from django_tasks import task

from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record

from . import search, views
from .auth import Principal, authenticate
from .errors import FhirError, bad_request, forbidden, not_allowed, not_found, operation_outcome
from .models import ExportJob, SystemClient
from .registry import REGISTRY, Handler, _load
from .scopes import Scope, parse_scopes
from .versioning import snapshot

logger = logging.getLogger(__name__)

EVERYTHING_CAP = 1000
NDJSON = "application/fhir+ndjson"
OUTPUT_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")
EXPORT_PREFIX = "fhir-export"
ACCEPTED, RUNNING, COMPLETED, FAILED, CANCELLED = (
    "accepted",
    "in-progress",
    "completed",
    "failed",
    "cancelled",
)


# Records about the record, not of the patient's care: the audit trail has its own endpoint.
NOT_IN_THE_RECORD = frozenset({"AuditEvent"})


def patient_bound(handler: Handler) -> bool:
    """Whether resources of this type belong to one patient's record (`patient` reference)."""
    param = handler.search_params.get("patient")
    return (
        param is not None
        and param.type == "reference"
        and handler.resource_type not in NOT_IN_THE_RECORD
    )


def _registry() -> list[Handler]:
    _load()
    return [REGISTRY[name] for name in sorted(REGISTRY)]


def _since(raw: str) -> datetime | None:
    if not raw:
        return None
    window = search.parse_date(raw)
    return window.start


def _types(raw: str, allowed: list[Handler], parameter: str = "_type") -> list[Handler]:
    """The handlers named in a comma list, or every allowed one when the list is empty."""
    if not raw:
        return allowed
    names = [name.strip() for name in raw.split(",") if name.strip()]
    by_name = {handler.resource_type: handler for handler in allowed}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise bad_request(
            f"{', '.join(unknown)}: not exportable here (known: {', '.join(sorted(by_name))}).",
            [parameter],
        )
    return [by_name[name] for name in dict.fromkeys(names)]


def _changed_since(handler: Handler, queryset: QuerySet[Any], since: datetime | None) -> Any:
    """Resources changed at or after `since`; types that do not track changes are all kept."""
    if since is None or not handler.updated_field:
        return queryset
    return queryset.filter(**{f"{handler.updated_field}__gte": since})


# --- Patient/$everything -------------------------------------------------------------------


@views.fhir_endpoint
def everything(request: HttpRequest, logical_id: str) -> HttpResponse:
    if request.method != "GET":
        raise not_allowed("Use GET for $everything.")
    principal = authenticate(request)
    principal.require("Patient", "read")
    patient_handler = views._handler("Patient")
    patient_version = views.read_resource(principal, patient_handler, logical_id)
    params = views._params(request.GET)
    given = dict(params)
    count = min(max(_whole(given, "_count", EVERYTHING_CAP), 1), EVERYTHING_CAP)
    offset = max(_whole(given, "_offset", 0), 0)
    since = _since(given.get("_since", ""))
    candidates = [
        handler
        for handler in _registry()
        if patient_bound(handler) and handler.resource_type != "Patient"
    ]
    wanted = _types(given.get("_type", ""), [patient_handler, *candidates])
    # Every key first (cheap), then only the page's resources are built.
    keys: list[tuple[Handler, int]] = []
    for kind in wanted:
        if kind is patient_handler or not _may(principal, kind, "search"):
            continue
        for handler in kind.parts:  # a type served from several models: each of them
            if not patient_bound(handler):
                continue
            queryset = search.apply_params(
                handler, handler.queryset(principal), [("patient", logical_id)]
            )
            queryset = _changed_since(handler, queryset, since)
            keys += [(handler, pk) for pk in queryset.order_by("pk").values_list("pk", flat=True)]
    with_patient = patient_handler in wanted
    total = len(keys) + int(with_patient)
    base = views.base_url(request)
    entries: list[dict[str, Any]] = []
    position = 0
    if with_patient:
        if offset == 0:
            entries.append(_entry(base, patient_version.content))
        position = 1
    start = max(offset - position, 0)
    room = count - len(entries)
    page = keys[start : start + room] if room > 0 else []
    objects: dict[tuple[int, int], Any] = {}
    for handler in {handler for handler, _pk in page}:
        wanted_pks = [pk for kind, pk in page if kind is handler]
        for obj in handler.all_objects().filter(pk__in=wanted_pks):
            objects[(id(handler), obj.pk)] = obj
    counts: dict[str, int] = {}
    for handler, pk in page:
        obj = objects.get((id(handler), pk))
        if obj is not None:
            entries.append(_entry(base, snapshot(handler, obj).content))
            counts[handler.resource_type] = counts.get(handler.resource_type, 0) + 1
    audit_record(
        accessor=principal.accessor,
        action=AuditAction.VIEW,
        patient_uuid=uuid.UUID(patient_version.logical_id),
        details={"fhir": "Patient/$everything", "found": counts},
    )
    following = offset + count
    self_params = [(k, v) for k, v in params if k != "_offset"]
    links = [{"relation": "self", "url": _link(base, logical_id, params)}]
    if following < total:
        links.append(
            {
                "relation": "next",
                "url": _link(base, logical_id, [*self_params, ("_offset", str(following))]),
            }
        )
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": total}
    return views.fhir_response({**bundle, "link": links, "entry": entries})


def _whole(given: dict[str, str], name: str, default: int) -> int:
    try:
        value = int(given.get(name, default))
    except ValueError as error:
        raise bad_request(f"{name} must be a whole number.", [name]) from error
    if value < 0:
        raise bad_request(f"{name} must be 0 or more.", [name])
    return value


def _may(principal: Principal, handler: Handler, interaction: str) -> bool:
    try:
        principal.require(handler.resource_type, interaction)
    except FhirError:
        return False
    return True


def _entry(base: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "search": {"mode": "match"},
    }


def _link(base: str, logical_id: str, params: list[tuple[str, str]]) -> str:
    query = urlencode(params)
    return f"{base}/Patient/{logical_id}/$everything" + (f"?{query}" if query else "")


# --- bulk export: kick-off -----------------------------------------------------------------


def export_client(principal: Principal) -> SystemClient | None:
    """The system client behind a token: the token's own, or its service account's."""
    if principal.client is not None:
        return principal.client
    return SystemClient.objects.filter(account=principal.user).first()


def _exportable(level: str) -> list[Handler]:
    handlers = _registry()
    if level == "Patient":
        return [h for h in handlers if h.resource_type == "Patient" or patient_bound(h)]
    return handlers


def _system_allows(scopes: frozenset[Scope], resource_type: str) -> bool:
    return any(s.context == "system" and s.allows(resource_type, "export") for s in scopes)


@views.fhir_endpoint
def export_system(request: HttpRequest) -> HttpResponse:
    """GET [base]/$export: everything the client's service account may see."""
    return _kick_off(request, "system")


@views.fhir_endpoint
def export_patients(request: HttpRequest) -> HttpResponse:
    """GET [base]/Patient/$export: the patients the client may see and their resources."""
    return _kick_off(request, "Patient")


def _kick_off(request: HttpRequest, level: str) -> HttpResponse:
    if request.method != "GET":
        raise not_allowed("Start a bulk export with GET.")
    principal = authenticate(request)
    client = export_client(principal)
    if client is None or not client.active or not client.bulk_export:
        raise forbidden("Bulk export is only for system clients registered for it.")
    if "respond-async" not in request.headers.get("Prefer", ""):
        raise bad_request("Bulk export is asynchronous: send 'Prefer: respond-async'.", ["Prefer"])
    output_format = request.GET.get("_outputFormat", "")
    if output_format and output_format not in OUTPUT_FORMATS:
        raise bad_request(f"_outputFormat {output_format!r}: only NDJSON is written.")
    if request.GET.get("_typeFilter"):
        # Ignoring a filter would send more patient data than was asked for.
        raise FhirError(
            400, "not-supported", "_typeFilter is not supported.", expression=["_typeFilter"]
        )
    named = ",".join(request.GET.getlist("_type"))
    candidates = _exportable(level)
    if named:
        handlers = _types(named, candidates)
        refused = [
            h.resource_type
            for h in handlers
            if not _system_allows(principal.scopes, h.resource_type)
        ]
        if refused:
            raise forbidden(f"The token's scopes do not allow exporting {', '.join(refused)}.")
    else:
        handlers = [h for h in candidates if _system_allows(principal.scopes, h.resource_type)]
        if not handlers:
            raise forbidden("The token has no system/ read scope to export with.")
    since = _since(request.GET.get("_since", ""))
    job = ExportJob.objects.create(
        requested_by=principal.user,
        request_url=request.build_absolute_uri(),
        types=",".join(h.resource_type for h in handlers),
        since=since,
        status=ACCEPTED,
    )
    try:
        run_export.enqueue(str(job.uuid))
    except Exception as error:
        logger.exception("could not enqueue export %s", job.uuid)
        _fail(job, f"The export could not be started: {error}")
    status_url = f"{views.base_url(request)}/$export-poll-status/{job.uuid}"
    body = operation_outcome("information", "informational", f"Export {job.uuid} accepted.")
    return views.fhir_response(body, status=202, headers={"Content-Location": status_url})


# --- bulk export: the work -----------------------------------------------------------------


@task()
def run_export(job_uuid: str) -> dict[str, int]:
    """Write the export's NDJSON files; a str argument so queueing backends can carry it."""
    job = ExportJob.objects.select_related("requested_by").filter(uuid=job_uuid).first()
    if job is None:
        return {}
    if not ExportJob.objects.filter(pk=job.pk, status=ACCEPTED).update(status=RUNNING):
        return {}  # cancelled before it started, or already run
    try:
        return export(job)
    except Exception as error:
        logger.exception("export %s failed", job.uuid)
        _fail(job, str(error) or type(error).__name__)
        raise


def _fail(job: ExportJob, message: str) -> None:
    ExportJob.objects.filter(pk=job.pk).update(
        status=FAILED, error=message[:2000], finished_at=timezone.now()
    )


def _cancelled(job: ExportJob) -> bool:
    return ExportJob.objects.filter(pk=job.pk, status=CANCELLED).exists()


def export(job: ExportJob) -> dict[str, int]:
    """Every requested type as the requesting client's service account may see it."""
    user = job.requested_by
    client = SystemClient.objects.filter(account=user).first()
    principal = Principal(
        user=user,
        client=client,
        scopes=parse_scopes(client.scopes if client else ""),
        ip_address=None,
    )
    _load()
    counts: dict[str, int] = {}
    output: list[dict[str, Any]] = []
    patients: set[uuid.UUID] = set()
    for resource_type in [name for name in job.types.split(",") if name]:
        if _cancelled(job):
            _delete_files(output)
            return counts
        keys = [
            (handler, pk)
            for handler in REGISTRY[resource_type].parts
            for pk in _changed_since(handler, handler.queryset(principal), job.since)
            .order_by("pk")
            .values_list("pk", flat=True)
        ]
        if not keys:
            continue
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as buffer:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                objects = {
                    (id(handler), obj.pk): obj
                    for handler in {handler for handler, _pk in chunk}
                    for obj in handler.all_objects().filter(
                        pk__in=[pk for kind, pk in chunk if kind is handler]
                    )
                }
                for handler, pk in chunk:
                    obj = objects.get((id(handler), pk))
                    if obj is None:  # gone since the list was made
                        continue
                    content = snapshot(handler, obj).content
                    line = json.dumps(
                        content, ensure_ascii=False, separators=(",", ":"), default=str
                    )
                    buffer.write(line.encode() + b"\n")
                    counts[resource_type] = counts.get(resource_type, 0) + 1
                    patient = handler.patient_of(obj)
                    if patient is not None:
                        patients.add(patient.uuid)
            buffer.seek(0)
            path = f"{EXPORT_PREFIX}/{job.uuid}/{resource_type}.ndjson"
            stored = default_storage.save(path, File(buffer, name=f"{resource_type}.ndjson"))
        output.append({"type": resource_type, "count": counts[resource_type], "file": stored})
        ExportJob.objects.filter(pk=job.pk).update(output=output)
    accessor = Accessor(user, None, "fhir")
    audit_record(
        accessor=accessor,
        action=AuditAction.EXPORT,
        record=job,
        details={"fhir": "$export", "types": counts, "patients": len(patients)},
    )
    for patient_uuid in sorted(patients):
        audit_record(
            accessor=accessor,
            action=AuditAction.EXPORT,
            patient_uuid=patient_uuid,
            record=job,
            details={"fhir": "$export"},
        )
    finished = ExportJob.objects.filter(pk=job.pk).exclude(status=CANCELLED)
    if not finished.update(status=COMPLETED, output=output, finished_at=timezone.now()):
        _delete_files(output)
    return counts


def _delete_files(output: list[dict[str, Any]]) -> None:
    for item in output:
        default_storage.delete(item["file"])


# --- bulk export: status, files, cancellation ---------------------------------------------


def _job(principal: Principal, job_id: str) -> ExportJob:
    """The caller's own export; anyone else's is as unknown as a missing one."""
    try:
        key = uuid.UUID(job_id)
    except ValueError:
        key = None
    job = (
        ExportJob.objects.filter(uuid=key, requested_by=principal.user)
        .exclude(status=CANCELLED)
        .first()
        if key
        else None
    )
    if job is None:
        raise not_found(f"No export {job_id} of yours is known.")
    return job


@views.fhir_endpoint
def export_status(request: HttpRequest, job_id: str) -> HttpResponse:
    principal = authenticate(request)
    job = _job(principal, job_id)
    if request.method == "DELETE":
        ExportJob.objects.filter(pk=job.pk).update(status=CANCELLED, finished_at=timezone.now())
        _delete_files(job.output)
        return HttpResponse(status=202)
    if request.method != "GET":
        raise not_allowed("Poll the export with GET, cancel it with DELETE.")
    if job.status in (ACCEPTED, RUNNING):
        types = [name for name in job.types.split(",") if name]
        progress = f"{job.status}: {len(job.output)} of {len(types)} types written"
        return HttpResponse(status=202, headers={"X-Progress": progress, "Retry-After": "5"})
    if job.status == FAILED:
        raise FhirError(500, "exception", f"The export failed: {job.error}")
    base = views.base_url(request)
    manifest = {
        "transactionTime": job.created_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [
            {
                "type": item["type"],
                "url": f"{base}/$export-file/{job.uuid}/{item['type']}.ndjson",
                "count": item["count"],
            }
            for item in job.output
        ],
        "error": [],
    }
    return HttpResponse(
        json.dumps(manifest, ensure_ascii=False), status=200, content_type="application/json"
    )


@views.fhir_endpoint
def export_file(request: HttpRequest, job_id: str, resource_type: str) -> HttpResponse:
    if request.method != "GET":
        raise not_allowed("Fetch export files with GET.")
    principal = authenticate(request)
    job = _job(principal, job_id)
    item = next((o for o in job.output if o["type"] == resource_type), None)
    if job.status != COMPLETED or item is None:
        raise not_found(f"Export {job_id} has no {resource_type} file.")
    principal.require(resource_type, "export")
    audit_record(
        accessor=principal.accessor,
        action=AuditAction.EXPORT,
        record=job,
        details={"fhir": "$export-file", "type": resource_type, "count": item["count"]},
    )
    stream = FileResponse(default_storage.open(item["file"], "rb"), content_type=NDJSON)
    return cast(HttpResponse, stream)  # streamed, not held in memory; the wrapper passes it on
