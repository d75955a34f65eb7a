"""The tus 1.0.0 resumable upload protocol (https://tus.io/protocols/resumable-upload) at
/uploads/, with the extensions creation, creation-with-upload, checksum, termination and
expiration. A file crosses a satellite link in chunks; after a drop the client asks how much
arrived and sends only the rest.

    OPTIONS /uploads/          what the server supports
    POST    /uploads/          create: Upload-Length, Upload-Metadata (with `purpose`) → 201
    HEAD    /uploads/<uuid>    Upload-Offset: where to resume
    PATCH   /uploads/<uuid>    append the body at Upload-Offset → 204 and the new offset
    DELETE  /uploads/<uuid>    terminate

Once complete, `FarCare-Upload-Result` names (by UUID) what the upload became.

Under uvicorn, Django reads a whole request body before the view runs, so a body cut off by a
drop is lost entirely: clients send small chunks (32–64 KiB over a 64 kbit/s link), so that a
drop costs at most one chunk.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, UnreadablePostError
from django.urls import reverse
from django.utils import translation
from django.utils.http import http_date
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from farcare.audit.services import Accessor

from . import purposes
from .auth import upload_user
from .models import Upload
from .services import (
    BeyondLength,
    OffsetMismatch,
    UploadExpired,
    UploadRefused,
    upload_append,
    upload_create,
    upload_terminate,
)

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,checksum,termination,expiration"
CHECKSUM_ALGORITHMS = ("sha1", "sha256", "md5")
OFFSET_STREAM = "application/offset+octet-stream"
RESULT_HEADER = "FarCare-Upload-Result"
METADATA_MAX_CHARS = 4096
MIB = 1024 * 1024
SUPPORTED_LANGUAGES = {code for code, _name in settings.LANGUAGES}
STATUS_OF_CODE = {
    purposes.BAD_METADATA: 400,
    purposes.TOO_LARGE: 413,
    purposes.UNSUPPORTED_TYPE: 415,
}


class TusError(Exception):
    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> HttpResponse:
        return _text(self.status, self.message, self.headers)


def _text(status: int, message: str, headers: Mapping[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(
        message,
        status=status,
        content_type="text/plain; charset=utf-8",
        reason="Checksum Mismatch" if status == 460 else None,
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def max_size() -> int:
    return int(settings.FARCARE_ATTACHMENT_MAX_MB) * MIB


def max_chunk() -> int:
    return int(settings.FARCARE_UPLOAD_MAX_CHUNK_MB) * MIB


View = Callable[..., HttpResponse]


def tus_endpoint(view: View) -> View:
    """Protocol version, authentication and the user's language for every request but OPTIONS;
    errors as plain text; Tus-Resumable on every response.

    CSRF-exempt: tus clients send no CSRF token. A page on another origin cannot make a user's
    browser send these requests: each needs the header Tus-Resumable (and PATCH or DELETE, or
    X-HTTP-Method-Override), which makes the browser ask first with a CORS preflight, and we
    never grant one (no Access-Control-Allow-* headers anywhere); a plain cross-site form POST
    carries no Tus-Resumable and is refused with 412 before anything is read."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Clients whose environment cannot send PATCH or DELETE say so in this header.
        method = request.headers.get("X-HTTP-Method-Override", request.method or "").upper()
        try:
            response = _dispatch(view, request, method, *args, **kwargs)
        except TusError as error:
            response = error.response()
        response["Tus-Resumable"] = TUS_VERSION
        return response

    return wrapper


def _dispatch(
    view: View, request: HttpRequest, method: str, *args: Any, **kwargs: Any
) -> HttpResponse:
    if method == "OPTIONS":
        return _options()
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise TusError(
            412,
            _("This server speaks tus %(version)s: send the header Tus-Resumable: %(version)s.")
            % {"version": TUS_VERSION},
            {"Tus-Version": TUS_VERSION},
        )
    user = upload_user(request)
    if user is None:
        raise TusError(
            401,
            _("Log in, or send a bearer token."),
            {"WWW-Authenticate": 'Bearer realm="farcare"'},
        )
    accessor = Accessor(user, request.META.get("REMOTE_ADDR") or None, "upload")
    # A token's user has no session for the middleware to read their language from.
    language = getattr(user, "language", "")
    with translation.override(language) if language in SUPPORTED_LANGUAGES else nullcontext():
        try:
            return view(request, method, accessor, *args, **kwargs)
        except PermissionDenied as error:
            raise TusError(403, str(error) or _("You may not do this.")) from error
        except ValidationError as error:
            status = STATUS_OF_CODE.get(getattr(error, "code", None) or "", 422)
            raise TusError(status, " ".join(error.messages)) from error


def _empty(status: int) -> HttpResponse:
    response = HttpResponse(status=status)
    del response["Content-Type"]  # there is no content to have a type
    return response


def _options() -> HttpResponse:
    response = _empty(204)
    response["Tus-Version"] = TUS_VERSION
    response["Tus-Extension"] = EXTENSIONS
    response["Tus-Max-Size"] = str(max_size())
    response["Tus-Checksum-Algorithm"] = ",".join(CHECKSUM_ALGORITHMS)
    return response


def _not_allowed(allowed: str) -> HttpResponse:
    return _text(405, _("This method is not allowed here."), {"Allow": allowed})


# --- the views ------------------------------------------------------------------------------


@tus_endpoint
def collection(request: HttpRequest, method: str, accessor: Accessor) -> HttpResponse:
    if method != "POST":
        return _not_allowed("OPTIONS, POST")
    return _create(request, accessor)


@tus_endpoint
def resource(request: HttpRequest, method: str, accessor: Accessor, upload_id: str) -> HttpResponse:
    upload = _find(upload_id, accessor)
    if method == "HEAD":
        return _head(upload)
    if method == "PATCH":
        return _patch(request, accessor, upload)
    if method == "DELETE":
        upload_terminate(upload=upload)
        return _empty(204)
    return _not_allowed("OPTIONS, HEAD, PATCH, DELETE")


def _find(upload_id: str, accessor: Accessor) -> Upload:
    """The caller's own upload; anyone else's is as unknown as one that never existed."""
    try:
        key = uuid.UUID(upload_id)
    except ValueError:
        key = None
    upload = Upload.objects.filter(uuid=key, owner=accessor.user).first() if key else None
    if upload is None:
        raise TusError(404, _("There is no such upload."))
    return upload


def _create(request: HttpRequest, accessor: Accessor) -> HttpResponse:
    if "Upload-Defer-Length" in request.headers:
        raise TusError(400, _("Uploads of unknown length are not supported: send Upload-Length."))
    length = _whole_number(request.headers.get("Upload-Length"), "Upload-Length")
    if length > max_size():
        raise TusError(
            413,
            _("The file is larger than %(limit)s MB.")
            % {"limit": settings.FARCARE_ATTACHMENT_MAX_MB},
        )
    metadata = parse_metadata(request.headers.get("Upload-Metadata", ""))
    # creation-with-upload: the first chunk may come with the request that creates the upload,
    # which saves a round trip (600 ms over the satellite).
    data = b""
    if request.content_type == OFFSET_STREAM:
        data = _read_body(request)
        verify_checksum(request.headers.get("Upload-Checksum", ""), data)
    elif _declared_length(request):
        raise TusError(415, _("Send the bytes as %(type)s.") % {"type": OFFSET_STREAM})
    upload = upload_create(
        accessor=accessor, purpose=metadata.get("purpose", ""), metadata=metadata, length=length
    )
    location = request.build_absolute_uri(reverse("uploads:upload", args=[str(upload.uuid)]))
    if data or length == 0:
        try:
            upload = upload_append(accessor=accessor, upload=upload, offset=0, data=data)
        except UploadRefused as error:
            raise TusError(422, error.reason, {"Location": location}) from error
    response = _empty(201)
    response["Location"] = location
    _progress_headers(response, upload)
    return response


def _head(upload: Upload) -> HttpResponse:
    if upload.failed or upload.expired():
        raise TusError(410, _("This upload is over: start it again."))
    response = _empty(200)
    _progress_headers(response, upload)
    response["Upload-Length"] = str(upload.length)
    if upload.metadata:
        response["Upload-Metadata"] = encode_metadata(upload.metadata)
    response["Cache-Control"] = "no-store"
    return response


def _patch(request: HttpRequest, accessor: Accessor, upload: Upload) -> HttpResponse:
    if request.content_type != OFFSET_STREAM:
        raise TusError(415, _("Send the bytes as %(type)s.") % {"type": OFFSET_STREAM})
    offset = _whole_number(request.headers.get("Upload-Offset"), "Upload-Offset")
    data = _read_body(request)
    verify_checksum(request.headers.get("Upload-Checksum", ""), data)
    try:
        upload = upload_append(accessor=accessor, upload=upload, offset=offset, data=data)
    except OffsetMismatch as error:
        raise TusError(
            409,
            _(
                "The upload has %(offset)s bytes, not %(sent)s: ask how many (HEAD) and "
                "send the rest from there."
            )
            % {"offset": error.offset, "sent": offset},
        ) from error
    except BeyondLength as error:
        raise TusError(413, _("These bytes run past the end of the file.")) from error
    except UploadExpired as error:
        raise TusError(410, _("This upload is over: start it again.")) from error
    except UploadRefused as error:
        raise TusError(422, error.reason) from error
    response = _empty(204)
    _progress_headers(response, upload)
    return response


def _progress_headers(response: HttpResponse, upload: Upload) -> None:
    response["Upload-Offset"] = str(upload.offset)
    if upload.completed_at is None:
        response["Upload-Expires"] = http_date(upload.expires_at.timestamp())
    if upload.result_uuid is not None:
        response[RESULT_HEADER] = str(upload.result_uuid)


# --- headers and body -----------------------------------------------------------------------


def _whole_number(value: str | None, header: str) -> int:
    text = (value or "").strip()
    if not text.isdigit():  # also refuses signs, spaces inside and an empty value
        raise TusError(400, _("%(header)s must be a whole number of bytes.") % {"header": header})
    return int(text)


def _declared_length(request: HttpRequest) -> int:
    value = request.headers.get("Content-Length")
    return _whole_number(value, "Content-Length") if value else 0


def _read_body(request: HttpRequest) -> bytes:
    """The whole body, at most one chunk's worth; a body cut short is refused whole, since a
    checksum can only vouch for all of it."""
    limit = max_chunk()
    too_large = TusError(
        413,
        _("Send at most %(limit)s MB in one request.")
        % {"limit": settings.FARCARE_UPLOAD_MAX_CHUNK_MB},
    )
    declared = _declared_length(request)
    if declared > limit:
        raise too_large
    cut_short = TusError(400, _("The request ended before all its bytes arrived."))
    try:
        data = request.read(limit + 1)
    except UnreadablePostError as error:  # the connection dropped while the body came in
        raise cut_short from error
    if len(data) > limit:
        raise too_large
    if "Content-Length" in request.headers and len(data) != declared:
        raise cut_short
    return data


def verify_checksum(header: str, data: bytes) -> None:
    """`Upload-Checksum: <algorithm> <base64 digest>` of the body (tus checksum extension)."""
    if not header:
        return
    algorithm, _space, encoded = header.strip().partition(" ")
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise TusError(
            400,
            _("Checksum algorithm %(algorithm)s is not supported; use %(supported)s.")
            % {"algorithm": algorithm, "supported": ", ".join(CHECKSUM_ALGORITHMS)},
        )
    try:
        expected = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error as error:
        raise TusError(
            400, _("Upload-Checksum must be an algorithm and a base64 digest.")
        ) from error
    actual = hashlib.new(algorithm, data, usedforsecurity=False).digest()
    if not hmac.compare_digest(actual, expected):
        raise TusError(
            460,
            _(
                "The bytes do not match their checksum: they were damaged on the way. "
                "Send them again."
            ),
        )


def parse_metadata(header: str) -> dict[str, str]:
    """`key base64value,key2 base64value2`: keys unique, without spaces or commas; a value may
    be empty (and then the space may be left out). Values must be UTF-8 text here."""
    if len(header) > METADATA_MAX_CHARS:
        raise TusError(400, _("Upload-Metadata is too long."))
    metadata: dict[str, str] = {}
    for pair in header.split(","):
        if not pair.strip():
            continue
        key, _space, encoded = pair.strip().partition(" ")
        try:
            if not key or key in metadata or " " in encoded.strip():
                raise ValueError(key)
            metadata[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (ValueError, binascii.Error) as error:  # UnicodeDecodeError is a ValueError
            raise TusError(
                400, _("Upload-Metadata is malformed near “%(key)s”.") % {"key": key[:40]}
            ) from error
    return metadata


def encode_metadata(metadata: Mapping[str, str]) -> str:
    # Re-encoded from what was parsed: base64 cannot smuggle anything into a header.
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode('ascii')}"
        for key, value in metadata.items()
    )
