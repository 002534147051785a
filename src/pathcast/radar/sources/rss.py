"""RSS 2.0 and Atom feeds, parsed with feedparser after a defusedxml safety check.

feedparser is lenient (it reads many broken feeds), which is what a radar wants; the
defusedxml pass first refuses entity tricks (billion laughs, external entities) that a
hostile feed could use against the parser.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import Any

import feedparser
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree

from pathcast.radar.sources import BadContent, ItemDraft, ParseResult, clean_text, parse_when

__all__ = ["parse_feed"]


def _struct_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, TypeError, ValueError):
        return None


def _refuse_unsafe_xml(content: bytes) -> None:
    try:
        SafeElementTree.fromstring(content)
    except DefusedXmlException as error:
        raise BadContent(
            f"unsafe XML refused: {type(error).__name__}", zh=f"拒绝不安全的 XML：{type(error).__name__}"
        ) from error
    except Exception:  # malformed or in an encoding expat lacks: feedparser copes with those
        return


def _entry_text(entry: Any) -> str | None:
    contents = entry.get("content") or []
    for content in contents:
        value = content.get("value")
        if value:
            return _strip_markup(value)
    summary = entry.get("summary")
    return _strip_markup(summary) if summary else None


def _strip_markup(value: str) -> str | None:
    # Feed bodies are HTML fragments; the radar reads the words, not the markup.
    if "<" not in value:
        return clean_text(value)
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    return clean_text(HTMLParser(value).text(separator=" "))


def parse_feed(content: bytes, *, content_type: str = "", base_url: str | None = None) -> ParseResult:
    """Items of an RSS 2.0 or Atom document; BadContent if the bytes are not a feed."""
    _refuse_unsafe_xml(content)
    headers = {"content-type": content_type} if content_type else {}
    if base_url:
        headers["content-location"] = base_url
    parsed = feedparser.parse(content, response_headers=headers, sanitize_html=False)
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception")
        raise BadContent(
            f"not an RSS or Atom feed: {reason or 'no feed element'}",
            zh=f"不是 RSS 或 Atom 订阅源：{reason or '没有 feed 元素'}",
        )
    result = ParseResult()
    for number, entry in enumerate(parsed.entries, start=1):
        title = clean_text(entry.get("title"))
        text = _entry_text(entry)
        link = entry.get("link")
        if not title and not text:
            result.errors.append(
                {"row": number, "field": "title", "message": "entry has neither title nor content"}
            )
            continue
        published = _struct_time(entry.get("published_parsed") or entry.get("updated_parsed"))
        if published is None:
            published = parse_when(entry.get("published") or entry.get("updated"))
        author = clean_text(entry.get("author"))
        result.items.append(
            ItemDraft(
                external_id=clean_text(entry.get("id")) or link,
                title=title,
                text=text,
                url=link,
                author=author,
                published_at=published,
            )
        )
    return result
