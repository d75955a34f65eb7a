import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from farcare.accounts.management.commands.user import find_facility
from farcare.imaging.errors import ImagingError
from farcare.imaging.pacs import DicomWebPacs, configured_pacs
from farcare.imaging.pacs_import import poll_pacs


class Command(BaseCommand):
    help = (
        "Imaging: `farcare imaging import-from-pacs` registers the studies a modality sent "
        "straight to the PACS (FARCARE_DICOMWEB_URL) since the last poll, matched by the "
        "order's placer number (AccessionNumber) or the patient's SNILS or FarCare UUID "
        "(PatientID); `--loop 60` keeps polling every 60 seconds."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        poll = sub.add_parser("import-from-pacs", help="register new studies found in the PACS")
        poll.add_argument("--loop", type=int, default=0, metavar="SECONDS")
        poll.add_argument(
            "--facility",
            default="",
            help="where studies without an order were made (UUID, facility or settlement name; "
            "default FARCARE_PACS_FACILITY)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        pacs = configured_pacs()
        if not isinstance(pacs, DicomWebPacs):
            raise CommandError("No PACS is configured: set FARCARE_DICOMWEB_URL.")
        name = options["facility"] or str(getattr(settings, "FARCARE_PACS_FACILITY", "") or "")
        facility = find_facility(name) if name else None
        interval = options["loop"]
        while True:
            try:
                report = poll_pacs(pacs=pacs, facility=facility)
            except ImagingError as error:
                if not interval:
                    raise CommandError(str(error)) from error
                self.stderr.write(str(error))
            else:
                for uid in report.registered:
                    self.stdout.write(f"registered: {uid}")
                for uid, why in report.unmatched:
                    self.stdout.write(f"not registered: {uid}: {why}")
            if not interval:
                return
            time.sleep(interval)
