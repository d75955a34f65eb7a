"""The demo and development settings: `make run` uses these."""

import contextlib
import warnings

from .base import *  # noqa: F403
from .base import SECRET_KEY as _SECRET_KEY
from .base import STATIC_ROOT, STORAGES

DEBUG = False
# A fixed key keeps demo sessions valid across restarts; production refuses to start without one.
SECRET_KEY = _SECRET_KEY or "farcare-demo-only-key-not-for-production-use-0123456789abcdef"
# As in production once `make run` has collected them (fingerprinted names cached for a year,
# compressed copies); plain names from the apps before that (farcare/core/staticfiles.py).
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "farcare.core.staticfiles.FingerprintedStaticFilesStorage"},
}
# Static files straight from the apps as well, so the site works before collectstatic.
WHITENOISE_USE_FINDERS = True
# WhiteNoise also reads STATIC_ROOT, and warns "No directory at …" when collectstatic has not
# made it (a post's laptop on its first `farcare station`, `make run` on a fresh checkout). Not
# yet collected is a normal state here, served from the apps: an empty folder says exactly that.
# Production keeps the warning, where a missing STATIC_ROOT means a step of the deploy was missed.
# A read-only VAR_DIR: WhiteNoise says so, and the apps' files are served regardless.
with contextlib.suppress(OSError):
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Under uvicorn Django warns once that WhiteNoise's file responses are read synchronously: a known
# cost, accepted in docs/decisions.md §10, that a feldsher at the station's console can do
# nothing about. Only that message is silenced.
warnings.filterwarnings(
    "ignore",
    message="StreamingHttpResponse must consume synchronous iterators",
    module="django.core.handlers.asgi",
)
