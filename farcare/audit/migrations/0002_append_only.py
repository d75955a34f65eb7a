"""On PostgreSQL the database itself refuses UPDATE and DELETE of audit rows, so not even the
application's own bugs can rewrite history. (SQLite's test flush deletes rows, so there the
model's guard and the hash chain do the work.)"""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION farcare_audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'the audit trail is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_append_only
  BEFORE UPDATE OR DELETE ON audit_auditevent
  FOR EACH ROW EXECUTE FUNCTION farcare_audit_append_only();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS audit_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS farcare_audit_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
