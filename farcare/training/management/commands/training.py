from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Q

from farcare.training.materials import make_light_version
from farcare.training.models import Material, MaterialKind


class Command(BaseCommand):
    help = (
        "Training materials: `farcare training lighten` makes the light versions the background "
        "task did not (a worker down, a crash mid-way). Materials that cannot be made lighter "
        "are tried again each time: run it by hand, not on a timer."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("lighten", help="make missing light versions of PDFs and recordings")

    def handle(self, *args: Any, **options: Any) -> None:
        waiting = Material.objects.filter(light_file="").filter(
            Q(content_type="application/pdf") | Q(kind=MaterialKind.RECORDING)
        )
        for material in waiting.order_by("added_at", "pk"):
            done = make_light_version(material_uuid=material.uuid)
            if done is not None and done.light_file:
                self.stdout.write(
                    f"light     {material.uuid} {material.size} → {done.light_size} bytes"
                )
            else:
                self.stdout.write(f"kept      {material.uuid}: no smaller version")
