"""The production settings pass Django's deployment checklist with no warning."""

import os
import subprocess
import sys


def test_check_deploy_is_clean_under_production_settings():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "farcare.settings.production",
        "FARCARE_SECRET_KEY": "x9!" * 20 + "production-like-secret-key",
        "FARCARE_ALLOWED_HOSTS": "farcare.example.org",
        "FARCARE_DATABASE_URL": "postgres://farcare:secret@127.0.0.1:5432/farcare",
        "FARCARE_REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    result = subprocess.run(
        [sys.executable, "-m", "farcare.cli", "check", "--deploy", "--fail-level", "WARNING"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "farcare.settings.production"}
    env.pop("FARCARE_SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "-m", "farcare.cli", "check"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode != 0
    assert "FARCARE_SECRET_KEY" in result.stderr
