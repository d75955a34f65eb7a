"""Settings shared by every environment. Everything that differs between deployments comes from
environment variables named FARCARE_*; each is documented in README.md."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR = BASE_DIR.parent
VAR_DIR = Path(os.environ.get("FARCARE_VAR_DIR", PROJECT_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


SECRET_KEY = os.environ.get("FARCARE_SECRET_KEY", "")
DEBUG = False
ALLOWED_HOSTS = env_list("FARCARE_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("FARCARE_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # Django's admin, logging in through FarCare's login (farcare/accounts/admin_site.py).
    "farcare.accounts.apps.FarCareAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "channels",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "farcare.core",
    "farcare.accounts",
    "farcare.audit",
    "farcare.network",
    "farcare.patients",
    "farcare.access",
    "farcare.clinical",
    "farcare.signatures",
    "farcare.notifications",
    "farcare.consults",
    "farcare.diagnostics",
    "farcare.imaging",
    "farcare.scheduling",
    "farcare.calls",
    "farcare.training",
    "farcare.casebook",
    "farcare.learning",
    "farcare.evacuation",
    "farcare.monitoring",
    "farcare.analytics",
    "farcare.hl7",
    "farcare.fhir",
    "farcare.uploads",
    "farcare.sync",
    "farcare.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy and Permissions-Policy on every response (FARCARE_CSP below).
    "farcare.core.middleware.SecurityHeadersMiddleware",
    # Outside everything that writes (sessions included): a write that waited too long for the
    # database becomes 503 with Retry-After instead of a 500.
    "farcare.core.contention.DatabaseBusyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "farcare.accounts.middleware.UserPreferencesMiddleware",
    "farcare.accounts.middleware.SecondFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The bearer-token APIs' lean chain (FHIR, station sync; farcare/core/api_chain.py): no session, no
# CSRF, no page machinery; the busy-database answer, gzip and the client's language kept.
FARCARE_API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "farcare.core.middleware.SecurityHeadersMiddleware",
    "farcare.core.contention.DatabaseBusyMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.middleware.locale.LocaleMiddleware",
]

ROOT_URLCONF = "farcare.urls"
ASGI_APPLICATION = "farcare.asgi.application"
WSGI_APPLICATION = "farcare.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "farcare.core.context_processors.farcare",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("FARCARE_DATABASE_URL", f"sqlite:///{VAR_DIR / 'farcare.sqlite3'}"),
        conn_max_age=env_int("FARCARE_DB_CONN_MAX_AGE", 0),
    )
}
# A write waits this long for another writer to finish (SQLite's busy timeout, PostgreSQL's
# lock_timeout); past it the request is answered 503 with Retry-After (farcare.core.contention).
FARCARE_DB_BUSY_TIMEOUT_SECONDS = env_int("FARCARE_DB_BUSY_TIMEOUT_SECONDS", 20)
FARCARE_RETRY_AFTER_SECONDS = env_int("FARCARE_RETRY_AFTER_SECONDS", 5)
# How many times a request or worker step PostgreSQL rolled back for a serialization failure or
# a deadlock, having committed nothing, is run again before the 503 (0: never).
FARCARE_DB_CONFLICT_RETRIES = env_int("FARCARE_DB_CONFLICT_RETRIES", 3)
# The FHIR hot path (farcare/fhir/hot/): ordinary reads answered in the ASGI worker's event loop
# on its own async connections (PostgreSQL only; at most FARCARE_FHIR_HOT_POOL_MAX per worker,
# besides Django's). A statement is prepared on a connection after that many runs (0: at once;
# set FARCARE_FHIR_HOT_PREPARE=0 behind a pooler in transaction mode that cannot keep them).
FARCARE_FHIR_HOT_READS = env_bool("FARCARE_FHIR_HOT_READS", True)
# Threads per ASGI worker for the machine APIs' requests that reach Django (FHIR, station sync:
# farcare/core/api_threads.py); 0 runs them on Django's one view thread like the pages.
FARCARE_API_THREADS = env_int("FARCARE_API_THREADS", 4)
FARCARE_FHIR_HOT_POOL_MAX = env_int("FARCARE_FHIR_HOT_POOL_MAX", 4)
FARCARE_FHIR_HOT_POOL_TIMEOUT = env_int("FARCARE_FHIR_HOT_POOL_TIMEOUT", 10)
FARCARE_FHIR_HOT_PREPARE_THRESHOLD: int | None = (
    env_int("FARCARE_FHIR_HOT_PREPARE_THRESHOLD", 2)
    if env_bool("FARCARE_FHIR_HOT_PREPARE", True)
    else None
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A fresh checkout has no var/ yet; SQLite cannot create the folder itself.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets readers proceed while a writer commits; IMMEDIATE makes write transactions take
    # the lock up front, so two writers queue (for up to the busy timeout) instead of one of
    # them failing halfway when it tries to upgrade a read to a write.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": FARCARE_DB_BUSY_TIMEOUT_SECONDS,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, also telling a request whether it has committed anything yet, so one that
    # PostgreSQL rolled back for a conflict is served again (farcare.core.contention).
    DATABASES["default"]["ENGINE"] = "farcare.core.db.postgresql"
    # A row lock held by a long transaction: wait, but not for ever.
    _pg_options = DATABASES["default"].setdefault("OPTIONS", {})
    _pg_options["options"] = (
        f"{_pg_options.get('options', '')} -c lock_timeout={FARCARE_DB_BUSY_TIMEOUT_SECONDS * 1000}"
    ).strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"
# Django's ModelBackend that also refuses a locked account, so no path can skip the lockout.
AUTHENTICATION_BACKENDS = ["farcare.accounts.backends.LockoutModelBackend"]

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sessions end after this much inactivity: every request pushes the expiry forward.
SESSION_COOKIE_AGE = env_int("FARCARE_SESSION_IDLE_MINUTES", 30) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

FARCARE_LOCKOUT_ATTEMPTS = env_int("FARCARE_LOCKOUT_ATTEMPTS", 5)
FARCARE_LOCKOUT_MINUTES = env_int("FARCARE_LOCKOUT_MINUTES", 15)
FARCARE_BREAK_GLASS_MINUTES = env_int("FARCARE_BREAK_GLASS_MINUTES", 60)
# Patients' identities stay in this country's database; consultants elsewhere see pseudonyms.
FARCARE_HOME_COUNTRY = os.environ.get("FARCARE_HOME_COUNTRY", "RU")
FARCARE_ATTACHMENT_MAX_MB = env_int("FARCARE_ATTACHMENT_MAX_MB", 25)
FARCARE_APPOINTMENT_REMINDERS_MINUTES = [
    int(m) for m in env_list("FARCARE_APPOINTMENT_REMINDERS_MINUTES", ["1440", "15"])
]
# Free text of a consultation, in characters: a question and a thread message are read on a phone
# over a satellite link; longer material goes as an attached document.
FARCARE_QUESTION_MAX_CHARS = env_int("FARCARE_QUESTION_MAX_CHARS", 4000)
FARCARE_SUMMARY_MAX_CHARS = env_int("FARCARE_SUMMARY_MAX_CHARS", 20000)
FARCARE_MESSAGE_MAX_CHARS = env_int("FARCARE_MESSAGE_MAX_CHARS", 4000)
# Resumable uploads (tus, /uploads/): bytes so far in this folder; an unfinished upload expires
# this long after its last chunk; one request carries at most this much.
FARCARE_UPLOAD_DIR = Path(os.environ.get("FARCARE_UPLOAD_DIR", VAR_DIR / "uploads"))
FARCARE_UPLOAD_EXPIRY_HOURS = env_int("FARCARE_UPLOAD_EXPIRY_HOURS", 72)
FARCARE_UPLOAD_MAX_CHUNK_MB = env_int("FARCARE_UPLOAD_MAX_CHUNK_MB", 16)
# Station mode (farcare.sync): originals of images "follow" their previews, or wait until the
# consultant asks ("on-request"); files cross in chunks of this size (the unit re-sent after a
# drop); an idle station syncs this often.
FARCARE_STATION_ORIGINALS = os.environ.get("FARCARE_STATION_ORIGINALS", "follow")
FARCARE_STATION_CHUNK_KB = env_int("FARCARE_STATION_CHUNK_KB", 64)
FARCARE_STATION_SYNC_SECONDS = env_int("FARCARE_STATION_SYNC_SECONDS", 30)
FARCARE_STATION_TIMEOUT_SECONDS = env_int("FARCARE_STATION_TIMEOUT_SECONDS", 60)
FARCARE_STATION_SMALL_FILE_KB = env_int("FARCARE_STATION_SMALL_FILE_KB", 256)
# While files cross, a pass pulls the hub's answers at least this often (and before each file);
# after a drop it probes the hub first after PROBE seconds, doubling up to PROBE_MAX while the
# probe fails.
FARCARE_STATION_PULL_SECONDS = env_int("FARCARE_STATION_PULL_SECONDS", 20)
FARCARE_STATION_PROBE_SECONDS = env_int("FARCARE_STATION_PROBE_SECONDS", 2)
FARCARE_STATION_PROBE_MAX_SECONDS = env_int("FARCARE_STATION_PROBE_MAX_SECONDS", 15)
# A FHIR DocumentReference carries its file in base64 (4/3 of the size) inside JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = (FARCARE_ATTACHMENT_MAX_MB * 4 // 3 + 2) * 1024 * 1024
# A FHIR request body beyond this is refused with 413 before it is parsed; a Bundle of more
# entries than this is refused whole (one transaction would hold the database's writer too long).
FARCARE_FHIR_MAX_BODY_BYTES = env_int("FARCARE_FHIR_MAX_BODY_BYTES", DATA_UPLOAD_MAX_MEMORY_SIZE)
FARCARE_FHIR_MAX_BUNDLE_ENTRIES = env_int("FARCARE_FHIR_MAX_BUNDLE_ENTRIES", 1000)
# The audit chain is anchored outside the database (farcare/audit/anchor.py): signed checkpoints
# in a directory the database's owner cannot rewrite (WORM storage, another host in production),
# one every this many records and whenever `farcare audit checkpoint` runs. Signing needs the
# private key; `farcare audit verify` only the public one. A missing key pair is generated on
# first use unless FARCARE_AUDIT_ANCHOR_GENERATE is off (production: `farcare audit keygen`).
FARCARE_AUDIT_ANCHOR_DIR = Path(
    os.environ.get("FARCARE_AUDIT_ANCHOR_DIR", VAR_DIR / "audit-anchor" / "checkpoints")
)
FARCARE_AUDIT_ANCHOR_KEY = Path(
    os.environ.get("FARCARE_AUDIT_ANCHOR_KEY", VAR_DIR / "audit-anchor" / "signing-key.pem")
)
FARCARE_AUDIT_ANCHOR_PUBLIC_KEY = Path(
    os.environ.get("FARCARE_AUDIT_ANCHOR_PUBLIC_KEY", VAR_DIR / "audit-anchor" / "verify-key.pem")
)
FARCARE_AUDIT_ANCHOR_GENERATE = env_bool("FARCARE_AUDIT_ANCHOR_GENERATE", True)
FARCARE_AUDIT_CHECKPOINT_EVERY = env_int("FARCARE_AUDIT_CHECKPOINT_EVERY", 1000)
# The signer of conclusions: Ed25519 keys per consultant by default; a deployment in Russia
# plugs in a certified GOST provider here (farcare/signatures/signers.py).
FARCARE_SIGNER = os.environ.get("FARCARE_SIGNER", "farcare.signatures.signers.Ed25519Signer")
# Imaging studies read remotely (farcare/imaging/pacs.py): a PACS reached over DICOMweb
# (QIDO-RS, WADO-RS, STOW-RS; Orthanc with its DICOMweb plugin, e.g.
# http://127.0.0.1:8042/dicom-web) when set, else FarCare's own storage (the embedded default).
FARCARE_DICOMWEB_URL = os.environ.get("FARCARE_DICOMWEB_URL", "")
FARCARE_DICOMWEB_TIMEOUT = env_int("FARCARE_DICOMWEB_TIMEOUT", 10)
# JPEG/WebP quality of the viewer's frames drawn by FarCare (farcare/imaging/frames.py).
FARCARE_IMAGING_FRAME_QUALITY = env_int("FARCARE_IMAGING_FRAME_QUALITY", 70)
# Hours to report a study, by priority; the defaults (farcare/imaging/reading_rules.py) are
# stat 1, asap 4, urgent 24, routine 72.
FARCARE_IMAGING_READ_HOURS: dict[str, int] = {}
# The page "Add images" (farcare/imaging/intake.py): the largest DICOM file and the largest
# upload (all its files) it takes, in MB; larger studies go from the machine to the PACS.
FARCARE_IMAGING_MAX_FILE_MB = env_int("FARCARE_IMAGING_MAX_FILE_MB", 200)
FARCARE_IMAGING_MAX_UPLOAD_MB = env_int("FARCARE_IMAGING_MAX_UPLOAD_MB", 1000)
# A CT or MR study is hundreds of single-frame files, each a form part: Django's default of 100
# parts would refuse most studies before the limits above are even asked.
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("FARCARE_IMAGING_MAX_FILES", 3000)
# `farcare imaging import-from-pacs`: where studies a modality sent straight to the PACS were
# made when no order names them (a facility's UUID or name), and how far back the first poll looks.
FARCARE_PACS_FACILITY = os.environ.get("FARCARE_PACS_FACILITY", "")
FARCARE_PACS_IMPORT_FIRST_DAYS = env_int("FARCARE_PACS_IMPORT_FIRST_DAYS", 7)

# Diagnostics (farcare/diagnostics): a critical value must be acknowledged within this many
# minutes before it escalates; a result that needs a clinician's review first (urine hCG and
# troponins unless listed here, comma-separated LOINC) reaches the patient after the review or
# after this many hours.
FARCARE_CRITICAL_ACK_MINUTES = env_int("FARCARE_CRITICAL_ACK_MINUTES", 30)
# ... and, still unacknowledged this long after that, again to the region's coordinators.
FARCARE_CRITICAL_SECOND_ESCALATION_MINUTES = env_int(
    "FARCARE_CRITICAL_SECOND_ESCALATION_MINUTES", 30
)
FARCARE_RESULTS_RELEASE_HOURS = env_int("FARCARE_RESULTS_RELEASE_HOURS", 72)
FARCARE_RESULTS_REVIEW_CODES = env_list("FARCARE_RESULTS_REVIEW_CODES", []) or None

# Remote monitoring (farcare/monitoring, issue 17): how long a clinician has to acknowledge an
# alert of each severity before it escalates to the district doctor(s) and the region's
# coordinators; still unacknowledged this long after, to the coordinators again.
FARCARE_MONITORING_ACK_MINUTES = {
    "critical": env_int("FARCARE_MONITORING_ACK_CRITICAL_MINUTES", 30),
    "urgent": env_int("FARCARE_MONITORING_ACK_URGENT_MINUTES", 240),
    "watch": env_int("FARCARE_MONITORING_ACK_WATCH_MINUTES", 1440),
}
FARCARE_MONITORING_SECOND_ESCALATION_MINUTES = env_int(
    "FARCARE_MONITORING_SECOND_ESCALATION_MINUTES", 60
)
# Analytics (issue 18): `farcare analytics compute --loop` refreshes the indicators once a day at
# this hour (UTC), incrementally; the pages read only what it computed.
FARCARE_ANALYTICS_HOUR_UTC = env_int("FARCARE_ANALYTICS_HOUR_UTC", 2)
# The SMS gateway's inbound webhook (POST /api/sms/inbound/) is refused (503) until its bearer
# token is set; replies go out through FARCARE_SMS_GATEWAY_URL, retried this many times.
FARCARE_SMS_INBOUND_TOKEN = os.environ.get("FARCARE_SMS_INBOUND_TOKEN", "")
FARCARE_SMS_REPLY_MAX_ATTEMPTS = env_int("FARCARE_SMS_REPLY_MAX_ATTEMPTS", 8)

# HL7 v2 over MLLP (farcare/hl7): the largest message accepted, and how long the listener waits
# for a message's end block.
FARCARE_HL7_MAX_BYTES = env_int("FARCARE_HL7_MAX_BYTES", 1024 * 1024)
FARCARE_HL7_FRAME_TIMEOUT = env_int("FARCARE_HL7_FRAME_TIMEOUT", 30)

# Previews of photos and DICOM files (farcare/imaging/previews.py): longer side in pixels, format
# ("webp" or "avif") and encoder quality (1-100); checked when a preview is made.
FARCARE_PREVIEW_MAX_PX = env_int("FARCARE_PREVIEW_MAX_PX", 1600)
FARCARE_PREVIEW_FORMAT = os.environ.get("FARCARE_PREVIEW_FORMAT", "webp")
FARCARE_PREVIEW_QUALITY = env_int("FARCARE_PREVIEW_QUALITY", 60)

# Notifications: e-mail over SMTP, SMS through an HTTP gateway, both from an outbox with retries.
FARCARE_SITE_URL = os.environ.get("FARCARE_SITE_URL", "")
FARCARE_SMS_GATEWAY_URL = os.environ.get("FARCARE_SMS_GATEWAY_URL", "")
FARCARE_SMS_GATEWAY_TOKEN = os.environ.get("FARCARE_SMS_GATEWAY_TOKEN", "")
FARCARE_SMS_TIMEOUT_SECONDS = env_int("FARCARE_SMS_TIMEOUT_SECONDS", 10)
FARCARE_NOTIFICATION_MAX_ATTEMPTS = env_int("FARCARE_NOTIFICATION_MAX_ATTEMPTS", 12)
EMAIL_HOST = os.environ.get("FARCARE_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("FARCARE_EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("FARCARE_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("FARCARE_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("FARCARE_EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("FARCARE_EMAIL_TIMEOUT_SECONDS", 30)
DEFAULT_FROM_EMAIL = os.environ.get("FARCARE_EMAIL_FROM", "FarCare <farcare@localhost>")

# Live worklists: in-memory channel layer in one process; Redis for several.
if os.environ.get("FARCARE_REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [os.environ["FARCARE_REDIS_URL"]]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
FARCARE_REQUIRE_OTP = env_bool("FARCARE_REQUIRE_OTP", False)

# Consilium calls (3-5 people) go through Janus's video room (an SFU; farcare.calls.janus). Empty
# FARCARE_JANUS_URL: no consilium calls, the page points to the call of two. The URL is Janus's
# HTTP API as the server reaches it; the WS URL is what browsers open (added to connect-src of the
# consilium page only). The API secret is Janus's api_secret (server only); the token secret is
# its token_auth_secret, with which the server signs a short-lived token for each browser.
FARCARE_JANUS_URL = os.environ.get("FARCARE_JANUS_URL", "")
FARCARE_JANUS_WS_URL = os.environ.get("FARCARE_JANUS_WS_URL", "")
FARCARE_JANUS_API_SECRET = os.environ.get("FARCARE_JANUS_API_SECRET", "")
FARCARE_JANUS_TOKEN_SECRET = os.environ.get("FARCARE_JANUS_TOKEN_SECRET", "")
FARCARE_JANUS_TIMEOUT_SECONDS = env_int("FARCARE_JANUS_TIMEOUT_SECONDS", 5)

# Calls of two (farcare.calls): WebRTC browser to browser. ICE servers are a JSON list of
# RTCIceServer dicts (on loopback or a LAN none is needed). With a TURN secret (coturn's
# static-auth-secret, `use-auth-secret`) each page gets time-limited credentials for
# FARCARE_TURN_URLS (coturn's REST API scheme: username "<expiry>:<user uuid>", password the
# HMAC-SHA1 of it), never a static password. "relay" forces media through TURN (tests prove
# TURN carries it). Below FARCARE_CALL_AUDIO_ONLY_BELOW_KBPS of measured outgoing bandwidth a
# call drops its video and caps Opus at FARCARE_CALL_AUDIO_KBPS. No media is recorded.
FARCARE_ICE_SERVERS = json.loads(os.environ.get("FARCARE_ICE_SERVERS", "[]"))
FARCARE_TURN_SECRET = os.environ.get("FARCARE_TURN_SECRET", "")
FARCARE_TURN_URLS = env_list("FARCARE_TURN_URLS", [])
FARCARE_TURN_TTL_SECONDS = env_int("FARCARE_TURN_TTL_SECONDS", 12 * 3600)
FARCARE_ICE_TRANSPORT_POLICY = os.environ.get("FARCARE_ICE_TRANSPORT_POLICY", "all")
FARCARE_CALL_AUDIO_ONLY_BELOW_KBPS = env_int("FARCARE_CALL_AUDIO_ONLY_BELOW_KBPS", 150)
FARCARE_CALL_AUDIO_KBPS = env_int("FARCARE_CALL_AUDIO_KBPS", 24)
# A presence silent this long (no quality report; browsers send one every ~5 s) is left
# by `farcare calls sweep`.
FARCARE_CALL_SILENT_SECONDS = env_int("FARCARE_CALL_SILENT_SECONDS", 60)

# Content-Security-Policy of every response (farcare.core.middleware): nothing inline, nothing
# from elsewhere; connect-src also gets ws:// and wss:// of the request's own host (the live
# worklists). img-src data: and blob: for the favicon and previews drawn in the page.
FARCARE_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data: blob:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# No page uses these; a script that got in cannot either.
FARCARE_PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), midi=(), "
    "magnetometer=(), gyroscope=(), accelerometer=(), display-capture=()"
)

FARCARE_ADMIN_URL = os.environ.get("FARCARE_ADMIN_URL", "admin/")

OTP_TOTP_ISSUER = "FarCare"

LANGUAGE_CODE = os.environ.get("FARCARE_LANGUAGE_CODE", "ru")
LANGUAGES = [("ru", _("Russian")), ("ko", _("Korean")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
FORMAT_MODULE_PATH = ["farcare.formats"]
USE_TZ = True
TIME_ZONE = os.environ.get("FARCARE_TIME_ZONE", "Asia/Vladivostok")

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("FARCARE_STATIC_ROOT", VAR_DIR / "static"))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("FARCARE_MEDIA_ROOT", VAR_DIR / "media"))

# Files: the local folder by default; FARCARE_STORAGE=s3 switches to an S3-compatible store
# (django-storages is then required, installed with the `s3` extra).
if os.environ.get("FARCARE_STORAGE", "local") == "s3":
    default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ.get("FARCARE_S3_BUCKET", "farcare"),
            "endpoint_url": os.environ.get("FARCARE_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("FARCARE_S3_REGION") or None,
            "default_acl": "private",
            "querystring_auth": True,
        },
    }
else:
    default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
STORAGES = {
    "default": default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("FARCARE_LOG_LEVEL", "INFO")},
}

# Learning (issue 15): the share of a session's duration attended that earns its credit hours.
# The largest training material (PDF, slides, recording) a trainer uploads, in MB.
FARCARE_TRAINING_MATERIAL_MAX_MB = env_int("FARCARE_TRAINING_MATERIAL_MAX_MB", 300)
FARCARE_TRAINING_ATTENDANCE_SHARE = float(os.environ.get("FARCARE_TRAINING_ATTENDANCE_SHARE", 0.75))
# The key certificates' verification codes are made with (farcare/learning/codes.py): keep it
# for as long as certificates must verify; SECRET_KEY only when none is set.
FARCARE_CERTIFICATE_KEY = os.environ.get("FARCARE_CERTIFICATE_KEY", "")
