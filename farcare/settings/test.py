"""Settings for the test suite: the same as dev, with a cheaper Argon2 so the suite stays fast
(the algorithm and the code path are the production ones)."""

import os
import tempfile
from pathlib import Path

from .dev import *  # noqa: F403
from .dev import DATABASES, VAR_DIR

PASSWORD_HASHERS = ["farcare.accounts.hashers.FastArgon2PasswordHasher"]
FARCARE_REQUIRE_OTP = False

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: console-command tests open the test database from another process.
    # One per test run, so two runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

# The audit anchor of a test run belongs to its own database: never the demo's in var/. (A
# console command started by a test gets its own, empty one unless the test passes the paths.)
_anchor = Path(tempfile.gettempdir()) / f"farcare-test-anchor-{os.getpid()}"
FARCARE_AUDIT_ANCHOR_DIR = Path(os.environ.get("FARCARE_AUDIT_ANCHOR_DIR", _anchor / "checkpoints"))
FARCARE_AUDIT_ANCHOR_KEY = Path(os.environ.get("FARCARE_AUDIT_ANCHOR_KEY", _anchor / "signing.pem"))
FARCARE_AUDIT_ANCHOR_PUBLIC_KEY = Path(
    os.environ.get("FARCARE_AUDIT_ANCHOR_PUBLIC_KEY", _anchor / "verify.pem")
)
# Checkpoints come when a test asks for them (tests/audit/test_anchor.py), not every N records.
FARCARE_AUDIT_CHECKPOINT_EVERY = 0
