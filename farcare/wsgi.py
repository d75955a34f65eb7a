"""The WSGI entry point (the tests' live servers, benches): the same two chains as farcare.asgi."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farcare.settings.dev")
pages_application = get_wsgi_application()

from farcare.core.api_chain import ApiWSGIHandler, wsgi_dispatch  # noqa: E402

application = wsgi_dispatch(pages_application, ApiWSGIHandler())
