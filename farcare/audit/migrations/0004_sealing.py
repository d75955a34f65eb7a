"""Append, then seal: a record is written unsealed (seq NULL, prev_hash and hash empty) with one
INSERT and no lock, and the sequencer (`farcare.audit.services.seal`) links it into the chain
later. On PostgreSQL the trigger of 0002 gives way, for the records only, to one that allows
exactly that: setting seq, prev_hash and hash of a record that has no hash yet, nothing else,
once. DELETE stays refused, and the patient links of 0003 stay strictly append-only.

Going back needs every record sealed (seq NOT NULL again): the last step below, undone first,
seals what is left with the historical models, the same way `seal` does."""

from django.db import migrations, models

PG_FORWARD = """
CREATE OR REPLACE FUNCTION farcare_audit_seal_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND OLD.hash = '' AND OLD.seq IS NULL
     AND NEW.hash <> '' AND NEW.seq IS NOT NULL
     AND (to_jsonb(NEW) - 'seq' - 'prev_hash' - 'hash')
         = (to_jsonb(OLD) - 'seq' - 'prev_hash' - 'hash') THEN
    RETURN NEW;  -- sealing: linking an unsealed record into the chain, once
  END IF;
  RAISE EXCEPTION 'the audit trail is append-only';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_append_only ON audit_auditevent;
CREATE TRIGGER audit_append_only
  BEFORE UPDATE OR DELETE ON audit_auditevent
  FOR EACH ROW EXECUTE FUNCTION farcare_audit_seal_only();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS audit_append_only ON audit_auditevent;
CREATE TRIGGER audit_append_only
  BEFORE UPDATE OR DELETE ON audit_auditevent
  FOR EACH ROW EXECUTE FUNCTION farcare_audit_append_only();
DROP FUNCTION IF EXISTS farcare_audit_seal_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD)


def seal_everything(apps, schema_editor):
    """Before going back to NOT NULL seq: link every unsealed record, in id order, after the
    head (what `services.seal` does, with the historical models)."""
    from farcare.audit.chain import GENESIS_HASH, HASHED_FIELDS, link_hash

    event_model = apps.get_model("audit", "AuditEvent")
    head_model = apps.get_model("audit", "AuditChainHead")
    head, _created = head_model.objects.get_or_create(
        pk=1, defaults={"seq": 0, "hash": GENESIS_HASH}
    )
    seq, prev_hash = head.seq, head.hash
    names = [name for name in HASHED_FIELDS if name not in ("seq", "prev_hash")]
    for row in event_model.objects.filter(seq__isnull=True).order_by("id").values("id", *names):
        seq += 1
        row.update(seq=seq, prev_hash=prev_hash)
        new_hash = link_hash(row)
        event_model.objects.filter(pk=row["id"]).update(seq=seq, prev_hash=prev_hash, hash=new_hash)
        prev_hash = new_hash
    head_model.objects.filter(pk=1).update(seq=seq, hash=prev_hash)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_patient_links")]

    operations = [
        migrations.AlterModelOptions(
            name="auditevent",
            options={
                "ordering": [
                    models.OrderBy(models.F("seq"), descending=True, nulls_first=True),
                    "-id",
                ],
                "verbose_name": "audit event",
                "verbose_name_plural": "audit events",
            },
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.PositiveBigIntegerField(null=True, unique=True),
        ),
        migrations.RunPython(forward, backward),
        # Nothing to do going forward; going back, it runs first, while sealing is allowed.
        migrations.RunPython(migrations.RunPython.noop, seal_everything),
    ]
