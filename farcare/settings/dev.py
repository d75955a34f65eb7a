"""The demo and development settings: `make run` uses these."""

from .base import *  # noqa: F403
from .base import SECRET_KEY as _SECRET_KEY
from .base import STORAGES

DEBUG = False
# A fixed key keeps demo sessions valid across restarts; production refuses to start without one.
SECRET_KEY = _SECRET_KEY or "farcare-demo-only-key-not-for-production-use-0123456789abcdef"
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Static files straight from the apps as well, so the site works before collectstatic.
WHITENOISE_USE_FINDERS = True
