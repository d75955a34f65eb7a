"""Production settings: refuse to start without a secret key, HTTPS everywhere, second factor
required for clinical roles."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import SECRET_KEY, env_bool, env_int

if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("FARCARE_SECRET_KEY must be set to at least 50 random characters")

DEBUG = False
FARCARE_REQUIRE_OTP = env_bool("FARCARE_REQUIRE_OTP", True)
SECURE_SSL_REDIRECT = env_bool("FARCARE_SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("FARCARE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
# The audit anchor's keys are made on purpose (`farcare audit keygen`) and kept apart from the
# database; a missing key is an error to fix, not something to paper over with a new one.
FARCARE_AUDIT_ANCHOR_GENERATE = env_bool("FARCARE_AUDIT_ANCHOR_GENERATE", False)
