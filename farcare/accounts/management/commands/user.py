import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from farcare.accounts.models import Role
from farcare.accounts.services import user_create
from farcare.audit.services import Accessor
from farcare.network.models import Facility


def find_facility(name: str) -> Facility:
    """By UUID, exact facility name, or settlement name (English or Russian)."""
    facilities = Facility.objects.all()
    for lookup in ("uuid", "name_en", "name_ru", "settlement__name_en", "settlement__name_ru"):
        try:
            found = list(facilities.filter(**{lookup: name})[:2])
        except ValidationError:
            continue
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise CommandError(f"Several facilities match {name!r}; give its UUID.")
    raise CommandError(f"No facility matches {name!r}.")


class Command(BaseCommand):
    help = (
        "Manage users: `farcare user add --username U --role ROLE --facility F --password-stdin`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="create a user")
        add.add_argument("--username", required=True)
        add.add_argument("--role", required=True, choices=Role.values)
        add.add_argument("--facility", default="", help="UUID, facility name or settlement name")
        add.add_argument("--first-name", default="")
        add.add_argument("--last-name", default="")
        add.add_argument("--language", default="", choices=["", "ru", "ko", "en"])
        add.add_argument("--email", default="")
        add.add_argument(
            "--password-stdin", action="store_true", help="read the password from standard input"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["password_stdin"]:
            raise CommandError("Give the password on standard input with --password-stdin.")
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CommandError("The password read from standard input is empty.")
        facility = find_facility(options["facility"]) if options["facility"] else None
        try:
            user = user_create(
                accessor=Accessor(None, None, "cli"),
                username=options["username"],
                password=password,
                role=options["role"],
                facility=facility,
                first_name=options["first_name"],
                last_name=options["last_name"],
                language=options["language"],
                email=options["email"],
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(f"Created {user.username} ({user.role}) {user.uuid}")
