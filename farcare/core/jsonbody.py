"""JSON a client sent, parsed without letting it crash us.

Python's json accepts NaN, Infinity and -Infinity, which are not JSON and turn into figures no
column can hold; and it recurses once per level of nesting, so "[" * 5000 raises
RecursionError. And it turns "\\ud800" (a lone surrogate, half of a pair) into a str that no
UTF-8 column or encoder can hold, so the write fails later as a 500. All are refused here, as a
ValueError like any other malformed text, so a view answers 400 and a socket says what it
refused and stays open."""

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
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError as error:
        raise NotJson("The JSON is nested too deeply.") from error
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise NotJson(str(error)) from error
    _refuse_lone_surrogates(value)
    return value


def _refuse_lone_surrogates(value: Any) -> None:
    """Every string of the document, keys included, must be encodable as UTF-8. Walked with a
    stack, not recursion: the parser already allowed nesting close to the recursion limit."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            texts: list[str] = [item]
        elif isinstance(item, dict):
            texts = list(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
            continue
        else:
            continue
        for text in texts:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as error:
                raise NotJson(
                    "A string holds a lone surrogate (such as \\ud800), which is not text: "
                    "write the character itself or its full surrogate pair."
                ) from error


def parse_json_body(body: bytes) -> Any:
    """A request's JSON body; an empty body is an empty object."""
    return parse_json(body or b"{}")
