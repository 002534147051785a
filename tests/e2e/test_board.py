"""The pipeline board in a real browser: drag a deal to the next stage, see a refused
move snap back with the server's message, use the keyboard fallback, both languages,
a wide and a phone screen, and no console errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from sqlalchemy import select

from pathcast.auth.models import User
from pathcast.auth.permissions import Actor
from pathcast.crm import service as crm
from pathcast.db import get_engine, unit_of_work
from pathcast.demo.loader import load_demo
from pathcast.demo.people import demo_email
from pathcast.demo.vocabulary import DEMO_PASSWORD
from pathcast.migrate import upgrade
from tests.e2e.conftest import serve_pathcast

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).parent / "screenshots"
MY_DEAL = "看板拖拽测试 DSA 升级"
TEAMMATE_DEAL = "同事的商机 PLC 改造"
REP = demo_email("rep.east1")
REFUSAL_ZH = "您可以查看此商机，但不能修改：它属于其他人。"


@dataclass
class BoardServer:
    url: str
    my_deal: int
    teammate_deal: int


@dataclass
class Console:
    """Console errors and uncaught exceptions of one page."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} @ {message.location.get('url', '')}")

    def faults(self, *, refused_moves: int = 0) -> list[str]:
        """The errors that are faults. Chromium logs every 4xx answer as "Failed to load
        resource"; expected are only the deliberately refused stage moves (403)."""
        refused = [text for text in self.errors if "status of 403" in text and "/stage" in text]
        assert len(refused) <= refused_moves, refused
        return [text for text in self.errors if text not in refused]


def _seed(database_url: str) -> tuple[int, int]:
    """A small demo company, plus one open deal for rep.east1 and one for a teammate,
    both in the first stage and closing soon (so they head the column)."""
    with unit_of_work(database_url) as session:
        load_demo(session, accounts=6, seed=3)
    with unit_of_work(database_url) as session:
        rep, mate = (
            session.scalars(select(User).where(User.email == demo_email(key))).one()
            for key in ("rep.east1", "rep.east2")
        )
        soon = date.today() + timedelta(days=3)
        mine = crm.create_opportunity(
            session,
            actor=Actor.for_user(rep),
            data={"name": MY_DEAL, "amount": Decimal(88000), "expected_close_date": soon},
        )
        theirs = crm.create_opportunity(
            session,
            actor=Actor.for_user(mate),
            data={"name": TEAMMATE_DEAL, "amount": Decimal(12000), "expected_close_date": soon},
        )
        ids = (mine.id, theirs.id)
    get_engine(database_url).dispose()
    return ids


@pytest.fixture(scope="module")
def board_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoardServer]:
    directory = tmp_path_factory.mktemp("e2e-board")
    database_url = f"sqlite:///{directory / 'pathcast.db'}"
    upgrade(database_url)
    my_deal, teammate_deal = _seed(database_url)
    with serve_pathcast(directory, database_url) as url:
        yield BoardServer(url=url, my_deal=my_deal, teammate_deal=teammate_deal)


def sign_in(page: Page, server: BoardServer) -> None:
    page.goto(f"{server.url}/board")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    page.get_by_label("邮箱").fill(REP)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{server.url}/board")


def count_of(page: Page, stage_key: str) -> int:
    value = (
        page.get_by_test_id(f"column-{stage_key}").locator('[data-role="count"]').get_attribute("data-count")
    )
    return int(value or 0)


def test_drag_a_deal_refusals_snap_back_and_both_languages(
    browser: Browser, board_server: BoardServer
) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    console = Console()
    refused_requests: list[str] = []
    try:
        page = context.new_page()
        console.watch(page)
        page.on("response", lambda r: refused_requests.append(r.url) if r.status == 403 else None)
        sign_in(page, board_server)
        expect(page.get_by_role("heading", name="销售看板")).to_be_visible()
        lead, qualified = page.get_by_test_id("column-lead"), page.get_by_test_id("column-qualified")
        my_card = page.get_by_test_id(f"card-{board_server.my_deal}")
        their_card = page.get_by_test_id(f"card-{board_server.teammate_deal}")
        expect(lead.get_by_test_id(f"card-{board_server.my_deal}")).to_be_visible()
        expect(my_card).to_contain_text("88,000.00 CNY")
        expect(my_card).to_contain_text("张晓东")

        # a wide screen: columns side by side, scrolling sideways inside the board only
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        assert page.evaluate(
            "(() => { const b = document.querySelector('.board'); return b.scrollWidth > b.clientWidth; })()"
        )
        boxes = [page.get_by_test_id(f"column-{key}").bounding_box() for key in ("lead", "qualified")]
        assert boxes[0] and boxes[1] and boxes[0]["y"] == boxes[1]["y"] and boxes[1]["x"] > boxes[0]["x"]
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "board-zh-CN.png"), full_page=True)

        # drag my deal to the next stage: it moves, the headers follow, the move is stored
        lead_before, qualified_before = count_of(page, "lead"), count_of(page, "qualified")
        my_card.drag_to(qualified.locator(".board-column-head"))
        expect(page.get_by_test_id("board-status")).to_have_text(f"已将“{MY_DEAL}”移至已验证。")
        expect(qualified.get_by_test_id(f"card-{board_server.my_deal}")).to_be_visible()
        expect(qualified.locator('[data-role="count"]')).to_have_attribute(
            "data-count", str(qualified_before + 1)
        )
        expect(lead.locator('[data-role="count"]')).to_have_attribute("data-count", str(lead_before - 1))
        page.reload()
        expect(qualified.get_by_test_id(f"card-{board_server.my_deal}")).to_be_visible()
        expect(lead.get_by_test_id(f"card-{board_server.my_deal}")).to_have_count(0)

        # the deal page's timeline has the move
        my_card.get_by_role("link", name=MY_DEAL).click()
        expect(page).to_have_url(f"{board_server.url}/opportunities/{board_server.my_deal}")
        timeline = page.get_by_test_id("timeline")
        expect(timeline.locator("li.timeline-entry").first).to_contain_text("阶段变更")
        expect(timeline.locator("li.timeline-entry").first).to_contain_text("已验证")

        # a teammate's deal: readable, not mine to move -> it snaps back with the reason
        page.goto(f"{board_server.url}/board")
        their_card.drag_to(qualified.locator(".board-column-head"))
        message = page.get_by_test_id("board-message")
        expect(message).to_have_text(REFUSAL_ZH)
        expect(message).to_have_attribute("role", "alert")
        expect(lead.get_by_test_id(f"card-{board_server.teammate_deal}")).to_be_visible()
        expect(qualified.get_by_test_id(f"card-{board_server.teammate_deal}")).to_have_count(0)
        assert count_of(page, "lead") == lead_before - 1

        # the keyboard / touch way: the card's "move to" list
        my_card.get_by_role("combobox").select_option(label="需求调研")
        discovery = page.get_by_test_id("column-discovery")
        expect(discovery.get_by_test_id(f"card-{board_server.my_deal}")).to_be_visible()
        expect(page.get_by_test_id("board-message")).to_have_text("")
        expect(page.get_by_test_id("board-status")).to_have_text(f"已将“{MY_DEAL}”移至需求调研。")
        expect(my_card.get_by_role("combobox")).to_be_focused()

        # English
        page.get_by_role("button", name="English").click()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("heading", name="Pipeline board")).to_be_visible()
        expect(page.get_by_test_id("column-discovery").locator("h2")).to_have_text("Discovery")
        page.screenshot(path=str(SCREENSHOTS / "board-en.png"), full_page=True)
        their_card.get_by_role("combobox").select_option(label="Qualified")
        expect(page.get_by_test_id("board-message")).to_contain_text(
            "You may see this opportunity but not change it"
        )
        expect(lead.get_by_test_id(f"card-{board_server.teammate_deal}")).to_be_visible()
        page.get_by_role("button", name="中文").click()
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    finally:
        context.close()
    # The browser logs each refused request ("Failed to load resource: … 403"); those
    # are the two deliberate refusals above. Anything else is a fault.
    assert len(refused_requests) == 2 and all("/stage" in url for url in refused_requests)
    assert console.faults(refused_moves=2) == []


def test_board_filters_and_phone_screen(browser: Browser, board_server: BoardServer) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    console = Console()
    try:
        phone = context.new_page()
        console.watch(phone)
        sign_in(phone, board_server)
        expect(phone.get_by_role("heading", name="销售看板")).to_be_visible()
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"/board is {overflow} px wider than a 390 px screen"
        assert phone.evaluate(
            "(() => { const b = document.querySelector('.board'); return b.scrollWidth > b.clientWidth; })()"
        ), "the columns scroll sideways inside the board"
        SCREENSHOTS.mkdir(exist_ok=True)
        phone.screenshot(path=str(SCREENSHOTS / "board-phone-zh-CN.png"))
        # filter by owner through htmx: the URL follows, the board narrows
        phone.get_by_test_id("filter-owner").select_option(label="张晓东")
        expect(phone).to_have_url(re.compile(r"/board\?.*owner=\d+"))
        expect(phone.get_by_test_id(f"card-{board_server.teammate_deal}")).to_have_count(0)
        expect(phone.get_by_test_id(f"card-{board_server.my_deal}")).to_have_count(1)
        assert phone.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    finally:
        context.close()
    assert console.faults() == []
