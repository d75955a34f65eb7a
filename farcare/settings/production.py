"""Production settings: refuse to start without a secret key, HTTPS everywhere, second factor
required for clinical roles; PostgreSQL through psycopg's pool, Redis for the cache and the
channel layer, files on S3-compatible storage when FARCARE_STORAGE=s3.

Served by `gunicorn -c deploy/gunicorn.conf.py farcare.asgi:application` behind nginx
(deploy/nginx/farcare.conf); the workers run as systemd units (deploy/systemd/). Every variable is
listed in deploy/farcare.env.example."""

from __future__ import annotations

import os
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DATABASES, SECRET_KEY, STORAGES, env_bool, env_int

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

# --- The database ----------------------------------------------------------------------------
# SQLite has one writer for the whole file: under several worker processes writes queue behind
# one another and, past the busy timeout, are refused (issue 19). Production is PostgreSQL; the
# bench's SQLite comparison says so explicitly with FARCARE_ALLOW_SQLITE=1.
_database = DATABASES["default"]
_POSTGRESQL = ("django.db.backends.postgresql", "farcare.core.db.postgresql")
if _database["ENGINE"] not in _POSTGRESQL and not env_bool("FARCARE_ALLOW_SQLITE", False):
    raise ImproperlyConfigured(
        "Production needs PostgreSQL: set FARCARE_DATABASE_URL=postgres://user:password@host/db "
        "(FARCARE_ALLOW_SQLITE=1 runs on SQLite anyway, for a comparison, never for patients)."
    )
if _database["ENGINE"] in _POSTGRESQL:
    _options: dict[str, Any] = _database.setdefault("OPTIONS", {})
    # Who holds which connection shows in pg_stat_activity: the web server or one of the
    # workers (their systemd units set it to farcare-<worker>).
    _options["application_name"] = os.environ.get("FARCARE_DB_APPLICATION_NAME", "farcare")
    if env_bool("FARCARE_DB_POOL", True):
        # Each gunicorn worker keeps its own pool (preload is off, so no connection crosses a
        # fork). Django returns the connection to the pool at the end of every request instead
        # of closing it. A pool and CONN_MAX_AGE exclude each other (Django refuses both), and
        # under ASGI Django advises the pool.
        _options["pool"] = {
            "min_size": env_int("FARCARE_DB_POOL_MIN", 2),
            "max_size": env_int("FARCARE_DB_POOL_MAX", 8),
            # Seconds a request waits for a free connection; past it psycopg_pool raises
            # PoolTimeout, a busy database like a lock timeout (503, farcare.core.contention).
            "timeout": env_int("FARCARE_DB_POOL_TIMEOUT", 10),
        }
        _database["CONN_MAX_AGE"] = 0
    else:
        # Without the pool (the console workers, each one connection for its whole life; or
        # PgBouncer in front): persistent connections, checked before reuse.
        _database["CONN_MAX_AGE"] = env_int("FARCARE_DB_CONN_MAX_AGE", 60)
    # Checked before reuse: with the pool, a connection idle in it when PostgreSQL restarted is
    # found dead on loan (Django gives the pool psycopg's check), not by the request that gets
    # it; without, a persistent connection is checked at the start of each request.
    _database["CONN_HEALTH_CHECKS"] = env_bool("FARCARE_DB_HEALTH_CHECKS", True)

# --- Redis: the cache and the channel layer --------------------------------------------------
# Production is always several processes (gunicorn's workers and the console workers of
# deploy/systemd). Without a shared cache and channel layer each process would keep its own:
# a live worklist on one worker would never hear of a change made on another, and whatever is
# cached per deployment (token codes, the referral graph's generation) would differ from process
# to process. That fails silently, so production refuses to start instead of warning.
FARCARE_REDIS_URL = os.environ.get("FARCARE_REDIS_URL", "")
if not FARCARE_REDIS_URL:
    raise ImproperlyConfigured(
        "Production needs Redis for the cache and the live worklists shared by its processes: "
        "set FARCARE_REDIS_URL=redis://127.0.0.1:6379/0"
    )
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": FARCARE_REDIS_URL,
        "KEY_PREFIX": os.environ.get("FARCARE_CACHE_PREFIX", "farcare"),
        "TIMEOUT": env_int("FARCARE_CACHE_TIMEOUT_SECONDS", 300),
    }
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [FARCARE_REDIS_URL],
            "prefix": os.environ.get("FARCARE_CHANNELS_PREFIX", "farcare-asgi"),
        },
    }
}

# --- Files on S3-compatible storage (FARCARE_STORAGE=s3) ---------------------------------------
_default_storage: dict[str, Any] = STORAGES["default"]  # type: ignore[assignment]
if _default_storage["BACKEND"] == "storages.backends.s3.S3Storage":
    _s3: dict[str, Any] = _default_storage["OPTIONS"]
    _s3.update(
        {
            # Two trainers' "lecture.pdf" must not overwrite each other: like the local folder,
            # a taken name gets a suffix (django-storages overwrites by default).
            "file_overwrite": False,
            "signature_version": "s3v4",
            # MinIO, Ceph and most stores on premises answer at one host with the bucket in the
            # path; AWS itself takes "virtual".
            "addressing_style": os.environ.get(
                "FARCARE_S3_ADDRESSING_STYLE", "path" if _s3.get("endpoint_url") else "virtual"
            ),
        }
    )
    # Keys from FARCARE_S3_ACCESS_KEY/SECRET_KEY, else boto3's own chain (AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY, a profile, an instance role).
    if os.environ.get("FARCARE_S3_ACCESS_KEY"):
        _s3["access_key"] = os.environ["FARCARE_S3_ACCESS_KEY"]
        _s3["secret_key"] = os.environ.get("FARCARE_S3_SECRET_KEY", "")
    if os.environ.get("FARCARE_S3_CA_BUNDLE"):
        _s3["verify"] = os.environ["FARCARE_S3_CA_BUNDLE"]

# --- Static files ------------------------------------------------------------------------------
# `farcare collectstatic` writes fingerprinted names with .gz and .br copies beside them into
# STATIC_ROOT (CompressedManifestStaticFilesStorage in base). WhiteNoise serves fingerprinted
# names as immutable for ten years by itself; these are the few unfingerprinted ones (a file
# linked by its plain name), cached for an hour. nginx serves /static/ straight from
# STATIC_ROOT with the same rules (deploy/nginx/farcare.conf).
WHITENOISE_MAX_AGE = env_int("FARCARE_STATIC_MAX_AGE", 3600)
