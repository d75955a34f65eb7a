"""The `farcare` console command for operators. Its verbs are Django management commands, so
`farcare user add ...`, `farcare import-network FILE.csv`, `farcare audit verify`, and also
`farcare migrate` or `farcare load-demo` all work."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and not args[0].startswith("-"):
        args[0] = args[0].replace("-", "_")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farcare.settings.dev")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["farcare", *args])


if __name__ == "__main__":
    main()
