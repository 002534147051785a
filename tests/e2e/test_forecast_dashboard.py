"""The forecast dashboard in a real browser: the ECharts range chart draws (a canvas and
``data-rendered="true"``), the headline and the ranked deals with the model's suggestion
show, switching the period through htmx redraws the chart, both languages, a phone screen,
and no console errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from pathcast.auth import service as auth_service
from pathcast.auth.models import Role
from pathcast.crm import service as crm
from pathcast.db import get_engine, unit_of_work
from pathcast.forecast.models import DealScore
from pathcast.migrate import upgrade
from tests import factories as f
from tests.e2e.conftest import E2E_PASSWORD, serve_pathcast

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).parent / "screenshots"
BIG = "协和医院 DSA 介入项目"
SMALL = "Ruijin CT upgrade"


@dataclass
class Server:
    url: str


@dataclass
class Problems:
    errors: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} @ {message.location.get('url', '')}")


def _seed(database_url: str) -> None:
    """East: a manager reading Chinese, one reading English, two reps with deals closing
    today (this month and quarter whatever the day); the big deal has a model score."""
    with unit_of_work(database_url) as session:
        team = f.team(session, "East")
        rep = f.user(session, "rep@example.com", team_obj=team)
        rep2 = f.user(session, "rep2@example.com", team_obj=team)
        f.user(session, "boss@example.com", role=Role.manager, team_obj=team)
        english = f.user(session, "boss.en@example.com", role=Role.manager, team_obj=team)
        auth_service.update_user(session, actor=f.SYSTEM, user=english, changes={"locale": "en"})
        f.pipeline(session)
        today = date.today()
        big = crm.create_opportunity(
            session,
            actor=f.actor(rep),
            data={"name": BIG, "amount": Decimal(400000), "expected_close_date": today},
            occurred_at=datetime.now(UTC) - timedelta(days=3),
        )
        f.opportunity(session, f.actor(rep2), name=SMALL, amount=100000, expected_close_date=today)
        # what the scoring service stores for a scored deal
        session.add(
            DealScore(
                opportunity_id=big.id,
                model_version=1,
                scored_at=datetime.now(UTC),
                probability=0.7,
                drivers=[
                    {
                        "feature": "views",
                        "value": 3,
                        "points": 12,
                        "en": "3 views: +12 pts",
                        "zh": "3 次浏览：+12 分",
                    }
                ],
                is_latest=True,
            )
        )
    get_engine(database_url).dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("e2e-forecast")
    database_url = f"sqlite:///{directory / 'pathcast.db'}"
    upgrade(database_url)
    _seed(database_url)
    with serve_pathcast(directory, database_url) as url:
        yield Server(url=url)


def open_page(browser: Browser, *, width: int = 1280, height: int = 900) -> tuple[Page, Problems]:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    problems = Problems()
    page.on("console", problems.console)
    page.on("pageerror", lambda error: problems.errors.append(f"pageerror: {error}"))
    return page, problems


def sign_in(page: Page, server: Server, email: str) -> None:
    page.goto(f"{server.url}/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(E2E_PASSWORD)
    page.locator("form button[type=submit]").last.click()
    expect(page).to_have_url(f"{server.url}/")


def expect_chart_drawn(page: Page) -> None:
    chart = page.locator("#forecast-chart")
    expect(chart).to_have_attribute("data-rendered", "true")
    expect(chart.locator("canvas")).to_have_count(1)
    box = chart.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100


def test_the_dashboard_draws_its_chart_and_redraws_after_a_switch(browser: Browser, server: Server) -> None:
    page, problems = open_page(browser)
    try:
        sign_in(page, server, "boss@example.com")
        page.goto(f"{server.url}/forecast")
        expect(page.get_by_role("heading", name="收入预测", level=1)).to_be_visible()
        expect_chart_drawn(page)
        expect(page.locator("#forecast-chart")).to_have_attribute("aria-label", re.compile("收入分布图"))
        expect(page.get_by_test_id("p50")).not_to_have_text("")
        deals = page.locator("#forecast-deals-table tbody tr")
        expect(deals).to_have_count(2)
        expect(deals.first).to_contain_text(BIG)
        expect(deals.first.get_by_test_id("suggestion")).to_have_text("模型建议")
        expect(deals.first).to_contain_text("3 次浏览：+12 分")
        expect(page.get_by_test_id("forecast-moved")).to_contain_text("新商机")
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "forecast-zh.png"), full_page=True)

        # next quarter: nothing closes then, the area is swapped by htmx to the empty state
        page.get_by_test_id("forecast-period").select_option("next_quarter")
        expect(page).to_have_url(re.compile(r"/forecast\?period=next_quarter"))
        expect(page.get_by_test_id("forecast-empty")).to_be_visible()
        # and back to this month: a fresh chart element is drawn again
        page.get_by_test_id("forecast-period").select_option("this_month")
        expect(page.locator("#forecast-deals-table tbody tr")).to_have_count(2)
        expect_chart_drawn(page)
        assert problems.errors == []
    finally:
        page.context.close()


def test_english_and_a_phone_screen(browser: Browser, server: Server) -> None:
    page, problems = open_page(browser, width=390, height=844)
    try:
        sign_in(page, server, "boss.en@example.com")
        page.goto(f"{server.url}/forecast")
        expect(page.get_by_role("heading", name="Revenue forecast", level=1)).to_be_visible()
        expect_chart_drawn(page)
        expect(page.locator("#forecast-deals-table")).to_contain_text("Model suggestion")
        expect(page.locator("#forecast-deals-table")).to_contain_text("3 views: +12 pts")
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
        page.screenshot(path=str(SCREENSHOTS / "forecast-en-phone.png"), full_page=True)
        assert problems.errors == []
    finally:
        page.context.close()
