"""HTML list pages (bidding notices, forum indexes) read with CSS selectors via selectolax (lexbor).

Config ``selectors``: ``item`` (one per notice), ``title`` (inside an item), and optional
``link`` (an element with ``href``; the title's own or first link otherwise), ``date``
and ``text``. A selector that matches nothing means the site changed its layout: the
poll fails with that reason instead of reporting an empty page as success.
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from typing import Any
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode as Node

from pathcast.errors import FieldError
from pathcast.radar.sources import ItemDraft, LayoutChanged, ParseResult, clean_text, parse_when

__all__ = ["REQUIRED_SELECTORS", "SELECTORS", "check_config", "check_selector", "parse_html_list"]

SELECTORS = ("item", "title", "link", "date", "text")
REQUIRED_SELECTORS = ("item", "title")


def check_selector(selector: str) -> bool:
    """Whether selectolax accepts the selector (used to validate a source's config)."""
    try:
        HTMLParser("<html><body></body></html>").css(selector)
    except Exception:  # SelectolaxError, or ValueError on odd input
        return False
    return True


def _layout_changed(name: str, selector: str) -> LayoutChanged:
    return LayoutChanged(
        f"layout changed: selector '{selector}' ({name}) matched nothing",
        zh=f"页面结构已变化：选择器 '{selector}'（{name}）没有匹配到任何内容",
    )


def _link(item: Node, title_node: Node, selectors: dict[str, str]) -> str | None:
    selector = selectors.get("link")
    node: Node | None
    if selector:
        node = item.css_first(selector)
    elif title_node.tag == "a":
        node = title_node
    else:
        node = title_node.css_first("a[href]") or item.css_first("a[href]")
    if node is None:
        return None
    href = node.attributes.get("href")
    return href.strip() if href else None


def parse_html_list(
    text: str, *, selectors: dict[str, str], base_url: str | None = None, zone: tzinfo = UTC
) -> ParseResult:
    """Items of a list page; LayoutChanged when the item or title selector finds nothing."""
    tree = HTMLParser(text)
    item_selector = selectors["item"]
    nodes = tree.css(item_selector)
    if not nodes:
        raise _layout_changed("item", item_selector)
    title_selector = selectors["title"]
    result = ParseResult()
    titled = 0
    for number, node in enumerate(nodes, start=1):
        title_node = node.css_first(title_selector)
        title = clean_text(title_node.text(separator=" ")) if title_node is not None else None
        if title_node is None or not title:
            result.errors.append(
                {"row": number, "field": "selectors.title", "message": f"'{title_selector}' found no title"}
            )
            continue
        titled += 1
        href = _link(node, title_node, selectors)
        url = urljoin(base_url, href) if base_url and href else href
        published = None
        date_selector = selectors.get("date")
        if date_selector:
            date_node = node.css_first(date_selector)
            raw_date = date_node.text() if date_node is not None else None
            published = parse_when(raw_date, zone=zone)
            if published is None:
                result.errors.append(
                    {
                        "row": number,
                        "field": "selectors.date",
                        "message": f"no date in {raw_date!r}; kept without",
                    }
                )
        body = None
        text_selector = selectors.get("text")
        if text_selector:
            text_node = node.css_first(text_selector)
            body = clean_text(text_node.text(separator=" ")) if text_node is not None else None
        result.items.append(
            ItemDraft(external_id=url, title=title, text=body, url=url, published_at=published)
        )
    if titled == 0:
        # Rows are still there but none has a title where it used to be.
        raise _layout_changed("title", title_selector)
    return result


def _invalid(errors: list[FieldError], name: str, code: str, message: str) -> None:
    errors.append(FieldError(name, code, {"message": message}))


def check_config(config: dict[str, Any]) -> list[FieldError]:
    """Problems with an HTML source's selectors, each naming its config field."""
    errors: list[FieldError] = []
    selectors = config.get("selectors")
    if not isinstance(selectors, dict):
        _invalid(
            errors,
            "config.selectors",
            "required",
            "CSS selectors: item and title (link, date, text optional)",
        )
        return errors
    for key in REQUIRED_SELECTORS:
        if not selectors.get(key):
            _invalid(errors, f"config.selectors.{key}", "required", f"the CSS selector for {key} is required")
    for key, selector in selectors.items():
        if key not in SELECTORS:
            _invalid(
                errors,
                f"config.selectors.{key}",
                "unknown",
                f"known selectors: {', '.join(SELECTORS)}",
            )
        elif not isinstance(selector, str) or (selector and not check_selector(selector)):
            _invalid(
                errors, f"config.selectors.{key}", "invalid", f"{selector!r} is not a valid CSS selector"
            )
    return errors
