from django.contrib.auth.hashers import Argon2PasswordHasher


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2 with small costs, for the test suite only. Its hashes verify with the production
    hasher too: the parameters travel inside each hash."""

    time_cost = 1
    memory_cost = 1024
    parallelism = 1
