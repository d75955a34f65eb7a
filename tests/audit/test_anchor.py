"""The chain is anchored outside the database: signed checkpoints in a directory the database's
owner cannot rewrite. Someone with full rights on the database can no longer cut off the newest
records or rewrite the whole chain unseen, up to the latest checkpoint."""

import io
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError

from farcare.audit.anchor import checkpoint_files
from farcare.audit.chain import GENESIS_HASH, Checkpoint, link_hash, sign_checkpoint
from farcare.audit.models import AuditEvent

from .test_chain import database_env, tamper, verify, write_events


@pytest.fixture
def anchor(settings, tmp_path) -> Path:
    """Checkpoints and their keys in a folder of this test (another host, in production)."""
    folder = tmp_path / "anchor"
    settings.FARCARE_AUDIT_ANCHOR_DIR = folder / "checkpoints"
    settings.FARCARE_AUDIT_ANCHOR_KEY = folder / "signing.pem"
    settings.FARCARE_AUDIT_ANCHOR_PUBLIC_KEY = folder / "verify.pem"
    settings.FARCARE_AUDIT_ANCHOR_GENERATE = True
    return folder


def checkpoint() -> str:
    out = io.StringIO()
    call_command("audit", "checkpoint", stdout=out)
    return out.getvalue()


def cut_the_tail(keep: int) -> None:
    """Delete the newest records and move the recorded head back to the last one kept."""
    kept = AuditEvent.objects.get(seq=keep)
    tamper("DELETE FROM audit_auditevent WHERE seq > %s", [keep])
    tamper("UPDATE audit_auditchainhead SET seq = %s, hash = %s", [kept.seq, kept.hash])


def reattribute_and_rechain(seq: int, username: str) -> None:
    """Change who did record #seq, then recompute every link after it and the head, as an
    intruder who knows the (unkeyed) hash would."""
    tamper("UPDATE audit_auditevent SET actor_username = %s WHERE seq = %s", [username, seq])
    prev_hash = GENESIS_HASH
    for row in AuditEvent.objects.order_by("seq").values():
        row["prev_hash"] = prev_hash
        new_hash = link_hash(row)
        tamper(
            "UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE seq = %s",
            [prev_hash, new_hash, row["seq"]],
        )
        prev_hash = new_hash
    last = AuditEvent.objects.order_by("-seq").first()
    tamper("UPDATE audit_auditchainhead SET seq = %s, hash = %s", [last.seq, last.hash])


def test_a_checkpoint_signs_the_head_and_verify_checks_it(db, anchor):
    write_events(5)
    assert "Checkpoint written" in checkpoint()
    [path] = checkpoint_files()
    written = Checkpoint.from_json(path.read_text())
    assert (written.seq, written.hash) == (5, AuditEvent.objects.get(seq=5).hash)
    assert "Nothing new" in checkpoint()
    write_events(2)
    checkpoint()
    assert [p.name for p in checkpoint_files()] == [
        "checkpoint-000000000005.json",
        "checkpoint-000000000007.json",
    ]
    assert verify() == "ok"
    assert (anchor / "signing.pem").exists()  # made on first use, as `make run` needs


def test_deleting_the_newest_records_and_moving_the_head_is_caught_by_a_checkpoint(db, anchor):
    write_events(5)
    cut_the_tail(keep=3)
    assert verify() == "ok", "without a checkpoint the cut is invisible (the reported attack)"

    write_events(2)  # the trail goes on: #4 and #5 anew, a checkpoint at #5
    checkpoint()
    cut_the_tail(keep=3)
    problem = verify()
    assert "#5" in problem
    assert "missing" in problem


def test_reattributing_a_record_and_recomputing_the_chain_is_caught_by_a_checkpoint(db, anchor):
    write_events(5)
    reattribute_and_rechain(2, "someone-else")
    assert verify() == "ok", "without a checkpoint the rewrite is invisible (the reported attack)"

    checkpoint()  # vouches for the chain as it is now
    reattribute_and_rechain(3, "yet-another")
    problem = verify()
    assert "#5" in problem
    assert "rewritten" in problem


def test_a_forged_or_altered_checkpoint_fails_verification(db, anchor):
    write_events(3)
    checkpoint()
    [path] = checkpoint_files()
    genuine = Checkpoint.from_json(path.read_text())
    path.chmod(0o644)  # the intruder owns this storage too
    reattribute_and_rechain(2, "someone-else")
    rewritten_hash = AuditEvent.objects.get(seq=3).hash

    # A checkpoint for the rewritten chain, signed with the intruder's own key.
    forged = sign_checkpoint(
        Ed25519PrivateKey.generate(), seq=3, hash=rewritten_hash, created_at=genuine.created_at
    )
    path.write_text(forged.to_json())
    assert "signature" in verify()

    # The genuine checkpoint with its hash changed to the rewritten chain's.
    altered = Checkpoint(3, rewritten_hash, genuine.created_at, genuine.key_id, genuine.signature)
    path.write_text(altered.to_json())
    assert "signature" in verify()

    path.write_text("not a checkpoint")
    assert "not a checkpoint" in verify()


def test_a_checkpoint_never_vouches_for_a_broken_chain(db, anchor):
    write_events(3)
    tamper("UPDATE audit_auditevent SET actor_username = 'x' WHERE seq = 2")
    with pytest.raises(CommandError, match="#2"):
        checkpoint()
    assert checkpoint_files() == []


def test_records_after_the_latest_checkpoint_are_covered_by_the_chain_only(db, anchor):
    """What the anchor cannot do: the records after the latest checkpoint can still be cut off
    by someone who writes the database, until the next checkpoint."""
    write_events(3)
    checkpoint()
    write_events(2)
    cut_the_tail(keep=3)
    assert verify() == "ok"


def test_a_checkpoint_is_written_every_n_records_after_commit(
    db, anchor, settings, django_capture_on_commit_callbacks
):
    settings.FARCARE_AUDIT_CHECKPOINT_EVERY = 4
    with django_capture_on_commit_callbacks(execute=True):
        write_events(9)
    assert [p.name for p in checkpoint_files()] == [
        "checkpoint-000000000004.json",
        "checkpoint-000000000008.json",
    ]
    assert verify() == "ok"


def test_verify_warns_when_nothing_anchors_the_chain(db, anchor):
    write_events(2)
    err = io.StringIO()
    call_command("audit", "verify", stdout=io.StringIO(), stderr=err)
    assert "no signed checkpoint" in err.getvalue()


def test_without_a_key_and_without_generation_the_checkpoint_command_says_how(db, anchor, settings):
    settings.FARCARE_AUDIT_ANCHOR_GENERATE = False
    write_events(1)
    with pytest.raises(CommandError, match="audit keygen"):
        checkpoint()
    call_command("audit", "keygen", stdout=io.StringIO())
    assert "Checkpoint written" in checkpoint()
    with pytest.raises(CommandError, match="already exists"):
        call_command("audit", "keygen", stdout=io.StringIO())


def test_verify_needs_only_the_public_key(db, anchor):
    write_events(2)
    checkpoint()
    (anchor / "signing.pem").unlink()
    assert verify() == "ok"


def test_the_console_command_exits_non_zero_when_a_checkpoint_is_contradicted(
    transactional_db, anchor
):
    write_events(4)
    checkpoint()
    cut_the_tail(keep=2)
    env = {
        **database_env(),
        "FARCARE_AUDIT_ANCHOR_DIR": str(anchor / "checkpoints"),
        "FARCARE_AUDIT_ANCHOR_PUBLIC_KEY": str(anchor / "verify.pem"),
        "FARCARE_AUDIT_ANCHOR_KEY": str(anchor / "absent.pem"),
        "FARCARE_AUDIT_ANCHOR_GENERATE": "0",
    }
    result = subprocess.run(
        [sys.executable, "-m", "farcare.cli", "audit", "verify"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 1
    assert "#4" in result.stderr
