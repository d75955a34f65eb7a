"""The hub's JSON API for stations (django-ninja): enrol, push the outbox, pull changes, fetch a
signed conclusion's PDF. Files themselves travel by tus at /uploads/ (farcare.uploads).
Bodies may be gzip-compressed (`Content-Encoding: gzip`): on a 64 kbit/s link it halves a push."""

from __future__ import annotations

import gzip
import json
import logging
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import HttpError
from ninja.parser import Parser
from ninja.security import HttpBearer

from farcare.access.policy import station_patients
from farcare.accounts.services import AuthenticationFailed, SecondFactorRequired
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.models import Attachment
from farcare.core.contention import busy_response, is_busy
from farcare.training.downloads import ranged_file_response

from . import hub, training_hub
from .models import Station

logger = logging.getLogger(__name__)


class GzipJSONParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        body = request.body
        if request.headers.get("Content-Encoding", "").lower() == "gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError) as error:
                raise HttpError(400, "The gzip body is damaged.") from error
        return json.loads(body) if body else {}


class StationToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Station | None:
        return hub.station_for_token(token)


api = NinjaAPI(
    urls_namespace="sync-api",
    title="FarCare station sync",
    docs_url=None,
    parser=GzipJSONParser(),
)


# --- errors: always JSON, each status documented on the operations that answer it ----------


class ErrorOut(Schema):
    detail: str
    code: str | None = None


class ValidationErrorOut(Schema):
    """What django-ninja answers for a body, query or path that does not fit the operation."""

    detail: list[dict[str, Any]]


# Every operation may answer these; the 503 comes from farcare.core.contention.
COMMON_ERRORS: dict[int, Any] = {400: ErrorOut, 422: ValidationErrorOut, 503: ErrorOut}
AUTH_ERRORS: dict[int, Any] = {401: ErrorOut, 403: ErrorOut}


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, error: PermissionDenied) -> HttpResponse:
    return api.create_response(request, {"detail": str(error)}, status=403)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, error: Http404) -> HttpResponse:
    return api.create_response(request, {"detail": _("Not found.")}, status=404)


@api.exception_handler(DjangoValidationError)
def _invalid(request: HttpRequest, error: DjangoValidationError) -> HttpResponse:
    return api.create_response(request, {"detail": " ".join(error.messages)}, status=400)


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, error: Exception) -> HttpResponse:
    """A station reads JSON, even when the hub fails: busy (503, come back later) or a fault
    (500, logged with its trace)."""
    if is_busy(error):
        return busy_response(request)
    logger.exception("sync API request failed: %s %s", request.method, request.path)
    return api.create_response(request, {"detail": _("Internal error.")}, status=500)


class EnrolIn(Schema):
    username: str
    password: str
    name: str = ""
    # The six-digit code of the clinician's second factor, where they have or must have one.
    otp: str = ""


class PushIn(Schema):
    items: list[dict[str, Any]]


class EnrolOut(Schema):
    token: str
    station: str
    name: str
    facility: str
    reference: str


class PushOut(Schema):
    results: list[dict[str, Any]]


class PullOut(Schema):
    cursor: str
    staff: str
    patients: list[dict[str, Any]]
    consents: list[dict[str, Any]]
    consultations: list[dict[str, Any]]
    # Diagnostic orders ("orders": with their tests and tubes) and reports ("reports": with
    # every version of their values and their critical alerts) of the station's patients
    # (sync.diagnostics_records).
    diagnostics: dict[str, list[dict[str, Any]]]
    # Programmes the station's staff are enrolled in, with their sessions, materials (light
    # files fetched after, from /training/{material}/light), enrolments and attendance
    # (sync.training_hub).
    training: dict[str, list[dict[str, Any]]] = {}
    # Transfers of the station's patients ("transfers": with their timelines, treatment given
    # and aircraft), read-only at the station (sync.evacuation_hub).
    evacuation: dict[str, list[dict[str, Any]]] = {}
    # Enrolments of the station's patients, their readings of the last 30 days and the
    # enrolments' alerts, read-only at the station (sync.monitoring_hub).
    monitoring: dict[str, list[dict[str, Any]]] = {}


def _ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


@api.post("/enrol", response={200: EnrolOut, **COMMON_ERRORS, **AUTH_ERRORS})
def enrol(request: HttpRequest, body: EnrolIn) -> dict[str, Any] | HttpResponse:
    try:
        station, token = hub.station_enrol(
            request=request,
            username=body.username,
            password=body.password,
            name=body.name,
            otp_token=body.otp,
        )
    except AuthenticationFailed as refused:
        # 401 asks for what is missing (the code); 403 refuses what was given. `code` lets the
        # station's console tell which, whatever the language of `detail`.
        status = 401 if isinstance(refused, SecondFactorRequired) else 403
        return api.create_response(
            request, {"detail": refused.message(), "code": refused.code}, status=status
        )
    return {
        "token": token,
        "station": str(station.uuid),
        "name": station.name,
        "facility": str(station.facility.uuid),
        "reference": hub.reference_data(station),
    }


@api.post("/push", auth=StationToken(), response={200: PushOut, **COMMON_ERRORS, **AUTH_ERRORS})
def push(request: HttpRequest, body: PushIn) -> dict[str, Any]:
    station: Station = request.auth  # type: ignore[attr-defined]
    return {"results": hub.push(station=station, items=body.items, ip=_ip(request))}


@api.get("/pull", auth=StationToken(), response={200: PullOut, **COMMON_ERRORS, **AUTH_ERRORS})
def pull(request: HttpRequest, since: str = "") -> dict[str, Any]:
    station: Station = request.auth  # type: ignore[attr-defined]
    try:
        return hub.pull(station=station, since=since, ip=_ip(request))
    except hub.SyncRefused as error:
        raise HttpError(400, str(error)) from error


@api.get(
    "/files/{attachment_uuid}",
    auth=StationToken(),
    response={404: ErrorOut, **COMMON_ERRORS, **AUTH_ERRORS},
    openapi_extra={
        "responses": {
            200: {
                "description": "The file, in its own content type.",
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def file(request: HttpRequest, attachment_uuid: uuid.UUID) -> FileResponse:
    """A document of one of the station's own patients, such as a signed conclusion's PDF."""
    station: Station = request.auth  # type: ignore[attr-defined]
    item = get_object_or_404(
        Attachment.objects.select_related("consultation__patient").filter(
            consultation__patient__in=station_patients(station.facility)
        ),
        uuid=attachment_uuid,
    )
    if not item.file:
        raise HttpError(404, "The original has not arrived.")
    audit_record(
        accessor=Accessor(station.enrolled_by, _ip(request), "sync"),
        action=AuditAction.EXPORT,
        patient_uuid=item.consultation.patient.uuid,
        record=item,
        details={"station": str(station.uuid)},
    )
    return FileResponse(item.file.open("rb"), content_type=item.content_type)


@api.get(
    "/training/{material_uuid}/light",
    auth=StationToken(),
    response={404: ErrorOut, **COMMON_ERRORS, **AUTH_ERRORS},
    openapi_extra={
        "responses": {
            200: {
                "description": "The material's light version; HTTP Range resumes a broken one.",
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            },
            206: {"description": "The part of it asked for by Range."},
        }
    },
)
def training_light(
    request: HttpRequest, material_uuid: uuid.UUID
) -> HttpResponse | StreamingHttpResponse:
    """The light version of a material of a programme the station's staff follow (training
    material, not patient data: no audit record per fetch)."""
    station: Station = request.auth  # type: ignore[attr-defined]
    material = training_hub.light_file_for(station, material_uuid)
    if material is None:
        raise HttpError(404, "No light version of that material for this station.")
    return ranged_file_response(
        request,
        material.light_file,
        size=material.light_size or material.light_file.size,
        content_type=material.light_content_type,
        filename=f"{material.uuid}",
        etag=f"{material.sha256[:32]}-light",
    )
