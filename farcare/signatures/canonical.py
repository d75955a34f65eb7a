"""The canonical byte form of a document: what is digested and signed.

JSON with sorted keys, no whitespace, UTF-8 (not ASCII escapes), so the same content always gives
the same bytes whatever the order in which a dictionary was built. Values JSON has no type for
are written as strings: aware datetimes in ISO 8601 UTC, dates in ISO 8601, UUIDs in their
canonical form, Decimals as written (so "1.50" keeps its precision). Anything whose text form
would not be stable is refused rather than guessed at."""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    text = json.dumps(
        _normalise(document),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return text.encode("utf-8")


def _normalise(value: Any) -> Any:
    # bool before int (bool is an int); str subclasses (Django choices) become plain str.
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("NaN and infinity have no canonical form")
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("NaN and infinity have no canonical form")
        return str(value)
    if isinstance(value, dt.datetime):
        # A naive time is ambiguous (the Far East alone spans several zones): refuse it.
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} has no canonical form")
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            # json would turn 1 into "1", letting two different keys collide.
            if not isinstance(key, str):
                raise TypeError(f"document keys must be strings, not {type(key).__name__}")
            result[str(key)] = _normalise(item)
        return result
    if isinstance(value, list | tuple):
        return [_normalise(item) for item in value]
    # Sets have no order, lazy translations depend on the active language, and so on.
    raise TypeError(f"{type(value).__name__} has no canonical form")
