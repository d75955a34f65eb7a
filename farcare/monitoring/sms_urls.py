from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from . import sms_webhook

app_name = "sms"

urlpatterns: list[URLPattern | URLResolver] = [
    path("inbound/", sms_webhook.inbound, name="inbound"),
]
