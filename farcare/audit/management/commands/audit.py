import logging
import signal
import threading
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from farcare.audit.anchor import (
    AnchorNotConfigured,
    anchor_dir,
    checkpoint_files,
    generate_keys,
    latest_checkpoint,
    public_key_path,
)
from farcare.audit.models import AuditEvent
from farcare.audit.services import ChainBroken, audit_checkpoint, audit_verify, seal

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "The audit trail: `verify` checks the hash chain and its signed checkpoints; "
        "`checkpoint [--loop SECONDS]` signs the head of the chain into a new checkpoint; "
        "`keygen` makes the checkpoints' key pair; "
        "`seal [--loop SECONDS]` links the records appended since into the chain (the sequencer)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="exit 0 on an intact chain, 1 naming the first bad record")
        checkpoint = sub.add_parser(
            "checkpoint", help="sign the head of the chain (exit 1 if the chain is broken)"
        )
        checkpoint.add_argument(
            "--loop",
            type=float,
            metavar="SECONDS",
            help="keep running, one checkpoint every SECONDS (a worker instead of cron)",
        )
        sub.add_parser("keygen", help="make the Ed25519 key pair that signs checkpoints")
        sealing = sub.add_parser(
            "seal", help="link the records appended since into the hash chain (the sequencer)"
        )
        sealing.add_argument(
            "--loop",
            type=float,
            metavar="SECONDS",
            default=0,
            help="run again every SECONDS until stopped (SIGTERM or Ctrl-C; default: run once)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "verify":
            self.verify()
        elif action == "checkpoint":
            if options.get("loop"):
                while True:
                    self.checkpoint()
                    time.sleep(max(1.0, options["loop"]))
            self.checkpoint()
        elif action == "seal":
            self.seal(float(options["loop"]))
        elif action == "keygen":
            try:
                private, public = generate_keys()
            except FileExistsError as error:
                raise CommandError(str(error)) from error
            self.stdout.write(f"Signing key: {private}\nVerify key: {public}")

    def verify(self) -> None:
        try:
            problem = audit_verify()
        except AnchorNotConfigured as error:
            raise CommandError(str(error)) from error
        if problem is not None:
            raise CommandError(f"Audit chain broken at {problem}")
        count = AuditEvent.objects.filter(seq__isnull=False).count()
        self.stdout.write(f"Audit chain intact: {count} records.")
        latest = latest_checkpoint()
        if latest is None:
            self.stderr.write(
                f"Warning: no signed checkpoint in {anchor_dir()}. The chain shows records "
                "altered among the others, but someone who can write the database could "
                "remove the newest records or recompute the whole chain unseen. Run "
                "`farcare audit checkpoint` (by cron or with --loop)."
            )
            return
        after = count - latest.seq if count > latest.seq else 0
        self.stdout.write(
            f"{len(checkpoint_files())} signed checkpoints verified with {public_key_path()}; "
            f"the latest vouches for records up to #{latest.seq} ({latest.created_at}); "
            f"{after} records since are covered by the chain only."
        )

    def checkpoint(self) -> None:
        try:
            path = audit_checkpoint()
        except ChainBroken as broken:
            raise CommandError(f"Audit chain broken at {broken.problem}; no checkpoint") from broken
        except AnchorNotConfigured as error:
            raise CommandError(str(error)) from error
        if path is None:
            self.stdout.write("Nothing new since the latest checkpoint.")
        else:
            self.stdout.write(f"Checkpoint written: {path}")

    def seal(self, interval: float) -> None:
        if interval < 0:
            raise CommandError("--loop needs a positive number of seconds")
        if not interval:
            self.stdout.write(f"Sealed {seal()} records.")
            return
        # SIGTERM (systemd's stop) ends the loop between passes: a pass under way commits or
        # rolls back as a whole, and the next run seals whatever is left.
        stop = threading.Event()

        def on_term(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = signal.signal(signal.SIGTERM, on_term)
        try:
            while not stop.is_set():
                close_old_connections()  # a connection broken by a failed pass is replaced
                try:
                    count = seal()
                except Exception:
                    # A pass that failed (database away, busy, restarted) is retried at the
                    # next tick; the records wait, unsealed, losing nothing.
                    logger.exception("sealing the audit trail failed; retrying")
                    self.stderr.write("Sealing failed (see the log); retrying.")
                    count = 0
                if count:
                    self.stdout.write(f"Sealed {count} records.")
                    self.stdout.flush()
                stop.wait(interval)
        except KeyboardInterrupt:  # Ctrl-C or the supervisor's SIGINT: a clean stop
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
        self.stdout.write("Stopped.")
