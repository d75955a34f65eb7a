"""The ASGI entry point: `uvicorn farcare.asgi:application` (gunicorn's uvicorn workers in
production). HTTP goes to Django: the FHIR REST API through the lean middleware chain (its
ordinary reads, on PostgreSQL, through the hot path in front of it: farcare/fhir/hot/),
everything else through the pages' (farcare/core/api_chain.py); WebSockets (live worklists,
calls) to Channels, behind the same session login and an origin check."""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farcare.settings.dev")
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from farcare.calls.consumers import CallConsumer  # noqa: E402
from farcare.consults.consumers import WorklistConsumer  # noqa: E402
from farcare.core.api_chain import (  # noqa: E402
    ApiASGIHandler,
    ApiWSGIHandler,
    ASGIApp,
    asgi_dispatch,
)
from farcare.core.api_threads import ThreadedWSGI, threads_for  # noqa: E402
from farcare.fhir.hot.app import HotPath, hot_reads_enabled  # noqa: E402

# FHIR requests that reach Django run on threads of their own (farcare/core/api_threads.py);
# FHIR reads and searches of the ordinary kind are answered in the event loop before that
# (farcare/fhir/hot/). The stations' sync stays on Django's one view thread: its pulls are
# CPU-bound, and beside other threads each of their many round trips waited for the GIL (the
# load test served half as many pulls a second on threads).
api_on_one_thread = ApiASGIHandler()
django_api: ASGIApp = (
    threads_for(
        "/fhir", ThreadedWSGI(ApiWSGIHandler(), settings.FARCARE_API_THREADS), api_on_one_thread
    )
    if settings.FARCARE_API_THREADS > 0
    else api_on_one_thread
)
api_application = HotPath(django_api) if hot_reads_enabled() else django_api

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
