"""The default critical limits of domain.md §9 (`facility=None`), from data/critical_limits.csv
as it stands in this migration (a later edit of the file does not change what was loaded)."""

from decimal import Decimal

from django.db import migrations

DEFAULTS = (
    ("2823-3", "2.8", "6.2", "mmol/L"),
    ("2951-2", "120", "160", "mmol/L"),
    ("2345-7", "2.5", "25", "mmol/L"),
    ("718-7", "70", "", "g/L"),
    ("777-3", "20", "", "10*9/L"),
    ("6690-2", "2", "30", "10*9/L"),
    ("6301-6", "", "5", "{INR}"),
)


def load(apps, schema_editor):
    CriticalLimit = apps.get_model("diagnostics", "CriticalLimit")
    for code, low, high, unit in DEFAULTS:
        CriticalLimit.objects.get_or_create(
            code=code,
            facility=None,
            defaults={
                "low": Decimal(low) if low else None,
                "high": Decimal(high) if high else None,
                "unit": unit,
            },
        )


def unload(apps, schema_editor):
    CriticalLimit = apps.get_model("diagnostics", "CriticalLimit")
    CriticalLimit.objects.filter(facility=None, code__in=[row[0] for row in DEFAULTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("diagnostics", "0002_alert_kind_receipts")]

    operations = [migrations.RunPython(load, unload)]
