"""Fetch a source's page over HTTP (timeout, size limit, conditional requests, encoding) and
parse it by the source's kind.

Text is decoded in this order: the charset the source's config forces (an error if the
bytes do not fit it), a byte-order mark, the HTTP ``charset``, the page's own ``<meta
charset>`` or XML declaration, strict UTF-8, charset-normalizer's guess, and GB18030 last
(a superset of GBK and GB2312, which Chinese bidding sites often mislabel).
"""

from __future__ import annotations

import codecs
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any

import httpx

from pathcast.errors import FieldError
from pathcast.radar.sources import (
    BadEncoding,
    HttpStatusError,
    ParseResult,
    SourceTimeout,
    TooLarge,
    Unreachable,
    html_list,
    json_api,
    rss,
)

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MAX_TIMEOUT_SECONDS = 120.0
MAX_BYTES_LIMIT = 50 * 1024 * 1024
USER_AGENT = "Pathcast-Radar/1 (+https://github.com/pathcast)"

# Labels pages use for encodings that GB18030 decodes identically (it is their superset).
_GB_FAMILY = {"gb2312", "gbk", "gb_2312-80", "x-gbk", "cp936", "euc-cn", "gb18030"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_.:-]+)["']""", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


@dataclass
class FetchResult:
    """What one request brought back. ``not_modified`` means the cursor's etag still holds."""

    url: str
    status: int
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    not_modified: bool = False

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def fetch(
    url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    etag: str | None = None,
    last_modified: str | None = None,
    headers: dict[str, str] | None = None,
) -> FetchResult:
    """GET ``url``; raise a :class:`SourceError` subclass on timeout, HTTP error or oversize.

    ``timeout`` bounds the connection and each read; ``max_bytes`` stops reading a page
    that grows past it (so a misconfigured URL cannot fill the memory).
    """
    request_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}
    request_headers.update(headers or {})
    if etag:
        request_headers["If-None-Match"] = etag
    if last_modified:
        request_headers["If-Modified-Since"] = last_modified
    try:
        with (
            httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=True, max_redirects=5) as client,
            client.stream("GET", url, headers=request_headers) as response,
        ):
            received = {key.lower(): value for key, value in response.headers.items()}
            if response.status_code == 304:
                return FetchResult(url=url, status=304, headers=received, not_modified=True)
            if response.status_code >= 400:
                raise HttpStatusError(
                    f"HTTP {response.status_code} from {url}",
                    zh=f"{url} 返回 HTTP {response.status_code}",
                )
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise _too_large(url, max_bytes)
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(url, max_bytes)
                chunks.append(chunk)
            return FetchResult(
                url=url, status=response.status_code, content=b"".join(chunks), headers=received
            )
    except httpx.TimeoutException as error:
        raise SourceTimeout(
            f"timeout: no answer from {url} within {timeout:g} s",
            zh=f"超时：{url} 在 {timeout:g} 秒内没有响应",
        ) from error
    except httpx.HTTPError as error:
        raise Unreachable(
            f"unreachable: {url}: {type(error).__name__}: {error}",
            zh=f"无法访问 {url}：{type(error).__name__}: {error}",
        ) from error


def _too_large(url: str, max_bytes: int) -> TooLarge:
    return TooLarge(
        f"too large: {url} is over the {max_bytes} byte limit",
        zh=f"内容过大：{url} 超过 {max_bytes} 字节的上限",
    )


def _codec(label: str | None) -> str | None:
    """The Python codec for a charset label, GB family widened to GB18030; None if unknown."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    if name in _GB_FAMILY:
        return "gb18030"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def http_charset(content_type: str) -> str | None:
    """The ``charset`` parameter of a Content-Type header, if any."""
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


def declared_charset(content: bytes) -> str | None:
    """The charset a page declares about itself (``<meta charset>`` or the XML declaration)."""
    head = content[:4096]
    match = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    return match.group(1).decode("ascii") if match else None


def decode(content: bytes, *, content_type: str = "", forced: str | None = None) -> tuple[str, str]:
    """Decode a page to text; return (text, the codec used). Raise BadEncoding if nothing fits."""
    if forced:
        codec = _codec(forced)
        if codec is None:
            raise BadEncoding(
                f"bad encoding: unknown encoding {forced!r}", zh=f"编码错误：未知编码 {forced!r}"
            )
        try:
            return content.decode(codec), codec
        except UnicodeDecodeError as error:
            raise BadEncoding(
                f"bad encoding: byte {error.start} is not valid {codec}",
                zh=f"编码错误：第 {error.start} 个字节不是有效的 {codec}",
            ) from error
    for bom, codec in _BOMS:
        if content.startswith(bom):
            return content.decode(codec, errors="replace"), codec
    candidates = [_codec(http_charset(content_type)), _codec(declared_charset(content)), "utf-8"]
    for candidate in candidates:
        if candidate is None:
            continue
        try:
            return content.decode(candidate), candidate
        except UnicodeDecodeError:
            continue  # a wrong label is common; the next clue may be right
    guess = _normalizer_guess(content)
    if guess is not None:
        return guess
    try:
        return content.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as error:
        raise BadEncoding(
            f"bad encoding: no known encoding decodes the page (byte {error.start})",
            zh=f"编码错误：没有可识别的编码能解码该页面（第 {error.start} 个字节）",
        ) from error


def _normalizer_guess(content: bytes) -> tuple[str, str] | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # optional: GB18030 is the fallback without it
        return None
    best = from_bytes(content).best()
    if best is None or best.encoding is None:
        return None
    codec = _codec(best.encoding) or best.encoding
    try:
        return content.decode(codec), codec
    except (UnicodeDecodeError, LookupError):
        return None


# --- fetch and parse ------------------------------------------------------------------------


@dataclass
class Collected:
    """What a source gave before anything is stored."""

    parsed: ParseResult = field(default_factory=ParseResult)
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    last_message_id: int | None = None


def _zone(config: dict[str, Any]) -> tzinfo:
    name = config.get("timezone")
    return zoneinfo.ZoneInfo(str(name)) if name else UTC


def collect_remote(kind: str, config: dict[str, Any], cursor: dict[str, Any]) -> Collected:
    """Fetch and parse an HTTP source by its kind and config (no database); raise SourceError.

    The cursor's ETag and Last-Modified make the request conditional; a 304 collects nothing.
    """
    page = fetch(
        str(config["url"]),
        timeout=float(config.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)),
        max_bytes=int(config.get("max_bytes", DEFAULT_MAX_BYTES)),
        etag=cursor.get("etag"),
        last_modified=cursor.get("last_modified"),
        headers=config.get("headers"),
    )
    collected = Collected(etag=page.etag, last_modified=page.last_modified)
    if page.not_modified:
        collected.not_modified = True
        collected.etag = page.etag or cursor.get("etag")
        collected.last_modified = page.last_modified or cursor.get("last_modified")
        return collected
    if kind in ("rss", "atom"):
        forced = config.get("encoding")
        if forced:
            # Honour the configured charset (and fail loudly if the bytes do not fit it).
            text, _ = decode(page.content, forced=forced)
            content = text.encode("utf-8")
            collected.parsed = rss.parse_feed(
                content, content_type="application/xml; charset=utf-8", base_url=page.url
            )
        else:
            collected.parsed = rss.parse_feed(page.content, content_type=page.content_type, base_url=page.url)
        return collected
    text, _ = decode(page.content, content_type=page.content_type, forced=config.get("encoding"))
    if kind == "json_api":
        collected.parsed = json_api.parse_json(
            text,
            items_path=str(config.get("items_path", "")),
            fields=dict(config["fields"]),
            zone=_zone(config),
        )
    else:
        collected.parsed = html_list.parse_html_list(
            text, selectors=dict(config["selectors"]), base_url=page.url, zone=_zone(config)
        )
    return collected


# --- configuration -----------------------------------------------------------------------


def _invalid(errors: list[FieldError], name: str, code: str, message: str) -> None:
    errors.append(FieldError(name, code, {"message": message}))


def _check_url(config: dict[str, Any], errors: list[FieldError]) -> None:
    url = config.get("url")
    if not isinstance(url, str) or not url.strip():
        _invalid(errors, "config.url", "required", "the page or feed address is required")
        return
    url = url.strip()
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in ("http", "https") or not rest.split("/")[0]:
        _invalid(errors, "config.url", "invalid", f"{url!r} is not an http(s) address")
    config["url"] = url


def check_config(config: dict[str, Any]) -> list[FieldError]:
    """Problems with an HTTP source's url and fetch options, each naming its config field.

    Strips the spaces around ``config["url"]`` in place.
    """
    errors: list[FieldError] = []
    _check_url(config, errors)
    timeout = config.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not 0 < timeout <= MAX_TIMEOUT_SECONDS
    ):
        _invalid(
            errors,
            "config.timeout_seconds",
            "invalid",
            f"a number of seconds in (0, {MAX_TIMEOUT_SECONDS:g}]",
        )
    max_bytes = config.get("max_bytes", DEFAULT_MAX_BYTES)
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or not 0 < max_bytes <= MAX_BYTES_LIMIT:
        _invalid(errors, "config.max_bytes", "invalid", f"a whole number of bytes in (0, {MAX_BYTES_LIMIT}]")
    encoding = config.get("encoding")
    if encoding is not None and (not isinstance(encoding, str) or _codec(encoding) is None):
        _invalid(errors, "config.encoding", "invalid", f"unknown encoding {encoding!r}")
    zone = config.get("timezone")
    if zone is not None:
        try:
            zoneinfo.ZoneInfo(str(zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            _invalid(errors, "config.timezone", "invalid", f"unknown time zone {zone!r}")
    headers = config.get("headers")
    if headers is not None and (
        not isinstance(headers, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
    ):
        _invalid(errors, "config.headers", "invalid", "a mapping of header names to text values")
    return errors
