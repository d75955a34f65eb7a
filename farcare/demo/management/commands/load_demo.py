from typing import Any

from django.core.management.base import BaseCommand

from farcare.demo.loader import DEMO_PASSWORD, load_demo


class Command(BaseCommand):
    help = "Load the demo network of the Russian Far East (safe to run again)."

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = load_demo()
        self.stdout.write(
            self.style.SUCCESS(f"Demo network loaded. Accounts (password: {DEMO_PASSWORD}):")
        )
        for username, role, where in accounts:
            self.stdout.write(f"  {username:<14} {role:<24} {where}")
