"""JSON a client sent, parsed without letting it crash us.

Python's json accepts NaN, Infinity and -Infinity, which are not JSON and turn into figures no
column can hold; and it recurses once per level of nesting, so "[" * 5000 raises
RecursionError. Both are refused here, as a ValueError like any other malformed text, so a
view answers 400 and a socket says what it refused and stays open."""

from __future__ import annotations

import json
from typing import Any, NoReturn


class NotJson(ValueError):
    """The text is not JSON we accept."""


def _no_constant(name: str) -> NoReturn:
    raise NotJson(f"{name} is not a number in JSON.")


def parse_json(text: str | bytes) -> Any:
    """The value JSON `text` holds; NotJson (a ValueError) for anything else."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError as error:
        raise NotJson("The JSON is nested too deeply.") from error
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise NotJson(str(error)) from error


def parse_json_body(body: bytes) -> Any:
    """A request's JSON body; an empty body is an empty object."""
    return parse_json(body or b"{}")
