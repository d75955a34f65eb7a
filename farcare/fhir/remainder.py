"""What a client wrote that FarCare's record does not hold, kept beside the record and shown again.

A handler maps the elements FarCare understands into the domain (a patient's SNILS, a reading's
value...) and renders them back with `to_fhir`. Everything else the client sent — a second
phone, an e-mail, a passport number, a note on a reading, a reference range — is the
*remainder*: the submitted resource minus what the rendering already shows. It is stored per
resource (`StoredRemainder`) and merged into every rendering, so read, vread, search, history and
`$everything` show it, and every version (`ResourceVersion`) holds it as it was then.

The remainder is computed against the rendering made right after the write, element by element:

- an element the rendering lacks is kept whole;
- objects are compared key by key; a scalar that differs is the record's (FarCare normalised or
  derived it: a display, the time FarCare received a request), unless the handler names the
  element as one it *refuses* to see differ (Patient.active): then the write is refused with 422;
- in lists, each sent item is paired with the rendered item it agrees with most (same system, use,
  url, code...; no conflicting identity); what a paired item adds is kept as an extra for that
  item, found again on merge by those identity elements; an unpaired item is kept and appended.

Because the remainder holds only what the record does not, a later change through the pages
cannot be contradicted by it: the record's values are rendered, the remainder adds to them. An
extra whose item the record no longer has (a phone the page replaced) is dropped with it. A PUT
replaces the remainder; `meta.versionId` and `meta.lastUpdated` are the server's and never kept.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

from .errors import business_rule
from .models import StoredRemainder

# The elements that identify an item of a list (which phone, which identifier, which extension).
IDENTITY = ("system", "use", "url", "code", "linkId", "contentType")
SERVER_META = ("versionId", "lastUpdated")
LIST = "@list"  # a kept list: {"@list": [{"@add": item} | {"@at": identity, "@extra": kept}]}


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def _compatible(sent: Any, served: Any) -> bool:
    """No scalar of `sent` contradicts `served` where both have it."""
    if isinstance(sent, dict) and isinstance(served, dict):
        return all(_compatible(sent[key], served[key]) for key in sent.keys() & served.keys())
    if isinstance(sent, list) and isinstance(served, list):
        # Each sent item has its counterpart (a coding of the same system and code...).
        return all(any(_score(item, other) >= 1 for other in served) for item in sent)
    return bool(sent == served)


def _score(sent: Any, served: Any) -> int:
    """How well a sent list item matches a rendered one; -1 when they cannot be the same item."""
    if _is_scalar(sent) or _is_scalar(served):
        return 1_000 if sent == served else -1
    if not isinstance(sent, dict) or not isinstance(served, dict):
        return -1
    if sent == served:
        return 1_000
    common = sent.keys() & served.keys()
    if any(key in IDENTITY and not _compatible(sent[key], served[key]) for key in common):
        return -1
    return sum(1 for key in common if _compatible(sent[key], served[key]))


def _identity(sent: dict[str, Any], served: dict[str, Any]) -> dict[str, Any]:
    agreed = {key: served[key] for key in sent.keys() & served.keys() if sent[key] == served[key]}
    named = {key: value for key, value in agreed.items() if key in IDENTITY}
    return named or agreed


def _diff(sent: Any, served: Any, path: str, refused: frozenset[str]) -> Any:
    """What `sent` holds beyond `served` (None when nothing)."""
    if isinstance(sent, dict) and isinstance(served, dict):
        kept: dict[str, Any] = {}
        for key, value in sent.items():
            where = f"{path}.{key}"
            if key not in served:
                kept[key] = copy.deepcopy(value)
                continue
            rest = _diff(value, served[key], where, refused)
            if rest is not None:
                kept[key] = rest
        return kept or None
    if isinstance(sent, list) and isinstance(served, list):
        return _diff_list(sent, served, path, refused)
    if sent != served and _is_scalar(sent) and _unindexed(path) in refused:
        raise business_rule(
            f"{path}: FarCare keeps {json.dumps(served)} here and cannot store {json.dumps(sent)}.",
            [path],
        )
    return None  # the record's value (normalised or derived) is shown


def _unindexed(path: str) -> str:
    return re.sub(r"\[\d+\]", "", path)


def _diff_list(
    sent: list[Any], served: list[Any], path: str, refused: frozenset[str]
) -> dict[str, Any] | None:
    candidates = sorted(
        (
            (_score(item, other), index, other_index)
            for index, item in enumerate(sent)
            for other_index, other in enumerate(served)
        ),
        key=lambda triple: (-triple[0], triple[1], triple[2]),
    )
    paired: dict[int, int] = {}
    taken: set[int] = set()
    for score, index, other_index in candidates:
        if score < 1 or index in paired or other_index in taken:
            continue
        paired[index] = other_index
        taken.add(other_index)
    kept: list[dict[str, Any]] = []
    for index, item in enumerate(sent):
        if index not in paired:
            kept.append({"@add": copy.deepcopy(item)})
            continue
        other = served[paired[index]]
        if isinstance(item, dict) and isinstance(other, dict):
            extra = _diff(item, other, f"{path}[{index}]", refused)
            if extra is not None:
                kept.append({"@at": _identity(item, other), "@extra": extra})
    return {LIST: kept} if kept else None


def compute(
    sent: dict[str, Any],
    served: dict[str, Any],
    *,
    refused: frozenset[str] = frozenset(),
    replaced: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The remainder of `sent` against the rendering `served`. `replaced` are the elements the
    client's value replaces on rendering (FarCare derives a stand-in only when none was sent)."""
    body = {key: value for key, value in sent.items() if key not in ("id", "resourceType")}
    meta = {key: value for key, value in (body.pop("meta", None) or {}).items()}
    for key in SERVER_META:
        meta.pop(key, None)
    if meta:
        body["meta"] = meta
    kept: dict[str, Any] = {}
    for key in replaced & body.keys():
        kept[key] = {"@replace": copy.deepcopy(body.pop(key))}
    rest = _diff(
        body, {k: v for k, v in served.items() if k != "meta"}, sent["resourceType"], refused
    )
    kept.update(rest or {})
    return kept


def merge(served: dict[str, Any], kept: dict[str, Any]) -> dict[str, Any]:
    """The rendering with the remainder put back."""
    result = copy.deepcopy(served)
    _merge_into(result, kept)
    return result


def _merge_into(target: dict[str, Any], kept: dict[str, Any]) -> None:
    for key, value in kept.items():
        if isinstance(value, dict) and "@replace" in value:
            target[key] = copy.deepcopy(value["@replace"])
        elif isinstance(value, dict) and LIST in value:
            current = target.get(key)
            items = current if isinstance(current, list) else []
            target[key] = _merge_list(items, value[LIST])
        elif key not in target:
            target[key] = copy.deepcopy(value)
        elif isinstance(value, dict) and isinstance(target[key], dict):
            _merge_into(target[key], value)
        # else: the record holds this element now; its value is shown


def _merge_list(items: list[Any], kept: list[dict[str, Any]]) -> list[Any]:
    merged = copy.deepcopy(items)
    used: set[int] = set()
    for part in kept:
        if "@add" in part:
            if part["@add"] not in merged:
                merged.append(copy.deepcopy(part["@add"]))
            continue
        identity = part.get("@at", {})
        for index, item in enumerate(merged):
            if index in used or not isinstance(item, dict):
                continue
            if all(item.get(name) == wanted for name, wanted in identity.items()):
                used.add(index)
                _merge_into(item, part.get("@extra", {}))
                break
        # No such item any more (the record changed it): its extras went with it.
    return merged


def basis(served: dict[str, Any]) -> str:
    """A fingerprint of the rendering the remainder was computed against."""
    body = {key: value for key, value in served.items() if key != "meta"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def stored(resource_type: str, logical_id: str) -> dict[str, Any]:
    row = StoredRemainder.objects.filter(resource_type=resource_type, logical_id=logical_id).first()
    if row is None:
        return {}
    content: dict[str, Any] = row.content
    return content


def store(
    resource_type: str, logical_id: str, kept: dict[str, Any], served: dict[str, Any]
) -> None:
    if not kept:
        # Nothing beyond the record: no row (one statement; a resource without a row renders
        # as one with an empty remainder).
        StoredRemainder.objects.filter(resource_type=resource_type, logical_id=logical_id).delete()
        return
    StoredRemainder.objects.update_or_create(
        resource_type=resource_type,
        logical_id=logical_id,
        defaults={"content": kept, "basis": basis(served)},
    )


def rendered(handler: Any, obj: Any) -> dict[str, Any]:
    """The resource as served: the handler's rendering of the record, with the remainder. A
    narrative (`text`) the client wrote describes the record as it was; once the record has
    changed since, the narrative is left out rather than shown stale."""
    served: dict[str, Any] = handler.to_fhir(obj)
    row = StoredRemainder.objects.filter(
        resource_type=handler.resource_type, logical_id=handler.logical_id(obj)
    ).first()
    return with_kept(served, row)


def rows_of(resource_type: str, logical_ids: list[str]) -> dict[str, StoredRemainder]:
    """The remainder rows of many resources of a type, in one query, by logical id."""
    return {
        row.logical_id: row
        for row in StoredRemainder.objects.filter(
            resource_type=resource_type, logical_id__in=logical_ids
        )
    }


def with_kept(served: dict[str, Any], row: StoredRemainder | None) -> dict[str, Any]:
    """`served` with the remainder `row` put back (see `rendered`)."""
    if row is None or not row.content:
        return served
    kept = dict(row.content)
    if "text" in kept and row.basis != basis(served):
        del kept["text"]
    return merge(served, kept)
