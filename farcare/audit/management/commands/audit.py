from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from farcare.audit.models import AuditEvent
from farcare.audit.services import audit_verify


class Command(BaseCommand):
    help = "The audit trail: `farcare audit verify` checks the hash chain."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="exit 0 on an intact chain, 1 naming the first bad record")

    def handle(self, *args: Any, **options: Any) -> None:
        problem = audit_verify()
        if problem is not None:
            raise CommandError(f"Audit chain broken at {problem}")
        count = AuditEvent.objects.count()
        self.stdout.write(f"Audit chain intact: {count} records.")
