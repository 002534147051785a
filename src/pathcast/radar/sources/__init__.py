"""What every radar source shares: its errors, the item draft it produces and small helpers.

A source module is pure protocol: it fetches (``fetch``) or parses (``rss``,
``json_api``, ``html_list``) and hands back :class:`ItemDraft` objects. Only
``messages`` reads the database (what signals already stored), and only to read. The
service de-duplicates, stores and keeps each source's cursor and health.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, ClassVar

__all__ = [
    "BadContent",
    "BadEncoding",
    "HttpStatusError",
    "ItemDraft",
    "LayoutChanged",
    "ParseResult",
    "SourceError",
    "SourceTimeout",
    "TooLarge",
    "Unreachable",
    "clean_text",
    "content_hash",
    "guess_lang",
    "parse_when",
]


class SourceError(Exception):
    """Why a whole poll failed. ``code`` is machine-readable; ``message``/``zh`` are for people."""

    code: ClassVar[str] = "source_error"

    def __init__(self, message: str, *, zh: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.zh = zh or message

    def localized(self, locale: str = "zh-CN") -> str:
        """The reason in the reader's language (zh-CN or en)."""
        return self.zh if locale.startswith("zh") else self.message


class SourceTimeout(SourceError):
    code = "timeout"


class Unreachable(SourceError):
    code = "unreachable"


class HttpStatusError(SourceError):
    code = "http_error"


class TooLarge(SourceError):
    code = "too_large"


class BadEncoding(SourceError):
    code = "bad_encoding"


class BadContent(SourceError):
    """Not a feed, not JSON, or unsafe XML: the page is not what the source is set up for."""

    code = "bad_content"


class LayoutChanged(SourceError):
    """A selector or path that used to find the items finds nothing now."""

    code = "layout_changed"


@dataclass(frozen=True)
class ItemDraft:
    """One text read from a source, not yet stored."""

    external_id: str | None
    title: str | None
    text: str | None
    url: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParseResult:
    """The items a page held, and the rows that could not be read (by number and field)."""

    items: list[ItemDraft] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


_SPACE = re.compile(r"\s+")


def clean_text(value: Any) -> str | None:
    """A value as one-line-normalised text, or None when empty."""
    if value is None:
        return None
    text = _SPACE.sub(" ", str(value)).strip()
    return text or None


def content_hash(title: str | None, text: str | None) -> str:
    """SHA-256 of title and text with case and whitespace normalised, for cross-source de-dup."""
    normalised = _SPACE.sub(" ", f"{title or ''}\n{text or ''}").strip().lower()
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def guess_lang(*texts: str | None) -> str | None:
    """ "zh" when Chinese characters make up a fair share of the letters, else "en"; None if empty."""
    joined = " ".join(text for text in texts if text)
    cjk = len(_CJK.findall(joined))
    latin = len(_LATIN.findall(joined))
    if cjk == 0 and latin == 0:
        return None
    # One Chinese character carries about a word; five latin letters do.
    return "zh" if cjk * 5 >= latin else "en"


_DATE_CN = re.compile(
    r"(\d{4})\s*[年./-]\s*(\d{1,2})\s*[月./-]\s*(\d{1,2})\s*日?"
    r"(?:\s*(\d{1,2})[:时](\d{1,2})(?:[:分](\d{1,2}))?)?"
)


def parse_when(value: Any, *, zone: tzinfo = UTC) -> datetime | None:
    """A publication time from what pages write: ISO 8601, RFC 822, epoch (s or ms), 2026年11月20日.

    A value without a zone is read in ``zone`` (the source's configured time zone).
    Returns None when the value says nothing recognisable; the item keeps no date then.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, int | float):
        seconds = float(value) / 1000 if value > 100_000_000_000 else float(value)
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    else:
        text = str(value).strip()
        if not text:
            return None
        if text.isdigit():
            return parse_when(int(text), zone=zone)
        parsed_or_none = _parse_text_date(text)
        if parsed_or_none is None:
            return None
        parsed = parsed_or_none
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def _parse_text_date(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        pass
    match = _DATE_CN.search(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) if part else 0 for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
