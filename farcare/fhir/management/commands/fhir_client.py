"""`farcare fhir-client add|list|disable`: system clients of the FHIR API (SMART Backend
Services). `add` prints one JSON object with the client's id and secret, and nothing else on
standard output, so a provisioning script can read it; the secret is never shown again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from farcare.accounts.management.commands.user import find_facility
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.fhir.models import SystemClient
from farcare.fhir.oauth import ClientSetupError, system_client_create, system_client_disable


class Command(BaseCommand):
    help = (
        'Manage FHIR system clients: `farcare fhir-client add --name N --scope "system/*.read"`, '
        "`farcare fhir-client list`, `farcare fhir-client disable --client-id ID`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="register a client; prints its id and secret as JSON")
        add.add_argument("--name", required=True, help="what the client is, e.g. 'Chukotka RHIS'")
        add.add_argument(
            "--scope",
            required=True,
            help='space-separated SMART scopes, e.g. "system/*.read system/Patient.write"',
        )
        add.add_argument(
            "--facility",
            default="",
            help="UUID, facility name or settlement name: the client sees that facility's region "
            "(without one: the whole deployment)",
        )
        add.add_argument("--bulk-export", action="store_true", help="may run bulk export")
        add.add_argument(
            "--jwks-file",
            default="",
            help='a JSON file {"keys": [...]} with the client\'s public keys (private_key_jwt)',
        )
        sub.add_parser("list", help="list the clients (no secrets)")
        disable = sub.add_parser("disable", help="stop a client and revoke its tokens")
        disable.add_argument("--client-id", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "add":
            self.add(options)
        elif action == "list":
            self.list_clients()
        else:
            self.disable(options["client_id"])

    def add(self, options: dict[str, Any]) -> None:
        jwks: dict[str, Any] | None = None
        if options["jwks_file"]:
            try:
                jwks = json.loads(Path(options["jwks_file"]).read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise CommandError(f"Cannot read the JWKS file: {error}") from error
        facility = find_facility(options["facility"]) if options["facility"] else None
        try:
            new = system_client_create(
                name=options["name"],
                scopes=options["scope"],
                facility=facility,
                bulk_export=options["bulk_export"],
                jwks=jwks,
            )
        except ClientSetupError as error:
            raise CommandError(str(error)) from error
        client = new.client
        audit_record(
            accessor=Accessor(None, None, "cli"),
            action=AuditAction.CREATE,
            record=client,
            details={
                "what": "fhir_system_client",
                "client_id": client.client_id,
                "account": client.account.username,
                "scope": client.scopes,
                "facility": str(facility.uuid) if facility else "",
                "bulk_export": client.bulk_export,
            },
        )
        self.stdout.write(
            json.dumps(
                {
                    "client_id": client.client_id,
                    "client_secret": new.secret,
                    "name": client.name,
                    "scope": client.scopes,
                },
                ensure_ascii=False,
            )
        )

    def list_clients(self) -> None:
        clients = SystemClient.objects.select_related("account", "account__facility").order_by(
            "created_at"
        )
        rows = [("CLIENT ID", "NAME", "ACTIVE", "FACILITY", "BULK", "KEYS", "SCOPES")]
        for client in clients:
            facility = client.account.facility
            keys = client.jwks.get("keys", []) if isinstance(client.jwks, dict) else []
            rows.append(
                (
                    client.client_id,
                    client.name,
                    "yes" if client.active else "no",
                    facility.name_en if facility else "(all)",
                    "yes" if client.bulk_export else "no",
                    str(len(keys)),
                    client.scopes,
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            self.stdout.write("  ".join([*cells, row[-1]]))

    def disable(self, client_id: str) -> None:
        client = SystemClient.objects.filter(client_id=client_id).first()
        if client is None:
            raise CommandError(f"No FHIR client with the id {client_id!r}.")
        system_client_disable(client)
        audit_record(
            accessor=Accessor(None, None, "cli"),
            action=AuditAction.UPDATE,
            record=client,
            details={
                "what": "fhir_system_client",
                "client_id": client.client_id,
                "change": "disabled",
            },
        )
        self.stdout.write(f"Disabled {client.name} ({client.client_id}); its tokens are revoked.")
