"""JSON a client sends is parsed without letting it crash us: a string Python's json accepts but
no database (nor UTF-8) can hold — a lone surrogate written as "\\ud800" — is refused as not
JSON, wherever it sits in the document, so every view answers 400 instead of a 500 on the
write."""

from __future__ import annotations

import pytest

from farcare.core.jsonbody import NotJson, parse_json, parse_json_body


@pytest.mark.parametrize(
    "text",
    [
        '"\\ud800"',
        '{"text": "АД 150/95 \\udfff"}',
        '{"\\ud800": 1}',
        '[1, [2, {"deep": ["ok", "\\udc00"]}]]',
        b'{"id": "\\ud83d"}',
        # A surrogate encoded straight in the bytes (not valid UTF-8) is refused too.
        b'{"id": "\xed\xa0\x80"}',
    ],
)
def test_a_lone_surrogate_anywhere_is_refused_with_a_clear_reason(text: str | bytes) -> None:
    with pytest.raises(NotJson, match="surrogate"):
        parse_json(text)


def test_a_proper_pair_and_ordinary_text_are_accepted() -> None:
    assert parse_json('{"emoji": "\\ud83d\\ude00", "ru": "давление"}') == {
        "emoji": "\U0001f600",
        "ru": "давление",
    }
    assert parse_json_body(b"") == {}


def test_a_refusal_is_a_value_error_as_callers_expect() -> None:
    with pytest.raises(ValueError):
        parse_json_body(b'["\\ud800"]')
