"""Settings for the test suite: the same as dev, with a cheaper Argon2 so the suite stays fast
(the algorithm and the code path are the production ones)."""

from .dev import *  # noqa: F403
from .dev import DATABASES, VAR_DIR

PASSWORD_HASHERS = ["farcare.accounts.hashers.FastArgon2PasswordHasher"]
FARCARE_REQUIRE_OTP = False

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: console-command tests open the test database from another process.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
