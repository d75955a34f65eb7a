"""The index of the risk list's whole order over active enrolments (selectors.ENROLMENT_ORDER:
risk DESC, last reading DESC with people without a reading last, id), so that a district
doctor's first page walks the index until it has found 50 people they may see instead of
sorting the thousands who share a risk of 0.

Written per database because Django's Index cannot be: PostgreSQL needs NULLS LAST in the index
to match the ORDER BY, and SQLite refuses NULLS LAST in an index but sorts NULL lowest, so its
plain DESC already puts people without a reading last."""

from django.db import migrations

NAME = "enrolment_risk_order"


def create(apps, schema_editor):
    nulls = " NULLS LAST" if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE INDEX {NAME} ON monitoring_enrolment "
        f"(risk DESC, last_reading_at DESC{nulls}, id) WHERE status = 'active'"
    )


def drop(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX IF EXISTS {NAME}")


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
