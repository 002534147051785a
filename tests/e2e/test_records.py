"""Record pages in a real browser: edit a deal's amount in place, log a call, create and
complete a task, see the timeline follow; a bad date is shown beside its field; the
pages fit a phone; no console errors. Saves screenshots of a deal in zh-CN and en."""

from __future__ import annotations

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
from pathcast.migrate import upgrade
from tests import factories as f
from tests.e2e.conftest import E2E_PASSWORD, serve_pathcast

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).parent / "screenshots"
DEAL = "华山医院 介入手术室升级"


@dataclass
class Seeded:
    url: str
    deal_id: int
    account_id: int
    contact_id: int


def _seed(database_url: str) -> dict[str, int]:
    """A rep (Chinese) and their manager (English) in one team; the rep's deal has moved
    through three stages and carries a product line, a quote and an open task."""
    with unit_of_work(database_url) as session:
        team = f.team(session, "East")
        rep = f.user(session, "rep@example.com", team_obj=team)
        boss = f.user(session, "boss@example.com", role=Role.manager, team_obj=team)
        auth_service.update_user(session, actor=f.SYSTEM, user=boss, changes={"locale": "en"})
        rep_actor = f.actor(rep)
        account = f.account(session, rep_actor, name="复旦大学附属华山医院", city="上海", industry="医疗")
        contact = crm.create_record(
            session,
            actor=rep_actor,
            spec=crm.SPECS["contact"],
            data={
                "account_id": account.id,
                "name": "陈主任",
                "title": "放射科主任",
                "phone": "021-5288 9999",
            },
        )
        f.pipeline(session)
        start = datetime.now(UTC) - timedelta(days=60)
        deal = crm.create_opportunity(
            session,
            actor=rep_actor,
            data={
                "name": DEAL,
                "account_id": account.id,
                "contact_id": contact.id,
                "amount": Decimal(2400000),
                "expected_close_date": date.today() + timedelta(days=45),
                "lead_source": "学术会议",
            },
            occurred_at=start,
        )
        stages = {stage.key: stage.id for stage in crm.stages_of(session, deal.pipeline_id)}
        for days, key in ((12, "qualified"), (30, "discovery"), (48, "solution")):
            crm.change_stage(
                session,
                actor=rep_actor,
                opportunity=deal,
                to_stage_id=stages[key],
                occurred_at=start + timedelta(days=days),
            )
        product = crm.create_record(
            session,
            actor=f.SYSTEM,
            spec=crm.SPECS["product"],
            data={"code": "ANGIO-X", "name": "血管造影系统 Angio X", "list_price": Decimal(1200000)},
        )
        crm.create_record(
            session,
            actor=rep_actor,
            spec=crm.SPECS["opportunity_line"],
            data={
                "opportunity_id": deal.id,
                "product_id": product.id,
                "quantity": 2,
                "unit_price": Decimal(1200000),
            },
        )
        crm.create_quote(session, actor=rep_actor, data={"opportunity_id": deal.id, "number": "Q-2026-0042"})
        crm.create_record(
            session,
            actor=rep_actor,
            spec=crm.SPECS["activity"],
            data={
                "kind": "task",
                "subject": "确认手术室改造时间表",
                "opportunity_id": deal.id,
                "account_id": account.id,
                "due_at": datetime.now(UTC) + timedelta(days=3),
            },
        )
        ids = {"deal_id": deal.id, "account_id": account.id, "contact_id": contact.id}
    get_engine(database_url).dispose()
    return ids


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """This module's own Pathcast on a free port, seeded above."""
    directory = tmp_path_factory.mktemp("e2e-records")
    database_url = f"sqlite:///{directory / 'pathcast.db'}"
    upgrade(database_url)
    ids = _seed(database_url)
    with serve_pathcast(directory, database_url) as url:
        yield Seeded(url=url, **ids)


@dataclass
class Problems:
    """Console errors and uncaught exceptions of a page.

    One browser message is not a fault and is set aside: Chromium logs every 4xx answer
    to a script request as "Failed to load resource", so the 422 that carries a refused
    form's messages (by design) shows up there.
    """

    messages: list[str] = field(default_factory=list)
    refused_forms: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        source = str(message.location.get("url", ""))
        if "status of 422" in message.text and "/records/" in source:
            self.refused_forms.append(source)
        else:
            self.messages.append(f"console: {message.text} ({source})")

    def page_error(self, error: Exception) -> None:
        self.messages.append(f"pageerror: {error}")

    def refused_form_names(self, page: Page, expected: int) -> list[str]:
        """The refused forms' names, once the browser has reported ``expected`` of them.

        Console messages arrive asynchronously: under load the 422's message can land
        after the error text is already on the page.
        """
        for _ in range(50):
            if len(self.refused_forms) >= expected:
                break
            page.wait_for_timeout(100)
        return [path.rsplit("/", 1)[-1] for path in self.refused_forms]


def open_page(browser: Browser, width: int = 1280, height: int = 900) -> tuple[Page, Problems]:
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    page = context.new_page()
    problems = Problems()
    page.on("console", problems.console)
    page.on("pageerror", problems.page_error)
    return page, problems


def sign_in(page: Page, server: Seeded, email: str) -> None:
    page.goto(f"{server.url}/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(E2E_PASSWORD)
    page.locator("form button[type=submit]").last.click()
    expect(page).to_have_url(f"{server.url}/")


@pytest.fixture
def rep_page(browser: Browser, server: Seeded) -> Iterator[tuple[Page, Problems]]:
    page, problems = open_page(browser)
    try:
        sign_in(page, server, "rep@example.com")
        yield page, problems
    finally:
        page.context.close()


def test_edit_the_amount_in_place_and_see_the_timeline(
    rep_page: tuple[Page, Problems], server: Seeded
) -> None:
    page, problems = rep_page
    page.goto(f"{server.url}/opportunities/{server.deal_id}")
    expect(page.get_by_role("heading", name=DEAL)).to_be_visible()
    expect(page.locator("#stage-chart")).to_have_attribute("data-rendered", "true")
    expect(page.locator("#stage-chart canvas")).to_have_count(1)

    page.get_by_test_id("edit-amount").click()
    amount = page.get_by_label("金额", exact=True)
    expect(amount).to_be_focused()
    expect(amount).to_have_value("2400000.00")
    amount.fill("2650000")
    page.get_by_test_id("save-amount").click()
    expect(page.get_by_test_id("value-amount")).to_have_text("2,650,000.00 CNY")
    newest = page.get_by_test_id("timeline").locator("li.timeline-entry").first
    expect(newest).to_contain_text("金额变更")
    expect(newest).to_contain_text("2,400,000.00")
    expect(newest).to_contain_text("2,650,000.00")

    # a bad value stays in the form with the message beside it; Escape cancels
    page.get_by_test_id("edit-amount").click()
    page.get_by_label("金额", exact=True).fill("很多")
    page.get_by_test_id("save-amount").click()
    expect(page.get_by_test_id("error-amount")).to_contain_text("请输入数字")
    expect(page.get_by_label("金额", exact=True)).to_have_attribute("aria-invalid", "true")
    page.get_by_label("金额", exact=True).press("Escape")
    expect(page.get_by_test_id("value-amount")).to_have_text("2,650,000.00 CNY")
    assert problems.messages == [], problems.messages
    assert problems.refused_form_names(page, 1) == ["amount"]


def test_task_with_a_bad_date_then_done_and_a_call_logged(
    rep_page: tuple[Page, Problems], server: Seeded
) -> None:
    page, problems = rep_page
    page.goto(f"{server.url}/opportunities/{server.deal_id}")
    tasks = page.get_by_test_id("task-form")
    tasks.get_by_label("主题").fill("寄送术间改造方案")
    tasks.get_by_label("截止日期").fill("2026-13-45")
    page.get_by_test_id("task-submit").click()
    due_field = page.locator('#task-form [data-field="due_at"]')
    expect(due_field.get_by_test_id("task-due_at-error")).to_contain_text("请输入有效的日期")
    expect(tasks.get_by_label("截止日期")).to_have_value("2026-13-45")
    expect(tasks.get_by_label("主题")).to_have_value("寄送术间改造方案")

    page.get_by_test_id("task-form").get_by_label("截止日期").fill("2026-04-30")
    page.get_by_test_id("task-submit").click()
    open_tasks = page.get_by_test_id("open-tasks")
    expect(open_tasks).to_contain_text("寄送术间改造方案")
    timeline = page.get_by_test_id("timeline")
    expect(timeline.locator("li.timeline-entry").first).to_contain_text("创建任务")

    task = open_tasks.locator("li", has_text="确认手术室改造时间表")
    task.get_by_role("button").click()
    expect(page.get_by_test_id("open-tasks")).not_to_contain_text("确认手术室改造时间表")
    expect(page.get_by_test_id("activity-history")).to_contain_text("确认手术室改造时间表")
    expect(page.get_by_test_id("timeline").locator("li.timeline-entry").first).to_contain_text("完成任务")

    log = page.get_by_test_id("log-form")
    expect(log.get_by_label("类型")).to_have_value("call")
    log.get_by_label("主题").fill("与陈主任电话确认预算")
    log.get_by_label("时长（分钟）").fill("20")
    log.get_by_label("详情").fill("预算已过院长办公会。")
    page.get_by_test_id("log-submit").click()
    expect(page.get_by_test_id("activity-history")).to_contain_text("与陈主任电话确认预算")
    expect(page.get_by_test_id("activity-history")).to_contain_text("20 分钟")
    newest = page.get_by_test_id("timeline").locator("li.timeline-entry").first
    expect(newest).to_contain_text("记录电话")
    expect(newest).to_contain_text("与陈主任电话确认预算")
    # a note has no duration field
    log = page.get_by_test_id("log-form")
    log.get_by_label("类型").select_option("note")
    expect(log.get_by_label("时长（分钟）")).to_be_hidden()
    assert problems.messages == [], problems.messages
    assert problems.refused_form_names(page, 1) == ["tasks"]


def test_screenshots_in_both_languages(browser: Browser, server: Seeded) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    for email, locale in (("rep@example.com", "zh-CN"), ("boss@example.com", "en")):
        page, problems = open_page(browser)
        try:
            sign_in(page, server, email)
            page.goto(f"{server.url}/opportunities/{server.deal_id}")
            expect(page.locator("html")).to_have_attribute("lang", locale)
            expect(page.locator("#stage-chart")).to_have_attribute("data-rendered", "true")
            heading = "阶段历史" if locale == "zh-CN" else "Stage history"
            expect(page.get_by_role("heading", name=heading)).to_be_visible()
            page.screenshot(path=str(SCREENSHOTS / f"record-{locale}.png"), full_page=True)
            assert problems.messages == [], problems.messages
        finally:
            page.context.close()


def test_record_pages_fit_a_phone(browser: Browser, server: Seeded) -> None:
    page, problems = open_page(browser, width=390, height=844)
    try:
        sign_in(page, server, "rep@example.com")
        paths = (
            f"/opportunities/{server.deal_id}",
            f"/accounts/{server.account_id}",
            f"/contacts/{server.contact_id}",
        )
        for path in paths:
            page.goto(f"{server.url}{path}")
            expect(page.get_by_test_id("timeline")).to_be_visible()
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow} px wider than a 390 px screen"
        page.get_by_test_id("edit-phone").click()
        expect(page.get_by_label("电话")).to_be_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the phone form is {overflow} px too wide"
        assert problems.messages == [], problems.messages
    finally:
        page.context.close()
