"""Messages in zh-CN and en, read from ``web/locales/<locale>.json``.

Keys are dotted (``errors.not_found``); values may hold ``{name}`` placeholders.
A missing key falls back to English, then to the key itself, so a gap shows up
plainly instead of crashing a page.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
LOCALE_DIR = Path(__file__).parent / "web" / "locales"


@lru_cache
def catalog(locale: str) -> dict[str, str]:
    """The flattened message catalogue of a locale.

    ``<locale>.json`` holds the shared messages; each feature may add its own
    ``<locale>.<feature>.json`` (e.g. ``en.board.json``) so features do not all edit
    one file.
    """
    merged: dict[str, str] = {}
    main = LOCALE_DIR / f"{locale}.json"
    parts = sorted(LOCALE_DIR.glob(f"{locale}.*.json"))
    for path in [main, *parts] if main.exists() else parts:
        merged.update(_flatten(json.loads(path.read_text(encoding="utf-8"))))
    return merged


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def normalise_locale(value: str | None) -> str:
    """Map ``zh``, ``zh-cn``, ``en-US``… onto a supported locale."""
    if not value:
        return DEFAULT_LOCALE
    lowered = value.strip().lower()
    if lowered.startswith("zh"):
        return "zh-CN"
    if lowered.startswith("en"):
        return "en"
    return DEFAULT_LOCALE


def locale_from_accept_language(header: str | None) -> str:
    """The first supported language in an Accept-Language header."""
    for part in (header or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LOCALE


def translate(key: str, locale: str = DEFAULT_LOCALE, **params: Any) -> str:
    """The message for ``key`` in ``locale`` with ``params`` filled in."""
    template = catalog(normalise_locale(locale)).get(key) or catalog("en").get(key) or key
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template
