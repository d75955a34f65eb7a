"""farcare.settings.production as an operator meets it: with PostgreSQL and Redis it passes
Django's deployment checklist and pools its connections; it refuses SQLite unless told it is a
comparison, and refuses to start without Redis (several processes must share the live worklists
and the cache); S3 storage never overwrites a file of the same name."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "farcare.settings.production",
    "FARCARE_SECRET_KEY": "x9!" * 20 + "production-like-secret-key",
    "FARCARE_ALLOWED_HOSTS": "farcare.example.org",
    "FARCARE_DATABASE_URL": "postgres://farcare:secret@127.0.0.1:5432/farcare",
    "FARCARE_REDIS_URL": "redis://127.0.0.1:6379/3",
}

SHOW = """
import json
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"],
    "pool": db["OPTIONS"].get("pool"),
    "conn_max_age": db["CONN_MAX_AGE"],
    "health_checks": db["CONN_HEALTH_CHECKS"],
    "application_name": db["OPTIONS"].get("application_name"),
    "cache": settings.CACHES["default"]["BACKEND"],
    "channels": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "storage": settings.STORAGES["default"]["OPTIONS"],
}, default=str))
"""


def farcare(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("FARCARE_")}
    return subprocess.run(
        [sys.executable, "-m", "farcare.cli", *args],
        capture_output=True,
        text=True,
        env={**clean, **PRODUCTION, **env},
        check=False,
    )


def shown(**env: str) -> dict[str, object]:
    result = farcare("shell", "--verbosity", "0", "--command", SHOW, **env)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_the_deployment_checklist_is_clean():
    result = farcare("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_postgresql_through_a_pool_of_connections_per_worker():
    settings = shown()
    assert settings["pool"] == {"min_size": 2, "max_size": 8, "timeout": 10}
    assert settings["conn_max_age"] == 0  # Django refuses a pool with persistent connections
    assert settings["health_checks"] is True
    assert settings["application_name"] == "farcare"
    assert settings["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert settings["channels"] == "channels_redis.core.RedisChannelLayer"


def test_without_the_pool_connections_persist():
    settings = shown(FARCARE_DB_POOL="0", FARCARE_DB_APPLICATION_NAME="farcare-deadlines")
    assert settings["pool"] is None
    assert settings["conn_max_age"] == 60
    assert settings["application_name"] == "farcare-deadlines"


def test_sqlite_is_refused_unless_asked_for_a_comparison(tmp_path):
    sqlite = f"sqlite:///{tmp_path / 'farcare.sqlite3'}"
    refused = farcare("check", FARCARE_DATABASE_URL=sqlite)
    assert refused.returncode != 0
    assert "Production needs PostgreSQL" in refused.stderr
    allowed = shown(FARCARE_DATABASE_URL=sqlite, FARCARE_ALLOW_SQLITE="1")
    assert allowed["engine"] == "django.db.backends.sqlite3"
    assert allowed["pool"] is None


def test_redis_is_required():
    refused = farcare("check", FARCARE_REDIS_URL="")
    assert refused.returncode != 0
    assert "FARCARE_REDIS_URL" in refused.stderr


def test_s3_storage_keeps_files_of_the_same_name_apart():
    settings = shown(
        FARCARE_STORAGE="s3",
        FARCARE_S3_ENDPOINT_URL="https://minio.internal:9000",
        FARCARE_S3_ACCESS_KEY="farcare",
        FARCARE_S3_SECRET_KEY="secret",
    )
    storage = settings["storage"]
    assert isinstance(storage, dict)
    assert storage["file_overwrite"] is False
    assert storage["signature_version"] == "s3v4"
    assert storage["addressing_style"] == "path"  # MinIO, Ceph: one host, the bucket in the path
    assert storage["access_key"] == "farcare"
    aws = shown(FARCARE_STORAGE="s3")["storage"]
    assert isinstance(aws, dict)
    assert aws["addressing_style"] == "virtual"
    assert "access_key" not in aws  # boto3's own chain: AWS_ACCESS_KEY_ID, a role
