import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from farcare.evacuation.services import at_station
from farcare.evacuation.stall import sweep


class Command(BaseCommand):
    help = (
        "Transfers: `farcare transfers sweep` alerts the region's coordinators of every "
        "transfer that has not moved for longer than its stage allows (once per stall); "
        "`--loop 60` keeps sweeping every 60 seconds (the transfers worker). "
        "`farcare transfers stemi-table` prints every post's time to its nearest PCI hospital."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sweep_parser = sub.add_parser("sweep", help="alert coordinators of stalled transfers")
        sweep_parser.add_argument("--loop", type=int, default=0, metavar="SECONDS")
        sub.add_parser("stemi-table", help="each post's time to its nearest PCI hospital")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "stemi-table":
            # The table is its own command (transfers_stemi_table); this is its short name.
            call_command("transfers_stemi_table", stdout=self.stdout, stderr=self.stderr)
            return
        if at_station():
            # The station's transfers are the hub's copies: the hub sweeps them.
            raise CommandError(
                "This installation is a station: stalled transfers are found and their "
                "coordinators alerted at the hub, not here. Run `farcare transfers sweep` "
                "at the hub."
            )
        interval = options["loop"]
        while True:
            report = sweep()
            for line in report.alerted:
                self.stdout.write(f"alerted: {line}")
            if not interval:
                return
            time.sleep(interval)
