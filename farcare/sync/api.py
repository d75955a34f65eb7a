"""The hub's JSON API for stations (django-ninja): enrol, push the outbox, pull changes, fetch a
signed conclusion's PDF. Files themselves travel by tus at /uploads/ (farcare.uploads).
Bodies may be gzip-compressed (`Content-Encoding: gzip`): on a 64 kbit/s link it halves a push."""

from __future__ import annotations

import gzip
import json
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import NinjaAPI, Schema
from ninja.errors import HttpError
from ninja.parser import Parser
from ninja.security import HttpBearer

from farcare.access.policy import station_patients
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.models import Attachment

from . import hub
from .models import Station


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


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, error: PermissionDenied) -> HttpResponse:
    return api.create_response(request, {"detail": str(error)}, status=403)


class EnrolIn(Schema):
    username: str
    password: str
    name: str = ""


class PushIn(Schema):
    items: list[dict[str, Any]]


def _ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


@api.post("/enrol")
def enrol(request: HttpRequest, body: EnrolIn) -> dict[str, Any]:
    station, token = hub.station_enrol(
        request=request, username=body.username, password=body.password, name=body.name
    )
    return {
        "token": token,
        "station": str(station.uuid),
        "name": station.name,
        "facility": str(station.facility.uuid),
        "reference": hub.reference_data(station),
    }


@api.post("/push", auth=StationToken())
def push(request: HttpRequest, body: PushIn) -> dict[str, Any]:
    station: Station = request.auth  # type: ignore[attr-defined]
    return {"results": hub.push(station=station, items=body.items, ip=_ip(request))}


@api.get("/pull", auth=StationToken())
def pull(request: HttpRequest, since: str = "") -> dict[str, Any]:
    station: Station = request.auth  # type: ignore[attr-defined]
    try:
        return hub.pull(station=station, since=since, ip=_ip(request))
    except hub.SyncRefused as error:
        raise HttpError(400, str(error)) from error


@api.get("/files/{attachment_uuid}", auth=StationToken())
def file(request: HttpRequest, attachment_uuid: str) -> FileResponse:
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
