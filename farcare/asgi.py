"""The ASGI entry point: `uvicorn farcare.asgi:application` (gunicorn's uvicorn workers in
production). HTTP goes to Django: the FHIR REST API through the lean middleware chain (its
ordinary reads, on PostgreSQL, through the hot path in front of it: farcare/fhir/hot/),
everything else through the pages' (farcare/core/api_chain.py); WebSockets (live worklists,
calls) to Channels, behind the same session login and an origin check."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farcare.settings.dev")
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from farcare.calls.consumers import CallConsumer  # noqa: E402
from farcare.consults.consumers import WorklistConsumer  # noqa: E402
from farcare.core.api_chain import ApiASGIHandler, asgi_dispatch  # noqa: E402
from farcare.fhir.hot.app import HotPath, hot_reads_enabled  # noqa: E402

# FHIR reads of the ordinary kind are answered in the event loop (farcare/fhir/hot/), the rest
# by Django's handler on the lean chain.
api_application = HotPath(ApiASGIHandler()) if hot_reads_enabled() else ApiASGIHandler()

application = ProtocolTypeRouter(
    {
        "http": asgi_dispatch(django_application, api_application),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(
                URLRouter(
                    [
                        path("ws/worklist/", WorklistConsumer.as_asgi()),
                        path("ws/call/<uuid:call_uuid>/", CallConsumer.as_asgi()),
                    ]
                )
            )
        ),
    }
)
