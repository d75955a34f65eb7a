"""The same content always gives the same bytes, and content without a stable text form is
refused rather than guessed at."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import OrderedDict
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from farcare.signatures.canonical import canonical_bytes

from .conftest import conclusion


def test_key_order_does_not_change_the_bytes():
    document = conclusion()
    reordered = dict(reversed(list(document.items())))
    reordered["patient"] = OrderedDict(reversed(list(document["patient"].items())))
    assert list(reordered) != list(document)
    assert canonical_bytes(reordered) == canonical_bytes(document)
    assert canonical_bytes(conclusion()) == canonical_bytes(conclusion())


def test_the_exact_form_is_compact_sorted_utf8_json():
    document = {
        "b": 1,
        "a": "ёлка",
        "when": dt.datetime(2025, 3, 1, 14, 30, tzinfo=ZoneInfo("Asia/Anadyr")),
        "id": uuid.UUID("5b0d8c1e-3c5a-4f0e-9d4c-2a7f1e6b9a01"),
        "dose": Decimal("1.50"),
        "day": dt.date(2025, 3, 1),
        "list": (1, None, True),
    }
    assert (
        canonical_bytes(document)
        == (
            '{"a":"ёлка","b":1,"day":"2025-03-01","dose":"1.50",'
            '"id":"5b0d8c1e-3c5a-4f0e-9d4c-2a7f1e6b9a01","list":[1,null,true],'
            '"when":"2025-03-01T02:30:00Z"}'
        ).encode()
    )


def test_the_same_instant_in_another_zone_gives_the_same_bytes():
    anadyr = dt.datetime(2025, 3, 1, 14, 30, tzinfo=ZoneInfo("Asia/Anadyr"))
    vladivostok = anadyr.astimezone(ZoneInfo("Asia/Vladivostok"))
    assert canonical_bytes({"t": anadyr}) == canonical_bytes({"t": vladivostok})


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2025, 3, 1, 14, 30),  # naive: which of the Far East's zones?
        {1: "a"},  # would collide with the key "1"
        {"a", "b"},  # no order
        float("nan"),
        Decimal("Infinity"),
        object(),
    ],
)
def test_values_without_a_stable_form_are_refused(value):
    with pytest.raises((TypeError, ValueError)):
        canonical_bytes({"value": value})
