import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from farcare.scheduling.reminders import send_due_reminders


class Command(BaseCommand):
    help = (
        "Appointments: `farcare appointments remind` sends the reminders due before calls once; "
        "`--loop 60` keeps sending every 60 seconds (the reminder worker)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        remind = sub.add_parser("remind", help="remind both sides before a call starts")
        remind.add_argument("--loop", type=int, default=0, metavar="SECONDS")

    def handle(self, *args: Any, **options: Any) -> None:
        interval = options["loop"]
        while True:
            report = send_due_reminders()
            for line in report.sent:
                self.stdout.write(f"reminded: {line}")
            if not interval:
                return
            time.sleep(interval)
