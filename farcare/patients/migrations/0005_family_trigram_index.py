"""A trigram index on the folded family name, on PostgreSQL: the FHIR `family` search (and the
count of its matches) matches the folded name at the start of any of its words — a LIKE 'x%'
OR LIKE '% x%' that no B-tree serves, so every family search read the whole table (5 ms at
10,000 patients). The expression is exactly the one `fhir.resources.network.Fold` writes, so
the planner uses the index for it. Built CONCURRENTLY: a hub's table keeps taking writes while
the index is made. Without GIN's pending list (fastupdate off): rows registered in bulk (a
post's backlog, a migration from another system) waited there, unindexed, until a vacuum, and
while it was long the planner judged the index too dear and scanned the table (10 ms instead of
1 at 10,000 patients); registrations are few, each pays its index update at once. SQLite (a post's station, `make run`) scans its few thousand rows."""

from django.db import migrations

INDEX = "patients_family_folded_trgm"
PG_FORWARD = [
    # Trusted since PostgreSQL 13: the database's owner may create it.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON patients_patient "
    "USING gin ((REPLACE(LOWER(family), 'ё', 'е')) gin_trgm_ops) WITH (fastupdate = off)",
]
PG_BACKWARD = [f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}"]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in PG_FORWARD:
            schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in PG_BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("patients", "0004_consent_teaching"),
    ]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
