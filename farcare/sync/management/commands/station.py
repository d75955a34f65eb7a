import getpass
import sys
import threading
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from farcare.sync import station as sync
from farcare.sync.models import OutboxItem
from farcare.sync.outbox import pending, station


class Bars(sync.Progress):
    """A progress bar per file on the console (tqdm), a line per record."""

    def __init__(self, out: Any) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self._bar: Any = None
        self._item: int | None = None
        self._out = out
        super().__init__(on_item=self._start, on_bytes=self._advance, on_wait=self._waiting)

    def _waiting(self) -> None:
        self._out.write(
            "A sync is already running (the station's own loop or Sync now); "
            "waiting for it to finish, then syncing.\n"
        )

    def _start(self, item: OutboxItem) -> None:
        self.close()
        self._item = item.pk
        self._bar = self._tqdm(
            total=item.size,
            initial=item.sent,
            unit="B",
            unit_scale=True,
            desc=item.label[:40],
            file=self._out,
            leave=True,
        )

    def _advance(self, item: OutboxItem, sent: int) -> None:
        if self._bar is not None and self._item == item.pk:
            self._bar.update(sent - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class Command(BaseCommand):
    help = (
        "Run FarCare at a remote post: `farcare station --hub URL` enrols this laptop at the hub "
        "(once, with a clinician's credentials), then serves FarCare from its own database and "
        "syncs whenever the link is up. `farcare station sync` makes one pass with progress "
        "bars; `farcare station status` shows the outbox and the link."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", nargs="?", default="run", choices=["run", "sync", "status"])
        parser.add_argument("--hub", help="the hub's address, e.g. https://hub.example.org")
        parser.add_argument("--username", help="a clinician of this post (enrolment)")
        parser.add_argument("--password-stdin", action="store_true")
        parser.add_argument(
            "--otp", default="", help="the code from your authenticator app (enrolment)"
        )
        parser.add_argument("--name", default="", help="a name for this station")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--until-done", action="store_true", help="sync: retry until empty")

    def handle(self, *args: Any, **options: Any) -> None:
        # A laptop at a post has nobody to run migrations: the station keeps its database current.
        call_command("migrate", interactive=False, verbosity=0)
        config = station()
        if config is None:
            config = self._enrol(options)
        elif options["hub"] and options["hub"].rstrip("/") != config.hub_url:
            raise CommandError(f"This station is enrolled at {config.hub_url}.")
        if options["action"] == "status":
            self._status()
        elif options["action"] == "sync":
            self._sync(until_done=options["until_done"])
        else:
            self._run(options["host"], options["port"])

    def _enrol(self, options: dict[str, Any]) -> Any:
        if not options["hub"]:
            raise CommandError("Not enrolled yet: give --hub URL.")
        username = options["username"] or input("User name at the hub: ")
        password = (
            sys.stdin.readline().rstrip("\n")
            if options["password_stdin"]
            else getpass.getpass("Password: ")
        )
        otp = options["otp"]
        while True:
            try:
                config = sync.enrol(
                    hub_url=options["hub"],
                    username=username,
                    password=password,
                    name=options["name"],
                    otp=otp,
                )
                break
            except sync.HubRefused as error:
                if error.code != "second_factor_required" or otp:
                    raise CommandError(f"Enrolment failed: {error}") from error
                if not sys.stdin.isatty():
                    raise CommandError(
                        f"Enrolment failed: {error} Give the code with --otp CODE."
                    ) from error
                otp = input("Code from your authenticator app: ").strip()
            except sync.LinkDown as error:
                raise CommandError(f"Enrolment failed: {error}") from error
        self.stdout.write(f"Enrolled as {config.name} at {config.hub_url}.")
        return config

    def _sync(self, *, until_done: bool) -> None:
        bars = Bars(self.stdout)
        try:
            if until_done:
                report = sync.sync_until_done(progress=bars, attempts=1000, pause=5)
            else:
                report = sync.sync_once(bars, wait=True)
        finally:
            bars.close()
        for label in report.delivered:
            self.stdout.write(f"delivered: {label}")
        for label in report.refused:
            self.stdout.write(f"REFUSED: {label}")
        if report.link_down:
            self.stdout.write(f"link down: {report.link_down}; {pending().count()} items wait")
        self._status()

    def _status(self) -> None:
        left = sync.time_left()
        rate = sync.link_rate()
        self.stdout.write(
            f"{pending().count()} items wait"
            + (f"; link {rate * 8 / 1000:.0f} kbit/s" if rate else "")
            + (f"; about {left:.0f} s left" if left else "")
        )
        for item in pending():
            self.stdout.write(f"  {item.state:<8} {item.percent:>3}%  {item.label}")

    def _run(self, host: str, port: int) -> None:
        import uvicorn

        threading.Thread(target=self._sync_loop, name="station-sync", daemon=True).start()
        self.stdout.write(f"FarCare station at http://{host}:{port}/")
        uvicorn.run("farcare.asgi:application", host=host, port=port, log_level="warning")

    def _sync_loop(self) -> None:
        # Runs as long as the server does (a daemon thread ends with it).
        sync.sync_loop(threading.Event())
