from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from farcare.core.timezones import zone_label


def farcare(request: HttpRequest) -> dict[str, Any]:
    zone = timezone.get_current_timezone()
    return {"viewer_zone": zone_label(timezone.now(), zone)}
