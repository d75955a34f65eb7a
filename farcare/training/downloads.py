"""Serving a material so that a download broken by the satellite link resumes where it stopped:
HTTP Range (one range, as browsers and download managers ask), with an ETag so a resumed
download is refused a range of a changed file (If-Range)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from django.core.files import File
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

CHUNK = 64 * 1024
RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")


def _chunks(handle: IO[bytes], start: int, length: int) -> Iterator[bytes]:
    try:
        handle.seek(start)
        left = length
        while left > 0:
            data = handle.read(min(CHUNK, left))
            if not data:
                break
            left -= len(data)
            yield data
    finally:
        handle.close()


def _wanted(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a satisfiable single range, or None."""
    match = RANGE.match(header.strip())
    if match is None or size == 0:
        return None
    first, last = match.groups()
    if not first:
        if not last or int(last) == 0:
            return None
        return max(0, size - int(last)), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return None
    return start, end


def _backwards(header: str) -> bool:
    """A range whose last byte comes before its first is invalid, not unsatisfiable: RFC 9110
    (14.1.1) has it ignored, so the whole file is sent rather than a 416."""
    match = RANGE.match(header.strip())
    first, last = match.groups() if match else ("", "")
    return bool(first and last) and int(last) < int(first)


def ranged_file_response(
    request: HttpRequest,
    stored: File,
    *,
    size: int,
    content_type: str,
    filename: str,
    etag: str,
) -> HttpResponse | StreamingHttpResponse:
    tag = f'"{etag}"'
    header = request.headers.get("Range", "")
    if_range = request.headers.get("If-Range", "")
    span: tuple[int, int] | None = None
    if header and (not if_range or if_range == tag):
        span = _wanted(header, size)
        if span is None and RANGE.match(header.strip()) and not _backwards(header):
            refused = HttpResponse(status=416)
            refused["Content-Range"] = f"bytes */{size}"
            return refused
    start, end = span if span else (0, size - 1)
    length = max(0, end - start + 1)
    handle = stored.open("rb")
    response = StreamingHttpResponse(
        _chunks(handle, start, length),
        status=206 if span else 200,
        content_type=content_type,
    )
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = tag
    if span:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Disposition"] = content_disposition_header(True, filename) or "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    return response
