"""The patients an audit record showed (a search's results), indexed for "who looked at my
record". Append-only on PostgreSQL like the records themselves (the trigger function of 0002)."""

import django.db.models.deletion
from django.db import migrations, models

PG_FORWARD = """
CREATE TRIGGER audit_patient_append_only
  BEFORE UPDATE OR DELETE ON audit_auditeventpatient
  FOR EACH ROW EXECUTE FUNCTION farcare_audit_append_only();
"""
PG_BACKWARD = "DROP TRIGGER IF EXISTS audit_patient_append_only ON audit_auditeventpatient;"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_append_only"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditEventPatient",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("patient_uuid", models.UUIDField(db_index=True)),
                (
                    "event",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="patient_links",
                        to="audit.auditevent",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("event", "patient_uuid"), name="audit_patient_once"
                    )
                ],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
