import asyncio
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from farcare.accounts.management.commands.user import find_facility
from farcare.audit.services import Accessor
from farcare.hl7 import mllp
from farcare.hl7.interfaces import interface_add
from farcare.hl7.listener import config, make_listener
from farcare.hl7.models import LaboratoryInterface
from farcare.hl7.orders_out import deliver_due


class Command(BaseCommand):
    help = (
        "HL7 v2: `farcare hl7 listen [--host 127.0.0.1] [--port 2575]` takes ORU^R01 results "
        "over MLLP; `farcare hl7 interface add --facility F --sending-facility MSH4 "
        "[--orders OML^O21 --host H --port P]` lets a laboratory system send results (and "
        "receive orders); `farcare hl7 interface list`; `farcare hl7 deliver [--loop 30]` "
        "sends queued orders (the retry worker)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listen = sub.add_parser("listen", help="the MLLP listener for results")
        listen.add_argument("--host", default="127.0.0.1")
        listen.add_argument("--port", type=int, default=2575)
        interface = sub.add_parser("interface", help="laboratory systems")
        verbs = interface.add_subparsers(dest="verb", required=True)
        add = verbs.add_parser("add", help="add or change a laboratory system")
        add.add_argument("--facility", required=True, help="UUID, facility name or settlement")
        add.add_argument("--sending-facility", required=True, help="its MSH-4, as it sends it")
        add.add_argument("--orders", default="", choices=["", "ORM^O01", "OML^O21"])
        add.add_argument("--host", default="")
        add.add_argument("--port", type=int, default=None)
        add.add_argument("--receiving-application", default="")
        add.add_argument("--version", default="2.5.1")
        verbs.add_parser("list", help="the laboratory systems known")
        deliver = sub.add_parser("deliver", help="send queued orders to laboratories")
        deliver.add_argument("--loop", type=int, default=0, metavar="SECONDS")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "listen":
            self._listen(options["host"], options["port"])
        elif action == "interface" and options["verb"] == "add":
            self._add(options)
        elif action == "interface":
            for item in LaboratoryInterface.objects.select_related("facility", "account"):
                endpoint = f" → {item.order_message} {item.host}:{item.port}" if item.host else ""
                state = "" if item.active else " (inactive)"
                self.stdout.write(
                    f"{item.sending_facility}: {item.facility.name_en}, "
                    f"account {item.account.username}{endpoint}{state}"
                )
        else:
            self._deliver(options["loop"])

    def _listen(self, host: str, port: int) -> None:
        listener = make_listener(config())

        def started(server: Any) -> None:
            bound = server.sockets[0].getsockname()
            self.stdout.write(f"HL7 listener on {bound[0]}:{bound[1]} (MLLP)")
            self.stdout.flush()

        try:
            asyncio.run(mllp.serve(listener, host, port, started=started))
        except KeyboardInterrupt:
            self.stdout.write("stopped")
        except OSError as error:
            raise CommandError(f"Cannot listen on {host}:{port}: {error}") from error

    def _add(self, options: dict[str, Any]) -> None:
        facility = find_facility(options["facility"])
        try:
            item = interface_add(
                accessor=Accessor(None, None, "cli"),
                facility=facility,
                sending_facility=options["sending_facility"],
                order_message=options["orders"],
                host=options["host"],
                port=options["port"],
                receiving_application=options["receiving_application"],
                version=options["version"],
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(
            f"{item.sending_facility}: results stored as {item.account.username} "
            f"({facility.name_en}) {item.uuid}"
        )

    def _deliver(self, interval: int) -> None:
        while True:
            report = deliver_due()
            for label, items in (
                ("sent", report.sent),
                ("retrying", report.retrying),
                ("failed", report.failed),
                ("cancelled", report.cancelled),
            ):
                if items:
                    self.stdout.write(f"{label}: {', '.join(items)}")
            if not interval:
                return
            time.sleep(interval)
