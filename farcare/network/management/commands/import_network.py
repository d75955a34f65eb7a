from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from farcare.network.importer import NetworkImportError, import_network_file


class Command(BaseCommand):
    help = "Load facilities from a CSV register; a file with bad rows changes nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            result = import_network_file(path)
        except NetworkImportError as error:
            for row_error in error.errors:
                self.stderr.write(str(row_error))
            raise CommandError(
                f"{len(error.errors)} problem(s) in {path}; nothing was imported."
            ) from error
        except UnicodeDecodeError as error:
            raise CommandError(f"{path} is not UTF-8 text; nothing was imported.") from error
        self.stdout.write(
            f"Facilities: {result.created} created, {result.updated} updated, "
            f"{result.unchanged} unchanged; {result.links} referral links added."
        )
