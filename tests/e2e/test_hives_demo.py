"""Task hives on the demo data in a real browser (issue 9): a rep wins a deal of an
industrial-automation customer on the deal page, the demo's enabled rule
(「商机赢单后，按“产线升级”模板创建任务蜂巢，并邀请交付经理和物流加入」) opens a hive from
the template with the delivery manager and logistics in it, and its timeline shows the
critical path; a delivery member (role ``member``) sees that hive and nothing of the
pipeline."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from sqlalchemy import select

from pathcast.auth.models import Role, User
from pathcast.auth.permissions import Actor
from pathcast.crm import models as cm
from pathcast.crm import service as crm
from pathcast.db import get_engine, unit_of_work
from pathcast.demo.loader import load_demo
from pathcast.demo.people import demo_email
from pathcast.demo.vocabulary import AUTOMATION, DEMO_PASSWORD, MEMBERS
from pathcast.hives import models as hm
from pathcast.migrate import upgrade
from tests.e2e.conftest import serve_pathcast

pytestmark = pytest.mark.e2e

DEAL = "蜂巢验收 产线升级"
MEMBER_NAMES = {key: name for key, name, _locale, _what in MEMBERS}
DELIVERY, LOGISTICS = MEMBER_NAMES["delivery"], MEMBER_NAMES["logistics"]
# the engine runs the rule in the server process (PATHCAST_ENGINE_POLL_SECONDS, 1 s by default)
HIVE_WAIT_SECONDS = 30.0
PIPELINE_PATHS = ("/board", "/opportunities", "/forecast")


@dataclass
class HivesServer:
    url: str
    database_url: str
    deal_id: int
    account_id: int
    account_name: str
    rep_email: str
    hives_before: frozenset[int]


@dataclass
class Console:
    """Console errors and uncaught exceptions of the pages of one browser context."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} @ {message.location.get('url', '')}")

    def faults(self, *, forbidden: tuple[str, ...] = ()) -> list[str]:
        """The errors that are faults. Chromium logs each 4xx answer ("Failed to load
        resource … 403"); expected are only the 403s of the ``forbidden`` paths."""

        def expected(text: str) -> bool:
            where = text.rsplit(" @ ", 1)[-1]
            return "status of 403" in text and any(where.endswith(path) for path in forbidden)

        return [text for text in self.errors if not expected(text)]


def _seed(database_url: str) -> HivesServer:
    """A small demo company plus one open deal of its industrial-automation customer, owned
    by that customer's rep and closing soon."""
    with unit_of_work(database_url) as session:
        load_demo(session, accounts=6, seed=3)
    with unit_of_work(database_url) as session:
        account = session.scalars(
            select(cm.Account)
            .join(User, User.id == cm.Account.owner_id)
            .where(cm.Account.industry == AUTOMATION, User.role == Role.rep.value)
            .order_by(cm.Account.id)
        ).first()
        assert account is not None, "the small demo has an industrial-automation customer with a rep"
        rep = session.get(User, account.owner_id)
        assert rep is not None
        deal = crm.create_opportunity(
            session,
            actor=Actor.for_user(rep),
            data={
                "name": DEAL,
                "account_id": account.id,
                "amount": Decimal(680000),
                "expected_close_date": date.today() + timedelta(days=10),
            },
        )
        hives = frozenset(session.scalars(select(hm.Hive.id)))
        server = HivesServer(
            url="",
            database_url=database_url,
            deal_id=deal.id,
            account_id=account.id,
            account_name=account.name,
            rep_email=rep.email,
            hives_before=hives,
        )
    get_engine(database_url).dispose()
    return server


@pytest.fixture(scope="module")
def hives_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HivesServer]:
    directory = tmp_path_factory.mktemp("e2e-hives")
    database_url = f"sqlite:///{directory / 'pathcast.db'}"
    upgrade(database_url)
    seeded = _seed(database_url)
    with serve_pathcast(directory, database_url) as url:
        seeded.url = url
        yield seeded


@pytest.fixture(scope="module")
def won_hive(browser: Browser, hives_server: HivesServer) -> Iterator[int]:
    """The rep wins the deal on its page; the id of the hive the rule opens."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    console = Console()
    try:
        page = context.new_page()
        console.watch(page)
        deal_url = f"{hives_server.url}/opportunities/{hives_server.deal_id}"
        sign_in(page, deal_url, hives_server.rep_email)
        expect(page.get_by_role("heading", name=DEAL)).to_be_visible()
        expect(page.get_by_test_id("status")).to_have_text("进行中")

        # the stage field edits in place: pick 赢单 and save
        page.get_by_test_id("edit-stage_id").click()
        stage = page.get_by_test_id("field-stage_id").get_by_role("combobox")
        expect(stage).to_be_focused()
        stage.select_option(label="赢单")
        page.get_by_test_id("save-stage_id").click()
        expect(page.get_by_test_id("value-stage_id")).to_have_text("赢单")
        expect(page.get_by_test_id("status")).to_have_text("赢单")
        page.reload()
        expect(page.get_by_test_id("value-stage_id")).to_have_text("赢单")

        # the engine runs the rule after the commit: the new hive turns up on /hives
        hive_id = wait_for_new_hive(page, hives_server)
        yield hive_id
    finally:
        context.close()
        assert console.faults() == []


def sign_in(page: Page, target: str, email: str) -> None:
    page.goto(target)
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(target)


def _new_rows(page: Page, known: frozenset[int]) -> list[int]:
    ids = page.get_by_test_id("hive-row").evaluate_all("rows => rows.map(row => Number(row.dataset.id))")
    return [hive_id for hive_id in ids if hive_id not in known]


def wait_for_new_hive(page: Page, server: HivesServer) -> int:
    """Reload /hives until a hive that was not there before the win appears; its id."""
    deadline = time.monotonic() + HIVE_WAIT_SECONDS
    page.goto(f"{server.url}/hives")
    while not (fresh := _new_rows(page, server.hives_before)):
        assert time.monotonic() < deadline, f"no new hive on /hives within {HIVE_WAIT_SECONDS:.0f} s"
        page.wait_for_timeout(500)
        page.reload()
    assert len(fresh) == 1, f"one win opens one hive, not {fresh}"
    return fresh[0]


def _hive_of(server: HivesServer, hive_id: int) -> hm.Hive:
    with unit_of_work(server.database_url) as session:
        hive = session.get(hm.Hive, hive_id)
        assert hive is not None
        session.expunge(hive)
    get_engine(server.database_url).dispose()
    return hive


def test_winning_a_deal_opens_a_hive_with_members_and_critical_path(
    browser: Browser, hives_server: HivesServer, won_hive: int
) -> None:
    hive = _hive_of(hives_server, won_hive)
    assert (hive.account_id, hive.opportunity_id) == (hives_server.account_id, hives_server.deal_id)

    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    console = Console()
    try:
        page = context.new_page()
        console.watch(page)
        sign_in(page, f"{hives_server.url}/hives", hives_server.rep_email)
        row = page.locator(f'[data-testid="hive-row"][data-id="{won_hive}"]')
        expect(row).to_contain_text(hives_server.account_name)
        expect(row).to_contain_text("产线升级")
        row.get_by_role("link", name=f"{hives_server.account_name} · 产线升级").click()
        expect(page).to_have_url(f"{hives_server.url}/hives/{won_hive}")
        expect(page.get_by_test_id("hive-name")).to_contain_text(f"{hives_server.account_name} · 产线升级")
        expect(page.get_by_test_id("hive-header")).to_contain_text("产线升级")

        # the members: the delivery manager and logistics, invited by the rule
        members = page.get_by_test_id("members-panel")
        expect(members.get_by_test_id("hive-members")).to_be_visible()
        delivery = members.get_by_test_id("hive-member").filter(has_text=DELIVERY)
        logistics = members.get_by_test_id("hive-member").filter(has_text=LOGISTICS)
        expect(delivery).to_have_count(1)
        expect(logistics).to_have_count(1)
        expect(delivery).to_contain_text("交付")
        expect(delivery).to_have_attribute("data-function", "delivery")
        expect(logistics).to_contain_text("物流")
        expect(logistics).to_have_attribute("data-function", "logistics")

        # the timeline: the critical path in words, the Gantt chart drawn, the table
        timeline = page.get_by_test_id("timeline-panel")
        critical = timeline.get_by_test_id("critical-path")
        expect(critical).to_contain_text("关键路径")
        expect(critical).to_contain_text("→")
        expect(critical.locator(".muted")).to_have_count(0)
        gantt = timeline.locator(f"#hive-gantt-{won_hive}")
        expect(gantt).to_be_visible()
        expect(gantt.locator("canvas").first).to_be_attached()
        expect(timeline.locator('[data-testid="timeline-row"][data-critical="true"]').first).to_be_visible()
    finally:
        context.close()
    assert console.faults() == []


def test_a_delivery_member_sees_the_hive_and_no_pipeline(
    browser: Browser, hives_server: HivesServer, won_hive: int
) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    console = Console()
    try:
        page = context.new_page()
        console.watch(page)
        sign_in(page, f"{hives_server.url}/hives", demo_email("delivery"))
        expect(page.locator(f'[data-testid="hive-row"][data-id="{won_hive}"]')).to_be_visible()
        nav = page.get_by_role("navigation", name="主导航")
        expect(nav.locator('a[href="/hives"]')).to_be_visible()
        for path in PIPELINE_PATHS:
            expect(nav.locator(f'a[href="{path}"]')).to_have_count(0)

        # their hive opens, with them in it
        page.locator(f'[data-testid="hive-row"][data-id="{won_hive}"]').get_by_role("link").first.click()
        expect(page).to_have_url(f"{hives_server.url}/hives/{won_hive}")
        expect(
            page.get_by_test_id("members-panel").get_by_test_id("hive-member").filter(has_text=DELIVERY)
        ).to_have_count(1)
        expect(page.get_by_test_id("critical-path")).to_contain_text("关键路径")

        # the pipeline answers the 403 page, with no pipeline links either
        for path in ("/opportunities", "/board", f"/opportunities/{hives_server.deal_id}"):
            response = page.goto(f"{hives_server.url}{path}")
            assert response is not None and response.status == 403, path
            expect(page.locator(".error-status")).to_have_text("403")
            for link in PIPELINE_PATHS:
                expect(page.locator(f'nav a[href="{link}"]')).to_have_count(0)
    finally:
        context.close()
    assert (
        console.faults(forbidden=("/opportunities", "/board", f"/opportunities/{hives_server.deal_id}")) == []
    )
