"""A generic JSON API poller: a field mapping of dotted paths says where each item field is.

Config: ``items_path`` (``"data.list"``; empty for a top-level list) and ``fields`` mapping
``title``, ``text``, ``url``, ``published``, ``id`` and ``author`` to dotted paths inside
one item (``"attrs.title"``, ``"tags.0"``).
"""

from __future__ import annotations

import json
from datetime import UTC, tzinfo
from typing import Any

from pathcast.errors import FieldError
from pathcast.radar.sources import BadContent, ItemDraft, LayoutChanged, ParseResult, clean_text, parse_when

__all__ = ["FIELDS", "check_config", "parse_json", "resolve_path"]

FIELDS = ("id", "title", "text", "url", "published", "author")
_MISSING = object()


def resolve_path(document: Any, path: str) -> Any:
    """The value at a dotted path (list positions are numbers); a sentinel when absent."""
    current = document
    if not path:
        return current
    for part in path.split("."):
        if isinstance(current, dict):
            if part not in current:
                return _MISSING
            current = current[part]
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(current) <= index < len(current):
                return _MISSING
            current = current[index]
        else:
            return _MISSING
    return current


def _field(item: Any, fields: dict[str, str], name: str) -> Any:
    path = fields.get(name)
    if not path:
        return None
    value = resolve_path(item, path)
    return None if value is _MISSING else value


def parse_json(text: str, *, items_path: str, fields: dict[str, str], zone: tzinfo = UTC) -> ParseResult:
    """Items of a JSON document under ``items_path``, read through the field mapping.

    A path that no longer exists, or that no longer holds a list, means the API changed:
    that is :class:`LayoutChanged`, not an empty success.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise BadContent(
            f"not JSON: {error.msg} at line {error.lineno} column {error.colno}",
            zh=f"不是 JSON：第 {error.lineno} 行第 {error.colno} 列 {error.msg}",
        ) from error
    items = resolve_path(document, items_path)
    if items is _MISSING or not isinstance(items, list):
        raise LayoutChanged(
            f"layout changed: items path '{items_path}' does not lead to a list",
            zh=f"页面结构已变化：条目路径 '{items_path}' 不再指向列表",
        )
    result = ParseResult()
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            result.errors.append({"row": number, "field": "items_path", "message": "item is not an object"})
            continue
        title = clean_text(_field(item, fields, "title"))
        body = _field(item, fields, "text")
        body_text = str(body).strip() if body is not None else None
        if not title and not body_text:
            result.errors.append(
                {
                    "row": number,
                    "field": f"fields.title ({fields.get('title')})",
                    "message": "item has neither title nor text at the mapped paths",
                }
            )
            continue
        raw_id = _field(item, fields, "id")
        url = clean_text(_field(item, fields, "url"))
        raw_published = _field(item, fields, "published")
        published = parse_when(raw_published, zone=zone)
        if raw_published not in (None, "") and published is None:
            result.errors.append(
                {
                    "row": number,
                    "field": "fields.published",
                    "message": f"unreadable date {raw_published!r}; kept without a date",
                }
            )
        result.items.append(
            ItemDraft(
                external_id=clean_text(raw_id) or url,
                title=title,
                text=body_text or None,
                url=url,
                author=clean_text(_field(item, fields, "author")),
                published_at=published,
            )
        )
    if items and not result.items:
        # Every item lost its title and text at once: the mapping no longer fits the API.
        raise LayoutChanged(
            f"layout changed: field paths '{fields.get('title')}' / '{fields.get('text')}' matched nothing",
            zh=f"页面结构已变化：字段路径 '{fields.get('title')}' / '{fields.get('text')}' 没有匹配到任何内容",
        )
    return result


def _invalid(errors: list[FieldError], name: str, code: str, message: str) -> None:
    errors.append(FieldError(name, code, {"message": message}))


def check_config(config: dict[str, Any]) -> list[FieldError]:
    """Problems with a JSON source's items path and field mapping, each naming its config field."""
    errors: list[FieldError] = []
    items_path = config.get("items_path", "")
    if not isinstance(items_path, str):
        _invalid(
            errors,
            "config.items_path",
            "invalid",
            "a dotted path such as 'data.list' ('' for a top-level list)",
        )
    fields = config.get("fields")
    if not isinstance(fields, dict):
        _invalid(
            errors, "config.fields", "required", "a mapping of item fields (title, text, …) to dotted paths"
        )
        return errors
    for key, path in fields.items():
        if key not in FIELDS:
            _invalid(errors, f"config.fields.{key}", "unknown", f"known fields: {', '.join(FIELDS)}")
        elif not isinstance(path, str) or not path.strip():
            _invalid(errors, f"config.fields.{key}", "invalid", "a non-empty dotted path")
    if not fields.get("title") and not fields.get("text"):
        _invalid(errors, "config.fields.title", "required", "map at least title or text")
    return errors
