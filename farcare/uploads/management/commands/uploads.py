import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import ngettext

from farcare.uploads.services import uploads_expire


class Command(BaseCommand):
    help = (
        "Resumable uploads: `farcare uploads expire` removes unfinished uploads past their "
        "expiry, with their bytes, once; `--loop 3600` keeps doing it every hour."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        expire = sub.add_parser("expire", help="remove expired unfinished uploads and their bytes")
        expire.add_argument("--loop", type=int, default=0, metavar="SECONDS")

    def handle(self, *args: Any, **options: Any) -> None:
        interval = options["loop"]
        if interval < 0:
            raise CommandError("--loop needs a positive number of seconds")
        while True:
            report = uploads_expire()
            self.stdout.write(
                ngettext(
                    "%(count)d expired upload removed.",
                    "%(count)d expired uploads removed.",
                    report.uploads,
                )
                % {"count": report.uploads}
            )
            if report.orphans:
                self.stdout.write(
                    ngettext(
                        "%(count)d part file without an upload removed.",
                        "%(count)d part files without an upload removed.",
                        report.orphans,
                    )
                    % {"count": report.orphans}
                )
            if not interval:
                return
            time.sleep(interval)
