"""Every page in a real browser, as a rep and as a manager, in zh-CN and en, on a wide
and a phone screen: no console errors, no uncaught exceptions, no failed requests, and
no page wider than a 390 px screen. Also saves screenshots of the manager's home page.

The server is this module's own: a small demo company (``load_demo(accounts=6,
seed=3)``) plus one East deal whose close date slipped, served by uvicorn.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, expect
from sqlalchemy import select

from pathcast.auth.models import User
from pathcast.auth.permissions import Actor
from pathcast.crm import service as crm
from pathcast.db import get_engine, unit_of_work
from pathcast.demo.loader import load_demo
from pathcast.demo.people import demo_email
from pathcast.demo.vocabulary import DEMO_PASSWORD
from pathcast.events import buffered_events
from pathcast.migrate import upgrade
from tests.e2e.conftest import serve_pathcast

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).parent / "screenshots"
REP = demo_email("rep.east1")
MANAGER = demo_email("manager.east")
PHONE_WIDTH = 390
WIDTHS = (1280, PHONE_WIDTH)
LIST_PATHS = ("/opportunities", "/accounts", "/contacts", "/activities")


@dataclass
class ConsoleServer:
    url: str
    record_paths: tuple[str, ...]
    slipped_deal: str


def _seed(database_url: str) -> tuple[tuple[str, ...], str]:
    """The demo, plus an East deal whose close date moved 30 days later today; returns
    record pages East can read (a deal, an account, a contact) and the slipped deal."""
    with unit_of_work(database_url) as session:
        with buffered_events(session):
            load_demo(session, accounts=6, seed=3)
        rep = session.scalars(select(User).where(User.email == REP)).one()
        east = Actor.for_user(rep)
        deals, _cursor, _total = crm.list_records(
            session, east, crm.SPECS["opportunity"], filters={"status": "open"}, sort="id", limit=1
        )
        deal = deals[0]
        owner = session.get(User, deal.owner_id)
        assert owner is not None and deal.expected_close_date is not None
        crm.update_opportunity(
            session,
            actor=Actor.for_user(owner),
            opportunity=deal,
            changes={"expected_close_date": deal.expected_close_date + timedelta(days=30)},
        )
        paths = [f"/opportunities/{deal.id}"]
        for spec, prefix in ((crm.SPECS["account"], "/accounts"), (crm.SPECS["contact"], "/contacts")):
            records, _cursor, _total = crm.list_records(session, east, spec, sort="id", limit=1)
            paths.append(f"{prefix}/{records[0].id}")
        slipped = str(deal.name)
    get_engine(database_url).dispose()
    return tuple(paths), slipped


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    directory = tmp_path_factory.mktemp("console")
    database_url = f"sqlite:///{directory / 'pathcast.db'}"
    upgrade(database_url)
    record_paths, slipped = _seed(database_url)
    with serve_pathcast(directory, database_url) as url:
        yield ConsoleServer(url=url, record_paths=record_paths, slipped_deal=slipped)


@dataclass
class Problems:
    """What went wrong in the browser while on one page."""

    found: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.found.append(f"pageerror: {error}"))
        page.on("requestfailed", self._failed)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.found.append(f"console: {message.text} @ {message.location.get('url', '')}")

    def _failed(self, request: Request) -> None:
        self.found.append(f"requestfailed: {request.method} {request.url} ({request.failure})")

    def take(self) -> list[str]:
        found, self.found = self.found, []
        return found


def sign_in(page: Page, server: ConsoleServer, email: str, locale: str) -> None:
    """Sign in through the form, then make sure the user's language is ``locale``."""
    page.goto(f"{server.url}/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(DEMO_PASSWORD)
    page.locator("form.stacked-form button[type=submit]").click()
    expect(page).to_have_url(f"{server.url}/")
    if page.locator("html").get_attribute("lang") != locale:
        page.get_by_test_id(f"locale-{locale}").click()
    expect(page.locator("html")).to_have_attribute("lang", locale)
    # Let the home page finish loading: leaving it earlier would abort its requests.
    page.wait_for_load_state("networkidle")


def visit(page: Page, server: ConsoleServer, path: str) -> int:
    response = page.goto(f"{server.url}{path}")
    assert response is not None, path
    page.wait_for_load_state("networkidle")
    return response.status


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("email", [REP, MANAGER], ids=["rep", "manager"])
def test_pages_have_no_console_errors_and_fit_a_phone(
    browser: Browser, console_server: ConsoleServer, email: str, locale: str
) -> None:
    paths = ("/", *LIST_PATHS, *console_server.record_paths, "/board")
    failures: list[str] = []
    for width in WIDTHS:
        context = browser.new_context(locale=locale, viewport={"width": width, "height": 900})
        try:
            page = context.new_page()
            problems = Problems()
            problems.watch(page)
            sign_in(page, console_server, email, locale)
            problems.take()
            for path in paths:
                status = visit(page, console_server, path)
                found = problems.take()
                if status != 200:
                    failures.append(f"{width}px {path}: HTTP {status}")
                failures.extend(f"{width}px {path}: {problem}" for problem in found)
                expect(page.locator("html")).to_have_attribute("lang", locale)
                if width == PHONE_WIDTH:
                    scroll_width = page.evaluate("document.documentElement.scrollWidth")
                    if scroll_width > PHONE_WIDTH + 1:
                        failures.append(f"{width}px {path}: the page is {scroll_width} px wide")
            # live search swaps the results through htmx without errors either
            visit(page, console_server, "/opportunities")
            with page.expect_response(lambda response: "/opportunities?" in response.url):
                page.locator("input[name=q]").fill("医院")
            page.wait_for_load_state("networkidle")
            failures.extend(f"{width}px live search: {problem}" for problem in problems.take())
        finally:
            context.close()
    assert not failures, "\n".join(failures)


def test_home_panels_per_role_and_manager_screenshots(
    browser: Browser, console_server: ConsoleServer
) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    for locale in ("zh-CN", "en"):
        context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            sign_in(page, console_server, MANAGER, locale)
            panel = page.get_by_test_id("slipped-deals")
            expect(panel).to_contain_text(console_server.slipped_deal)
            expect(panel).to_contain_text("30")
            expect(page.locator("#pipeline-chart")).to_have_attribute("data-rendered", "true")
            page.screenshot(path=str(SCREENSHOTS / f"home-manager-{locale}.png"), full_page=True)
        finally:
            context.close()
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        sign_in(page, console_server, REP, "zh-CN")
        expect(page.get_by_role("heading", name="逾期任务")).to_be_visible()
        expect(page.get_by_test_id("slipped-deals")).to_have_count(0)
        expect(page.locator("#pipeline-chart")).to_have_count(0)
    finally:
        context.close()
