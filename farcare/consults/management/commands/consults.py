import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from farcare.consults.deadlines import watch_deadlines


class Command(BaseCommand):
    help = (
        "Consultations: `farcare consults watch` checks every open request's deadline once; "
        "`--loop 30` keeps checking every 30 seconds (the deadline worker)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        watch = sub.add_parser("watch", help="alert at half the deadline, re-route at the deadline")
        watch.add_argument("--loop", type=int, default=0, metavar="SECONDS")

    def handle(self, *args: Any, **options: Any) -> None:
        interval = options["loop"]
        while True:
            report = watch_deadlines()
            for label, items in (
                ("half-deadline alerts", report.half_alerts),
                ("re-routed", report.rerouted),
                ("late", report.late),
                ("failed", report.failed),
            ):
                if items:
                    self.stdout.write(f"{label}: {', '.join(items)}")
            if not interval:
                return
            time.sleep(interval)
