"""A FarCare hub as a real separate process on loopback, for tests of what crosses between a
station and its hub: `uvicorn farcare.asgi:application` in a child process with its own SQLite
database and files in one directory. It is another machine: it never shares the test suite's
database (always SQLite, even when the suite runs on PostgreSQL), and it can be killed as in a
crash and started again on the same port with the same data.

    template = prepare_hub_template(tmp_path_factory.mktemp("hub-template"))  # once: ~20 s
    with running_hub(tmp_path / "hub", template) as hub:   # a copy per test: ~1.5 s to start
        token = hub.user_token("feldsher")
        ...
        hub.stop(kill=True)
        hub.start()

The demo network (`farcare load-demo`: `feldsher`, `doctor`, `cardiologist`, … with the password
`farcare-demo`) is in every prepared hub.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

DATABASE = "hub.sqlite3"
MEDIA = "media"
LOG = "hub.log"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening_inodes(port: int) -> set[str] | None:
    """Inodes of the IPv4 sockets listening on 127.0.0.1 or any address at `port`, from
    /proc/net/tcp; None where there is no such file."""
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return None
    wanted = f"{port:04X}"
    inodes = set()
    for line in lines:
        fields = line.split()
        local_address, state, inode = fields[1], fields[3], fields[9]
        host, _, local_port = local_address.partition(":")
        if local_port == wanted and state == "0A" and host in ("0100007F", "00000000"):
            inodes.add(inode)
    return inodes


class HubProcess:
    def __init__(
        self,
        directory: Path,
        *,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """`env`: more FARCARE_* settings for the hub (they win over the defaults below)."""
        self.directory = Path(directory).resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port: int = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = dict(env or {})
        self._process: subprocess.Popen[bytes] | None = None
        self._started = False

    # --- the environment of every child process ---------------------------------------------

    @property
    def database(self) -> Path:
        return self.directory / DATABASE

    @property
    def env(self) -> dict[str, str]:
        # The test suite's own FARCARE_* settings (its database, media folder, storage) belong
        # to another machine: none of them leaks into the hub.
        env = {key: value for key, value in os.environ.items() if not key.startswith("FARCARE_")}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "farcare.settings.dev",
                "FARCARE_VAR_DIR": str(self.directory),
                "FARCARE_DATABASE_URL": f"sqlite:///{self.database}",
                "FARCARE_LANGUAGE_CODE": "en",
                "FARCARE_LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    # --- data -------------------------------------------------------------------------------

    def prepare(self, template: Path | None = None) -> None:
        """The database and files of a hub: copied from a template made by
        `prepare_hub_template` (fast), or made here by migrate and load-demo (~20 s)."""
        if self.running:
            raise RuntimeError("stop the hub before preparing its data")
        if template is None:
            for args in (("migrate", "--noinput", "-v", "0"), ("load-demo",)):
                result = self.farcare(*args)
                if result.returncode != 0:
                    raise RuntimeError(f"farcare {' '.join(args)} failed:\n{result.stderr}")
            return
        template = Path(template)
        source = template / DATABASE if template.is_dir() else template
        _copy_database(source, self.database)
        media = source.parent / MEDIA
        if media.is_dir():
            shutil.rmtree(self.directory / MEDIA, ignore_errors=True)
            shutil.copytree(media, self.directory / MEDIA)

    def farcare(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """A console command against the hub's database (whether or not the hub is running);
        the caller checks returncode."""
        return subprocess.run(
            [sys.executable, "-m", "farcare.cli", *args],
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.directory,
            check=False,
            timeout=300,
        )

    def python(self, code: str) -> str:
        """Run Python in the hub's Django (`farcare shell -c`) and return what it printed."""
        result = self.farcare("shell", "--verbosity", "0", "--command", code)
        if result.returncode != 0:
            raise RuntimeError(f"the hub's shell failed:\n{result.stderr}")
        return result.stdout.strip()

    def consultant_asks(self, consultation_uuid: object, question: str) -> None:
        """The consultant assigned to the request accepts it and asks the requester a question
        (which puts it on hold), as on the hub's case page."""
        self.python(
            "from farcare.audit.services import Accessor\n"
            "from farcare.consults.models import Consultation\n"
            "from farcare.consults import services\n"
            f"c = Consultation.objects.get(uuid='{consultation_uuid}')\n"
            "who = c.assignments.filter(ended_at__isnull=True).first().consultant\n"
            "me = Accessor(who, '127.0.0.1', 'page')\n"
            "services.consult_accept(accessor=me, consultation=c)\n"
            "c.refresh_from_db()\n"
            f"services.message_post(accessor=me, consultation=c, body={question!r},"
            " ask_requester=True)\n"
        )

    def user_token(self, username: str, scopes: str = "user/*.read user/*.write") -> str:
        """A bearer token for one of the hub's users, as /fhir/auth/user-token issues one."""
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

    # --- the process ------------------------------------------------------------------------

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "farcare.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--lifespan",
            "off",
            "--timeout-keep-alive",
            "75",  # as `make run` serves: a new connection over the link costs a round trip
        ]

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start uvicorn and wait until the hub answers /health."""
        if self.running:
            return
        log = (self.directory / LOG).open("ab")
        try:
            self._process = subprocess.Popen(
                self.command(),
                env=self.env,
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()  # the child holds its own copy
        deadline = time.monotonic() + START_TIMEOUT
        # Answering is not enough: between free_port() and uvicorn's bind another test's server
        # may take the port, and would answer /health (and refuse the demo's passwords).
        while not (self._answers() and self._listener_is_ours()):
            if self._process.poll() is not None:
                if not self._started and "address already in use" in self.log_tail().lower():
                    # Never served yet, so nothing holds this port's address: take another.
                    self.port = free_port()
                    self.url = f"http://127.0.0.1:{self.port}"
                    self._process = None
                    self.start()
                    return
                raise RuntimeError(f"the hub stopped while starting:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop(kill=True)
                raise RuntimeError(f"the hub did not answer within {START_TIMEOUT:.0f} s")
            time.sleep(0.05)
        self._started = True

    def _listener_is_ours(self) -> bool:
        """Whether the socket listening on the port is this hub process's own (Linux: its inode
        among the process's descriptors); True where /proc cannot tell."""
        process = self._process
        if process is None:
            return False
        inodes = _listening_inodes(self.port)
        if inodes is None:
            return True
        try:
            fd_dir = Path(f"/proc/{process.pid}/fd")
            links = {os.readlink(fd_dir / name) for name in os.listdir(fd_dir)}
        except OSError:
            return True
        return any(f"socket:[{inode}]" in links for inode in inodes)

    def stop(self, *, kill: bool = False) -> None:
        """Stop the hub: SIGTERM and a clean shutdown, or with kill=True SIGKILL, as in a crash
        (what was committed and fsynced survives, nothing else)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)

    def restart(self) -> None:
        """A clean stop and start: same port, same database."""
        self.stop()
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        path = self.directory / LOG
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:  # noqa: S310
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def __enter__(self) -> HubProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def running_hub(
    directory: Path, template: Path | None = None, **options: Any
) -> Iterator[HubProcess]:
    """A prepared and started hub, stopped on leaving; the fixture of a test folder is

    @pytest.fixture
    def hub(hub_template, tmp_path):
        with running_hub(tmp_path / "hub", hub_template) as started:
            yield started
    """
    with HubProcess(directory, **options) as hub:
        hub.prepare(template)
        hub.start()
        yield hub


def prepare_hub_template(directory: Path) -> Path:
    """A hub's data made once (migrate and the demo network), for `HubProcess.prepare` to copy;
    returns the directory. Its database is left checkpointed, so one file holds it all."""
    hub = HubProcess(directory)
    hub.prepare()
    with contextlib.closing(sqlite3.connect(hub.database)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return hub.directory


def _copy_database(source: Path, target: Path) -> None:
    """Through SQLite's backup API: a consistent copy even of a database in WAL mode."""
    for leftover in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        leftover.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        contextlib.closing(sqlite3.connect(source)) as origin,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        origin.backup(copy)
