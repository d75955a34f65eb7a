"""deploy/systemd and deploy/gunicorn.conf.py as an operator installs them: systemd's own checker
accepts every unit, every worker runs a command FarCare has (with the options given), the README's
workers all have a unit, and gunicorn's settings follow the environment."""

from __future__ import annotations

import os
import re
import runpy
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class

from farcare.testing.production import PROJECT_DIR

SYSTEMD = PROJECT_DIR / "deploy" / "systemd"
WORKERS = SYSTEMD / "workers"
INSTALLED_AT = "/opt/farcare"


def worker_commands() -> dict[str, list[str]]:
    """Instance name → the farcare command line of deploy/systemd/workers/<name>.env."""
    commands = {}
    for path in sorted(WORKERS.glob("*.env")):
        values = dict(
            line.split("=", 1)
            for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")
        )
        commands[path.stem] = shlex.split(values["FARCARE_WORKER_COMMAND"])
    return commands


def test_systemd_accepts_every_unit(tmp_path: Path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("FARCARE_REQUIRE_DEPLOY") == "1":
            pytest.fail("systemd-analyze is not installed (FARCARE_REQUIRE_DEPLOY=1)")
        pytest.skip("systemd-analyze is not installed")
    # The units as installed, with this checkout in place of /opt/farcare: systemd checks that
    # each ExecStart's program exists and is executable.
    for unit in SYSTEMD.iterdir():
        if unit.is_file():
            (tmp_path / unit.name).write_text(
                unit.read_text().replace(INSTALLED_AT, str(PROJECT_DIR))
            )
    assert (PROJECT_DIR / ".venv" / "bin" / "gunicorn").exists()
    units = [
        tmp_path / "farcare-web.service",
        tmp_path / "farcare.target",
        *(tmp_path / f"farcare-worker@{name}.service" for name in worker_commands()),
    ]
    result = subprocess.run(
        [analyze, "verify", "--man=no", *map(str, units)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    # Unknown keys and bad values are only warned about: any output at all is a finding.
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout + result.stderr == ""


def test_every_worker_runs_a_command_farcare_has():
    commands = get_commands()
    for name, argv in worker_commands().items():
        assert argv[0] in commands, f"worker {name}: no command `farcare {argv[0]}`"
        command = load_command_class(commands[argv[0]], argv[0])
        parser = command.create_parser("farcare", argv[0])
        parser.parse_args(argv[1:])  # CommandError on an unknown subcommand or option


def test_the_target_starts_every_worker_but_the_optional_ones():
    wanted = set(
        re.findall(
            r"^Wants=farcare-worker@(\S+)\.service$", (SYSTEMD / "farcare.target").read_text(), re.M
        )
    )
    # With a PACS or laboratory systems only: enabled on their own.
    assert wanted == set(worker_commands()) - {"pacs", "hl7-listen"}


def test_every_worker_the_readme_lists_has_a_unit():
    readme = (PROJECT_DIR / "README.md").read_text()
    listed = {
        tuple(line.split()[1:3])
        for line in re.findall(r"^farcare [a-z0-9-]+ [a-z-]+ [^\n]*--loop", readme, re.M)
    }
    assert listed, "the README's list of workers moved"
    have = {tuple(argv[:2]) for argv in worker_commands().values()}
    assert listed <= have, listed - have


def gunicorn_settings(**env: str) -> dict[str, object]:
    saved = dict(os.environ)
    try:
        for key in [k for k in os.environ if k.startswith("FARCARE_")]:
            del os.environ[key]
        os.environ.update(env)
        return runpy.run_path(str(PROJECT_DIR / "deploy" / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_gunicorn_defaults_for_a_small_hub():
    settings = gunicorn_settings()
    assert settings["worker_class"] == "uvicorn_worker.UvicornWorker"
    assert 2 <= settings["workers"] <= 8  # type: ignore[operator]
    assert settings["bind"] == ["127.0.0.1:8000"]
    assert settings["keepalive"] == 75
    assert settings["preload_app"] is False
    assert settings["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert settings["graceful_timeout"] >= settings["timeout"]  # type: ignore[operator]


def test_gunicorn_on_a_unix_socket_believes_nginx_forwarded_headers():
    settings = gunicorn_settings(FARCARE_BIND="unix:/run/farcare/web.sock", FARCARE_WEB_WORKERS="5")
    assert settings["bind"] == ["unix:/run/farcare/web.sock"]
    assert settings["workers"] == 5
    # Only who may open the socket file can connect: nginx.
    assert settings["forwarded_allow_ips"] == "*"
