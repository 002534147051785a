"""Web pages: install routes, static files, the login redirect and HTML error pages.

Third-party front-end libraries (htmx, ECharts) are installed from npm into
``node_modules`` at set-up and served from there; they are never committed.
"""

from __future__ import annotations

import logging
from http.cookies import CookieError, SimpleCookie
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from pathcast.config import REPO_ROOT
from pathcast.i18n import LOCALES
from pathcast.problems import set_html_error_renderer
from pathcast.web import (
    activities,
    auth_pages,
    automation_inbox,
    automation_rules,
    board,
    contacts,
    dashboard,
    export,
    forecast,
    forecast_deal,
    forecast_insights,
    hives,
    hives_archive,
    hives_board,
    hives_capacity,
    hives_health,
    lists,
    portal,
    portal_admin,
    portal_audit,
    portal_grants,
    portal_pages,
    radar,
    radar_cases,
    radar_deal,
    radar_knowledge,
    radar_matrix,
    records,
    signals,
)
from pathcast.web.rendering import render_error
from pathcast.web.security import LOCALE_COOKIE, LoginRequired

logger = logging.getLogger("pathcast")
STATIC_DIR = Path(__file__).parent / "static"
NODE_MODULES = REPO_ROOT / "node_modules"
# URL prefix -> directory inside node_modules
VENDOR_DIRS = {
    "/static/vendor/htmx": "htmx.org/dist",
    "/static/vendor/echarts": "echarts/dist",
}


class LocaleCookieMiddleware:
    """Before login, pages (and their error pages) speak the language of the locale
    cookie. Signed-in pages then use the user's own setting."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("path", "").startswith("/api/"):
            locale = _cookie_locale(scope)
            if locale is not None:
                scope.setdefault("state", {})["locale"] = locale
        await self.app(scope, receive, send)


def _cookie_locale(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except CookieError:  # a malformed cookie header just means no cookie
                return None
            morsel = cookie.get(LOCALE_COOKIE)
            if morsel is not None and morsel.value in LOCALES:
                return morsel.value
    return None


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if request.headers.get("HX-Request") == "true":
        # htmx would swap the login form into the page; ask it to navigate instead.
        return Response(status_code=200, headers={"HX-Redirect": exc.next_url})
    return RedirectResponse(exc.next_url, status_code=303)


def mount_vendor(app: FastAPI, node_modules: Path = NODE_MODULES) -> list[str]:
    """Serve the npm-installed libraries; returns the ones that are missing."""
    missing = []
    for prefix, relative in VENDOR_DIRS.items():
        directory = node_modules / relative
        if directory.is_dir():
            app.mount(prefix, StaticFiles(directory=directory), name=prefix.rsplit("/", 1)[-1])
        else:
            missing.append(relative.split("/", 1)[0])
    if missing:
        logger.warning(
            "front-end libraries %s are not installed in %s: pages will render without them. "
            "Run `make run` (or `npm ci` in %s) to install them.",
            ", ".join(missing),
            node_modules,
            REPO_ROOT,
        )
    return missing


def install_web(app: FastAPI) -> None:
    """Mount static files and page routes on the application."""
    set_html_error_renderer(render_error)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_middleware(LocaleCookieMiddleware)
    mount_vendor(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(auth_pages.router)
    app.include_router(board.router)
    app.include_router(dashboard.router)
    # Lists and exports before record pages: /opportunities/export.csv is not a record id.
    app.include_router(export.router)
    app.include_router(lists.router)
    app.include_router(records.router)
    app.include_router(contacts.router)
    app.include_router(activities.router)
    app.include_router(signals.router)
    app.include_router(radar.router)
    app.include_router(radar_knowledge.router)
    app.include_router(radar_matrix.router)
    app.include_router(radar_cases.router)
    app.include_router(radar_deal.router)
    app.include_router(hives_board.router)
    app.include_router(hives_capacity.router)
    app.include_router(hives_archive.router)
    app.include_router(hives_health.router)
    app.include_router(hives.router)
    app.include_router(portal_pages.router)
    app.include_router(portal_grants.router)
    app.include_router(portal_admin.router)
    app.include_router(portal_audit.router)
    app.include_router(portal.router)
    app.include_router(automation_rules.router)
    app.include_router(automation_inbox.router)
    app.include_router(forecast.router)
    app.include_router(forecast_deal.router)
    app.include_router(forecast_insights.router)
