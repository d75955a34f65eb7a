"""Settings for the test suite: the same as dev, with a cheaper Argon2 so the suite stays fast
(the algorithm and the code path are the production ones)."""

import os

from .dev import *  # noqa: F403
from .dev import DATABASES, VAR_DIR

PASSWORD_HASHERS = ["farcare.accounts.hashers.FastArgon2PasswordHasher"]
FARCARE_REQUIRE_OTP = False

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: console-command tests open the test database from another process.
    # One per test run, so two runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
