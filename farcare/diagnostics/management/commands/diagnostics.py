import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from farcare.diagnostics.watch import at_station, watch_diagnostics


class Command(BaseCommand):
    help = (
        "Diagnostics: `farcare diagnostics watch` escalates critical alerts nobody acknowledged "
        "in time and releases results whose review delay passed, once; `--loop 30` keeps doing "
        "it every 30 seconds (the diagnostics worker)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        watch = sub.add_parser("watch", help="escalate overdue critical alerts, release results")
        watch.add_argument("--loop", type=int, default=0, metavar="SECONDS")

    def handle(self, *args: Any, **options: Any) -> None:
        if at_station():
            # The station's alerts and results are the hub's copies: the hub escalates them.
            raise CommandError(
                "This installation is a station: critical alerts are escalated and results "
                "released at the hub, not here. Run `farcare diagnostics watch` at the hub."
            )
        interval = options["loop"]
        while True:
            report = watch_diagnostics()
            for label, items in (
                ("escalated", report.escalated),
                ("escalated again", report.escalated_again),
                ("released", report.released),
            ):
                if items:
                    self.stdout.write(f"{label}: {', '.join(items)}")
            if not interval:
                return
            time.sleep(interval)
