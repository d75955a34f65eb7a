"""The audit trail is append-only and hash-chained; `farcare audit verify` finds the first
record that was altered, removed or inserted."""

import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from farcare.audit.models import AppendOnlyError, AuditEvent
from farcare.audit.services import Accessor, audit_record, audit_verify, seal


def write_events(n):
    """`n` records appended, then linked into the chain by the sequencer (as its worker
    would); the records as sealed."""
    accessor = Accessor(None, "127.0.0.1", "cli")
    written = [audit_record(accessor=accessor, action="view", details={"i": i}) for i in range(n)]
    seal()
    return list(AuditEvent.objects.filter(pk__in=[e.pk for e in written]).order_by("seq"))


def tamper(sql, params=()):
    """What an intruder with database rights would do: switch off the guard, then rewrite."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_append_only")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            # A deleted record's foreign-key checks (the patients it showed) are deferred to the
            # commit; run them now so that the table may be altered again.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_append_only")


def verify():
    try:
        call_command("audit", "verify")
    except CommandError as error:
        return str(error)
    return "ok"


def test_an_intact_chain_verifies(db):
    write_events(5)
    assert verify() == "ok"
    assert audit_verify() is None


def test_an_altered_record_is_named(db):
    events = write_events(5)
    tamper("UPDATE audit_auditevent SET actor_username = 'someone' WHERE seq = %s", [events[2].seq])
    assert "#3" in verify()
    assert "altered" in verify()


def test_a_removed_record_is_named(db):
    write_events(5)
    tamper("DELETE FROM audit_auditevent WHERE seq = 2")
    assert "#2" in verify()


def test_a_removed_last_record_is_noticed(db):
    write_events(5)
    tamper("DELETE FROM audit_auditevent WHERE seq = 5")
    assert "#5" in verify()


def test_an_inserted_record_is_named(db):
    events = write_events(3)
    tamper("UPDATE audit_auditevent SET seq = seq + 1000 WHERE seq >= 2")
    tamper("UPDATE audit_auditevent SET seq = seq - 999 WHERE seq >= 1000")
    fake = events[1]
    tamper(
        "INSERT INTO audit_auditevent (uuid, seq, created_at, actor_username, actor_role, "
        "record_type, record_id, action, purpose, outcome, channel, details, prev_hash, hash) "
        "VALUES (%s, 2, %s, 'ghost', '', '', '', 'view', 'normal', 'success', 'page', '{}', "
        "%s, %s)",
        ["0" * 32, fake.created_at, fake.prev_hash, fake.hash],
    )
    assert "#2" in verify() or "#3" in verify()
    assert verify() != "ok"


def test_the_application_cannot_change_or_delete_a_record(db):
    event = write_events(1)[0]
    event.actor_username = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL trigger")
def test_postgresql_itself_refuses_to_rewrite_the_trail(db):
    from django.db import DatabaseError, transaction

    write_events(1)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE audit_auditevent SET actor_username = 'x'")


def database_env():
    """The environment for a console command that must open this test's database."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{db['NAME']}"
    else:
        url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {
        "FARCARE_DATABASE_URL": url,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "farcare.settings.test",
    }


def test_the_console_command_exits_non_zero_on_a_broken_chain(transactional_db):
    write_events(3)
    tamper("UPDATE audit_auditevent SET details = '{\"i\": 99}' WHERE seq = 1")
    result = subprocess.run(
        [sys.executable, "-m", "farcare.cli", "audit", "verify"],
        capture_output=True,
        text=True,
        env=database_env(),
        check=False,
    )
    assert result.returncode != 0
    assert "#1" in result.stderr
