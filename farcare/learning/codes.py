"""Verification codes of certificates: 10 characters of Crockford's base32 taken from an HMAC
of what the certificate says, and one check character (Luhn mod 32), so a typing slip is caught
before any lookup and a code that was made up or altered matches nothing.

Crockford's alphabet has no I, L, O or U; a reader who types O for 0 or I/L for 1 is forgiven."""

from __future__ import annotations

import hashlib
import hmac

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BODY_LENGTH = 10
LENGTH = BODY_LENGTH + 1
_FORGIVEN = str.maketrans({"O": "0", "I": "1", "L": "1"})


def check_character(body: str) -> str:
    """Luhn mod N over the alphabet: catches every single wrong character and most swaps of
    two neighbours."""
    n = len(ALPHABET)
    factor = 2
    total = 0
    for char in reversed(body):
        addend = factor * ALPHABET.index(char)
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return ALPHABET[(n - total % n) % n]


def make_code(secret: str, message: str) -> str:
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big") >> (64 - 5 * BODY_LENGTH)
    body = "".join(
        ALPHABET[(number >> (5 * (BODY_LENGTH - 1 - i))) & 31] for i in range(BODY_LENGTH)
    )
    return body + check_character(body)


def normalise(typed: str) -> str:
    """The code as stored: capitals, no spaces or dashes, O/I/L read as 0/1."""
    return "".join(char for char in typed.upper() if char not in " -\t").translate(_FORGIVEN)


def well_formed(code: str) -> bool:
    """Right length, right alphabet and the check character agrees."""
    return (
        len(code) == LENGTH
        and all(char in ALPHABET for char in code)
        and check_character(code[:BODY_LENGTH]) == code[BODY_LENGTH]
    )


def grouped(code: str) -> str:
    """For printing and reading aloud: XXXX-XXXX-XXX."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))
