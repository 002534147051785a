"""Templates, per-locale formatting and the HTML error page.

Every label comes from the locale catalogues through ``t``; dates, times and money
are formatted by ``Formatter`` with patterns that also live in the catalogues.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from pathcast import __version__
from pathcast.auth.models import User
from pathcast.auth.permissions import Actor
from pathcast.auth.sessions import SESSION_COOKIE, read_session_cookie
from pathcast.i18n import LOCALES, catalog, normalise_locale, translate
from pathcast.problems import request_locale

TEMPLATE_DIR = Path(__file__).parent / "templates"
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

# Aliases: inside ``Formatter`` the names ``date`` and ``datetime`` are its methods.
Day = date
Moment = datetime

environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class Formatter:
    """Formats values for one locale; patterns come from the ``format`` catalogue section."""

    def __init__(self, locale: str) -> None:
        self.locale = normalise_locale(locale)
        self._months = translate("format.months", self.locale).split(",")

    def t(self, key: str, **params: Any) -> str:
        return translate(key, self.locale, **params)

    def has(self, key: str) -> bool:
        """Whether a catalogue (this locale's or the English fallback) defines ``key``."""
        return key in catalog(self.locale) or key in catalog("en")

    def label(self, key: str, fallback: str) -> str:
        """The message for ``key``, or ``fallback`` when no catalogue defines it."""
        return self.t(key) if self.has(key) else fallback

    def date(self, value: Day | Moment | None) -> str:
        if value is None:
            return "—"
        if isinstance(value, datetime):
            value = value.astimezone(UTC).date()
        month_name = self._months[value.month - 1] if len(self._months) == 12 else str(value.month)
        return self.t("format.date", y=value.year, m=value.month, d=value.day, mon=month_name)

    def datetime(self, value: Moment | None) -> str:
        if value is None:
            return "—"
        moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return self.t("format.datetime", date=self.date(moment), time=moment.strftime("%H:%M"))

    def iso(self, value: Day | Moment | None) -> str:
        return "" if value is None else value.isoformat()

    def number(self, value: Decimal | int | float | None, places: int = 0) -> str:
        if value is None:
            return "—"
        return f"{Decimal(value):,.{places}f}"

    def money(self, value: Decimal | int | float | None, currency: str | None = None) -> str:
        if value is None:
            return "—"
        return self.t("format.money", amount=self.number(value, 2), currency=currency or "")

    def stage(self, stage: Any) -> str:
        """A stage's name in this locale (stages carry their own Chinese name)."""
        if stage is None:
            return "—"
        if self.locale == "zh-CN" and getattr(stage, "name_zh", None):
            return str(stage.name_zh)
        return str(stage.name)

    def status(self, status: str | None) -> str:
        return self.t(f"stages.status.{status}") if status else "—"


@dataclass
class PageContext:
    """What every page needs: who is looking, in which language, with which CSRF token."""

    request: Request
    locale: str
    csrf_token: str | None = None
    user: User | None = None

    @property
    def fmt(self) -> Formatter:
        return Formatter(self.locale)

    @property
    def actor(self) -> Actor:
        """The signed-in user as the services' Actor (pages without a user never ask)."""
        if self.user is None:
            raise RuntimeError("this page has no signed-in user")
        return Actor.for_user(self.user)

    def t(self, key: str, **params: Any) -> str:
        return translate(key, self.locale, **params)


def render(
    page: PageContext,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render ``template`` with the shared layout context."""
    fmt = page.fmt
    request = page.request
    path = request.url.path
    current = path + (f"?{request.url.query}" if request.url.query else "")
    values: dict[str, Any] = {
        "request": request,
        "locale": page.locale,
        "locales": LOCALES,
        "csrf_token": page.csrf_token,
        "user": page.user,
        "user_name": page.user.name if page.user is not None else None,
        "t": fmt.t,
        "fmt": fmt,
        "path": path,
        "current_url": current,
        "version": __version__,
        "scripts": [],
    }
    values.update(context or {})
    body = environment.get_template(template).render(values)
    response = HTMLResponse(body, status_code=status_code, headers={**SECURITY_HEADERS, **(headers or {})})
    return response


def render_error(request: Request, status: int, title: str, detail: str) -> Response:
    """The HTML error page for page routes (installed with ``set_html_error_renderer``)."""
    locale = request_locale(request)
    # The request's database session is closed by now: use only plain values.
    user_name = getattr(request.state, "user_name", None)
    web_session = read_session_cookie(request.cookies.get(SESSION_COOKIE))
    csrf_token = web_session.csrf_token if web_session else None
    page = PageContext(request=request, locale=locale, csrf_token=csrf_token)
    context = {
        "status": status,
        "title": title,
        "detail": detail,
        "signed_in": csrf_token is not None,
        "user_name": user_name,
        "viewer_role": getattr(request.state, "user_role", None),
    }
    return render(page, "error.html", context, status_code=status)
