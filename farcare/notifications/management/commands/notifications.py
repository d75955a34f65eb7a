from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from farcare.notifications.services import DeliveryReport, deliver_due


class Command(BaseCommand):
    help = (
        "The notification outbox: `farcare notifications deliver` sends what is due once; "
        "with --loop SECONDS it keeps going, as a worker process."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        deliver = sub.add_parser("deliver", help="send pending e-mail and SMS whose time has come")
        deliver.add_argument(
            "--loop",
            type=float,
            metavar="SECONDS",
            default=0,
            help="run again every SECONDS until stopped (default: run once)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        interval = float(options["loop"])
        if interval < 0:
            raise CommandError("--loop needs a positive number of seconds")
        if not interval:
            self._write(deliver_due(), quiet_when_idle=False)
            return
        try:
            while True:
                self._write(deliver_due(), quiet_when_idle=True)
                time.sleep(interval)
        except KeyboardInterrupt:  # Ctrl-C or the supervisor's SIGINT: a clean stop
            self.stdout.write("Stopped.")

    def _write(self, report: DeliveryReport, *, quiet_when_idle: bool) -> None:
        for attempt in report.sent:
            self.stdout.write(
                f"sent      {attempt.channel} to {attempt.address} ({attempt.delivery})"
            )
        for attempt in report.retrying:
            next_at = (
                timezone.localtime(attempt.next_attempt_at).strftime("%Y-%m-%d %H:%M:%S %Z")
                if attempt.next_attempt_at
                else "-"
            )
            self.stdout.write(
                f"retrying  {attempt.channel} to {attempt.address} ({attempt.delivery}) "
                f"attempt {attempt.attempts}, next at {next_at}: "
                f"{attempt.error}"
            )
        for attempt in report.failed:
            self.stderr.write(
                f"FAILED    {attempt.channel} to {attempt.address} ({attempt.delivery}) "
                f"after {attempt.attempts} attempts: {attempt.error}"
            )
        if report.total or not quiet_when_idle:
            counts = report.counts()
            self.stdout.write(
                f"Sent {counts['sent']}, retrying {counts['retrying']}, failed {counts['failed']}."
            )
