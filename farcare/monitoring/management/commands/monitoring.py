import time
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from farcare.monitoring.sms_replies import deliver_due
from farcare.monitoring.watch import at_station, watch_monitoring


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--now: not an ISO 8601 time: {value!r}") from None
    if timezone.is_naive(moment):
        raise CommandError("--now: give the time with its zone, e.g. 2026-01-15T08:00:00+00:00")
    return moment


class Command(BaseCommand):
    help = (
        "Remote monitoring: `farcare monitoring watch` alerts missed readings and escalates "
        "alerts nobody acknowledged in time, once (`--loop 60` every 60 seconds; `--now ISO` "
        "as if it were then); `farcare monitoring replies` sends the SMS replies due."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        watch = sub.add_parser("watch", help="missed readings and escalation of overdue alerts")
        watch.add_argument("--loop", type=int, default=0, metavar="SECONDS")
        watch.add_argument("--now", default="", metavar="ISO")
        replies = sub.add_parser("replies", help="send the SMS replies due")
        replies.add_argument("--loop", type=int, default=0, metavar="SECONDS")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "replies":
            self._replies(options["loop"])
            return
        if at_station():
            # The hub watches the enrolments; a station doing it too would tell everyone twice.
            raise CommandError(
                "This installation is a station: monitoring alerts are raised and escalated "
                "at the hub. Run `farcare monitoring watch` at the hub."
            )
        now = _moment(options["now"]) if options["now"] else None
        interval = options["loop"]
        while True:
            report = watch_monitoring(now)
            for label, items in (
                ("missed reading", report.missed),
                ("escalated", report.escalated),
                ("escalated again", report.escalated_again),
                ("unreadable plan", report.unreadable),
            ):
                if items:
                    self.stdout.write(f"{label}: {', '.join(items)}")
            if not interval or now is not None:
                return
            time.sleep(interval)

    def _replies(self, interval: int) -> None:
        while True:
            report = deliver_due()
            self.stdout.write(str(report))
            if not interval:
                return
            time.sleep(interval)
