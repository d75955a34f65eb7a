"""FarCare in production mode as real processes on loopback, for tests and benches: gunicorn
with uvicorn workers (deploy/gunicorn.conf.py), `farcare.settings.production`, PostgreSQL (or
SQLite with FARCARE_ALLOW_SQLITE=1), Redis, and whatever storage `env` names.

    url = "postgres://postgres@127.0.0.1:5432/deploy_db"
    recreate_postgres_database(url)
    with running_production(tmp_path / "prod", database_url=url,
                            env={"FARCARE_REDIS_URL": "redis://127.0.0.1:6379/3"}) as server:
        server.url             # http://127.0.0.1:<port>; send X-Forwarded-Proto: https (nginx's)
        server.master_pid, server.worker_pids
        server.farcare("shell", "-c", "...")          # a console command in the same settings
        worker = server.worker("consults", "watch", "--loop", "30")   # a long-running worker

The data (keys of the audit anchor, migrations, the demo network, collected static files) is
made by `prepare()`, which `running_production` calls unless told `prepared=True`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

import psutil

from .hub import free_port

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
GUNICORN_CONF = PROJECT_DIR / "deploy" / "gunicorn.conf.py"
LOG = "gunicorn.log"
START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0
# As nginx tells the workers: the request came over HTTPS.
FORWARDED = {"X-Forwarded-Proto": "https"}


def recreate_postgres_database(url: str) -> None:
    """Drop (closing its sessions) and create the database named in `url`, through the server's
    `postgres` database: a clean one for each run."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


class ProductionServer:
    def __init__(
        self,
        directory: Path,
        *,
        database_url: str,
        workers: int = 2,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """`env`: more FARCARE_* settings (Redis, S3, ...); they win over the defaults below."""
        self.directory = Path(directory).resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url
        self.workers = workers
        self.port: int = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = dict(env or {})
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def secret_key(self) -> str:
        """One per directory, kept across restarts (sessions and signed codes stay valid)."""
        path = self.directory / "secret-key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
        return path.read_text().strip()

    @property
    def env(self) -> dict[str, str]:
        # The caller's own FARCARE_* settings belong to another deployment: none leaks in.
        env = {key: value for key, value in os.environ.items() if not key.startswith("FARCARE_")}
        anchor = self.directory / "audit-anchor"
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "farcare.settings.production",
                "FARCARE_SECRET_KEY": self.secret_key,
                "FARCARE_ALLOWED_HOSTS": "127.0.0.1,localhost",
                "FARCARE_DATABASE_URL": self.database_url,
                "FARCARE_VAR_DIR": str(self.directory),
                "FARCARE_STATIC_ROOT": str(self.directory / "static"),
                "FARCARE_MEDIA_ROOT": str(self.directory / "media"),
                "FARCARE_UPLOAD_DIR": str(self.directory / "uploads"),
                "FARCARE_AUDIT_ANCHOR_DIR": str(anchor / "checkpoints"),
                "FARCARE_AUDIT_ANCHOR_KEY": str(anchor / "signing-key.pem"),
                "FARCARE_AUDIT_ANCHOR_PUBLIC_KEY": str(anchor / "verify-key.pem"),
                "FARCARE_LANGUAGE_CODE": "en",
                # The demo's accounts have no authenticator.
                "FARCARE_REQUIRE_OTP": "0",
                "FARCARE_LOG_LEVEL": "WARNING",
                "FARCARE_WEB_WORKERS": str(self.workers),
                "FARCARE_BIND": f"127.0.0.1:{self.port}",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.database_url.startswith("sqlite"):
            env["FARCARE_ALLOW_SQLITE"] = "1"
        env.update(self.extra_env)
        return env

    # --- data -------------------------------------------------------------------------------

    def farcare(
        self, *args: str, input: str | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """A console command in the server's settings; the caller checks returncode."""
        return subprocess.run(
            [sys.executable, "-m", "farcare.cli", *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.directory,
            check=False,
            timeout=timeout,
        )

    def python(self, code: str) -> str:
        """Run Python in the server's Django (`farcare shell -c`) and return what it printed."""
        result = self.farcare("shell", "--verbosity", "0", "--command", code)
        if result.returncode != 0:
            raise RuntimeError(f"farcare shell failed:\n{result.stderr}")
        return result.stdout.strip()

    def user_token(self, username: str, scopes: str = "user/*.read user/*.write") -> str:
        """A bearer token for one of the server's users, as /fhir/auth/user-token issues one."""
        token = secrets.token_urlsafe(24)
        self.python(
            "from datetime import timedelta\n"
            "from django.utils import timezone\n"
            "from farcare.accounts.models import User\n"
            "from farcare.core.bearer import token_digest\n"
            "from farcare.fhir.models import AccessToken\n"
            "AccessToken.objects.create(\n"
            f"    token_hash=token_digest({token!r}),\n"
            f"    user=User.objects.get(username={username!r}),\n"
            f"    scopes={scopes!r},\n"
            "    expires_at=timezone.now() + timedelta(hours=8),\n"
            ")\n"
        )
        return token

    def prepare(self, *, demo: bool = True) -> None:
        """What an operator does once before the first start (README "Production"): the audit
        anchor's keys, migrations, the demo network if asked, static files collected."""
        steps: list[tuple[str, ...]] = []
        if not (self.directory / "audit-anchor" / "signing-key.pem").exists():
            steps.append(("audit", "keygen"))
        steps.append(("migrate", "--noinput", "-v", "0"))
        if demo:
            steps.append(("load-demo",))
        steps.append(("collectstatic", "--noinput", "-v", "0"))
        for args in steps:
            result = self.farcare(*args)
            if result.returncode != 0:
                raise RuntimeError(
                    f"farcare {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
                )

    # --- the web server ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def master_pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the server is not running")
        return self._process.pid

    @property
    def worker_pids(self) -> list[int]:
        """gunicorn's workers, the processes that serve (the master only supervises)."""
        return sorted(child.pid for child in psutil.Process(self.master_pid).children())

    def start(self) -> None:
        """Start gunicorn and wait until every worker is up and the site answers /health."""
        if self.running:
            return
        log = (self.directory / LOG).open("ab")
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    str(GUNICORN_CONF),
                    "farcare.asgi:application",
                ],
                env=self.env,
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()  # the child holds its own copy
        deadline = time.monotonic() + START_TIMEOUT
        while not (self._answers() and len(self._children()) == self.workers):
            if self._process.poll() is not None:
                raise RuntimeError(f"gunicorn stopped while starting:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"gunicorn did not answer within {START_TIMEOUT:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def _children(self) -> list[psutil.Process]:
        try:
            return list(psutil.Process(self.master_pid).children())
        except psutil.NoSuchProcess:
            return []

    def _answers(self) -> bool:
        request = urllib.request.Request(f"{self.url}/health", headers=FORWARDED)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def stop(self) -> int | None:
        """SIGTERM to the master, as `systemctl stop`: the workers finish what they serve and
        exit. Returns gunicorn's exit code."""
        process, self._process = self._process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
        return process.returncode

    def log_tail(self, lines: int = 60) -> str:
        path = self.directory / LOG
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    # --- the console workers ----------------------------------------------------------------

    def worker(self, *args: str, log_name: str | None = None) -> subprocess.Popen[str]:
        """A long-running worker (`farcare consults watch --loop 30`, ...) as its systemd unit
        starts it: its own process, one database connection, output to a log in the directory.
        The caller stops it (SIGTERM) and waits."""
        words = []
        for arg in args:
            if arg.startswith("-"):
                break
            words.append(arg)
        name = log_name or "-".join(words)
        env = {
            **self.env,
            "FARCARE_DB_POOL": "0",
            "FARCARE_DB_APPLICATION_NAME": f"farcare-{name}",
        }
        return subprocess.Popen(
            [sys.executable, "-m", "farcare.cli", *args],
            env=env,
            cwd=self.directory,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def __enter__(self) -> ProductionServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def running_production(
    directory: Path,
    *,
    database_url: str,
    workers: int = 2,
    env: Mapping[str, str] | None = None,
    prepared: bool = False,
    demo: bool = True,
) -> Iterator[ProductionServer]:
    """A prepared and started production server, stopped on leaving."""
    with ProductionServer(directory, database_url=database_url, workers=workers, env=env) as server:
        if not prepared:
            server.prepare(demo=demo)
        server.start()
        yield server
