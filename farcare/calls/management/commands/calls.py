import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from farcare.calls.sweep import sweep_calls


class Command(BaseCommand):
    help = (
        "Calls: `farcare calls sweep` leaves the presences whose browser has been silent for "
        "more than FARCARE_CALL_SILENT_SECONDS (and ends calls nobody is left in), once; "
        "`--loop 30` keeps sweeping every 30 seconds (the calls worker)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sweep = sub.add_parser("sweep", help="leave silent presences, end emptied calls")
        sweep.add_argument("--loop", type=int, default=0, metavar="SECONDS")

    def handle(self, *args: Any, **options: Any) -> None:
        interval = options["loop"]
        while True:
            report = sweep_calls()
            for label, items in (("left", report.left), ("ended", report.ended)):
                if items:
                    self.stdout.write(f"{label}: {', '.join(items)}")
            if not interval:
                return
            time.sleep(interval)
