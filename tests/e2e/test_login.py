"""Sign in, switch language, open a deal, sign out — in a real browser."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import E2E_DEAL, E2E_PASSWORD, LiveServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Page, server: LiveServer, email: str) -> None:
    page.goto(f"{server.url}/")
    expect(page).to_have_url(f"{server.url}/login")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(E2E_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{server.url}/")


def test_login_language_deal_timeline_logout(page: Page, live_server: LiveServer) -> None:
    # a wrong password keeps us on the form with a message
    page.goto(f"{live_server.url}/login")
    page.get_by_label("邮箱").fill("rep@example.com")
    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_contain_text("邮箱或密码错误")
    expect(page.get_by_label("邮箱")).to_have_value("rep@example.com")

    sign_in(page, live_server, "rep@example.com")
    expect(page.get_by_role("heading", name="我的进行中商机（按预计成交日期）")).to_be_visible()
    expect(page.get_by_role("link", name=E2E_DEAL)).to_be_visible()
    expect(page.get_by_text("回访王主任")).to_be_visible()
    assert page.evaluate("typeof window.htmx") == "object", "htmx was not served from node_modules"

    # switch to English and back to Chinese; the choice sticks across pages
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="My open deals by expected close date")).to_be_visible()
    page.get_by_role("link", name="Opportunities").click()
    expect(page.get_by_role("heading", name="Opportunities", exact=True)).to_be_visible()
    page.get_by_role("button", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="商机", exact=True)).to_be_visible()

    # live search (htmx swaps the results and pushes the URL), open the deal, read its timeline
    page.get_by_label("搜索").fill("协和")
    expect(page).to_have_url(re.compile(r"/opportunities\?q=%E5%8D%8F%E5%92%8C"))
    expect(page.get_by_test_id("total")).to_contain_text("1")
    page.get_by_role("link", name=E2E_DEAL).click()
    expect(page).to_have_url(f"{live_server.url}/opportunities/{live_server.deal_id}")
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text("金额变更")
    expect(timeline).to_contain_text("120,000.00")
    expect(timeline).to_contain_text("150,000.00")
    expect(timeline.locator("li.timeline-entry[data-entity='opportunity']").first).to_contain_text("金额变更")
    expect(timeline.locator("li.timeline-entry").last).to_contain_text("创建商机")

    # sign out: back to the form, and pages need a login again
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(f"{live_server.url}/login")
    page.goto(f"{live_server.url}/opportunities")
    expect(page).to_have_url(f"{live_server.url}/login?next=%2Fopportunities")


def test_manager_home_draws_the_pipeline_chart(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server, "boss@example.com")
    expect(page.get_by_role("heading", name="团队各阶段商机")).to_be_visible()
    expect(page.locator("#pipeline-chart")).to_have_attribute("data-rendered", "true")
    expect(page.locator("#pipeline-chart canvas")).to_have_count(1)


def test_pages_fit_a_phone_screen(browser: Browser, live_server: LiveServer) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    try:
        phone = context.new_page()
        sign_in(phone, live_server, "rep@example.com")
        for path in ("/", "/opportunities", f"/opportunities/{live_server.deal_id}", "/accounts"):
            phone.goto(f"{live_server.url}{path}")
            overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow} px wider than a 390 px screen"
            expect(phone.get_by_role("button", name="退出登录")).to_be_visible()
    finally:
        context.close()


def test_another_teams_rep_cannot_open_the_deal(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server, "west.rep@example.com")
    response = page.goto(f"{live_server.url}/opportunities/{live_server.deal_id}")
    assert response is not None and response.status == 404
    expect(page.locator("body")).not_to_contain_text(E2E_DEAL)
    page.goto(f"{live_server.url}/opportunities")
    expect(page.locator("body")).not_to_contain_text(E2E_DEAL)
