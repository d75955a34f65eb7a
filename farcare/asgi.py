"""The ASGI entry point: `uvicorn farcare.asgi:application`."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farcare.settings.dev")
application = get_asgi_application()
