"""Behaviour pages: the contact's and the account's behaviour sections and the signals
inbox, through the real application on SQLite and PostgreSQL.

A contact is identified through a tracked link and reads the DSA comparison four times
(three visible readings over 90 s, one in a background tab). Meetings held with them
are the deep interactions that cross the consent threshold (3).

SQLite pitfall: the ``session`` fixture holds SQLite's write lock while its transaction
is open, and reading an attribute of an expired object opens one. So ids are read up
front and the tests ``commit()`` (never ``expire_all()``) before making requests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth import service as auth_service
from pathcast.auth.models import Role
from pathcast.signals import models as sm
from pathcast.signals.service import identity, sites
from tests import factories as f
from tests.signals.test_identity_consent import identify_and_view
from tests.web.test_pages import csrf_of, log_in

DSA_NAME = "DSA介入耗材对比表"
BUYER = "王主任"
# The four readings: 95 s + 120 s + 91 s visible, and a background tab (no visible time).
READINGS = [95_000, 120_000, 91_000, 0]


@dataclass
class SignalsWorld:
    account_id: int
    contact_id: int
    other_contact_id: int
    site_key: str
    token: str


@pytest.fixture
def world(configured: str, session: Session) -> SignalsWorld:
    """East: a rep (Chinese UI) and a teammate (English UI) owning a hospital account with
    two contacts; West: a rep; a member; the hospital's own customer login; a tracked site."""
    east, west = f.team(session, "East"), f.team(session, "West")
    rep = f.user(session, "rep@example.com", team_obj=east)
    english = f.user(session, "en.rep@example.com", team_obj=east)
    auth_service.update_user(session, actor=f.SYSTEM, user=english, changes={"locale": "en"})
    f.user(session, "west@example.com", team_obj=west)
    f.user(session, "member@example.com", role=Role.member)
    account = f.account(session, name="东区协和医院", owner_id=rep.id)
    f.user(session, "buyer@hospital.example", role=Role.customer_contact, account_id=account.id)
    buyer = f.contact(session, name=BUYER, email="wang@hospital.example", account_id=account.id)
    other = f.contact(session, name="李工程师", email="li@hospital.example", account_id=account.id)
    site = sites.create_site(
        session,
        name="www",
        allowed_origins=["https://www.example.com"],
        rate_limit_per_minute=100_000,
        actor=f.SYSTEM,
    )
    _url, token = identity.tracked_link(
        session, contact_id=buyer.id, url="https://www.example.com/dsa", actor=f.SYSTEM
    )
    session.commit()
    return SignalsWorld(account.id, buyer.id, other.id, site.key, token)


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def sign_in(client: TestClient, email: str = "rep@example.com") -> str:
    """Sign in as ``email`` (signing out whoever was); returns the session's CSRF token."""
    client.cookies.clear()
    return log_in(client, email)


def hold_meetings(session: Session, world: SignalsWorld, count: int, start: int = 0) -> None:
    """Meetings held with the buyer: deep interactions towards the consent threshold."""
    for number in range(start, start + count):
        f.activity(
            session,
            kind="meeting",
            subject=f"方案沟通会 {number}",
            contact_id=world.contact_id,
            account_id=world.account_id,
            done_at=datetime.now(UTC) - timedelta(days=1),
        )
    session.commit()


def read_dsa(client: TestClient, world: SignalsWorld, visitor: str = "browser-wang-1") -> None:
    """The buyer opens the tracked link and reads the DSA comparison four times."""
    identify_and_view(client, SimpleNamespace(key=world.site_key), world.token, visitor, READINGS)


def section(html: str) -> str:
    """The behaviour section of a page ("" when the page has none)."""
    found = re.search(r'<section[^>]*data-testid="behaviour".*?</section>', html, re.S)
    return found.group(0) if found else ""


HEATMAP_DATA = re.compile(
    r'<script type="application/json" id="[a-z-]+" data-testid="heatmap-data">(.*?)</script>', re.S
)


def heatmap_data(html: str) -> dict[str, object]:
    found = HEATMAP_DATA.search(html)
    assert found, "no heatmap data block"
    return dict(json.loads(found.group(1)))


# --- the contact page ---------------------------------------------------------------------------


def test_contact_page_names_behaviour_only_past_the_threshold(
    client: TestClient, world: SignalsWorld, session: Session
) -> None:
    read_dsa(client, world)
    hold_meetings(session, world, 2)
    sign_in(client)

    before = client.get(f"/contacts/{world.contact_id}")
    assert before.status_code == 200
    part = section(before.text)
    assert 'data-state="below"' in part
    assert "已有 2 / 3 次深度互动 — 满 3 次后才按姓名显示行为。" in part
    assert "其访问只计入客户的匿名汇总数据" in part
    # nothing individual: no asset, no figure, no identification, no chart
    assert DSA_NAME not in before.text
    for figure in ("5 分 6 秒", "1 分 35 秒", "2 分 0 秒", "1 分 31 秒"):
        assert figure not in before.text
    for marker in ("behaviour-assets", "heatmap-data", "identity-links", "signals.js"):
        assert marker not in before.text

    hold_meetings(session, world, 1, start=2)
    after = client.get(f"/contacts/{world.contact_id}")
    part = section(after.text)
    assert 'data-state="crossed"' in part
    assert "3 次深度互动" in part
    assert 'data-testid="behaviour-assets"' in part and DSA_NAME in part
    assert "5 分 6 秒" in part  # 95 + 120 + 91 s visible; the background tab adds nothing
    assert "邮件跟踪链接" in part and "跟踪脚本" in part
    chart = heatmap_data(after.text)
    assert chart["assets"] == [DSA_NAME]
    days = chart["days"]
    assert isinstance(days, list) and len(days) == 30
    cells = chart["cells"]
    assert isinstance(cells, list) and len(cells) == 1
    day, row, dwell, views = cells[0]
    assert (day, row, dwell, views) == (29, 0, 306.0, 4)  # today, the one asset
    assert "/static/signals.js" in after.text and "/static/vendor/echarts/echarts.min.js" in after.text


def test_opt_out_through_the_page_form_deletes_the_behaviour(
    client: TestClient, world: SignalsWorld, session: Session
) -> None:
    read_dsa(client, world)
    hold_meetings(session, world, 3)
    action = f"/contacts/{world.contact_id}/signals/opt-out"

    # Neither a rep of another team (who may not see the contact) nor a member (who may
    # see it but not act on it) can opt the contact out.
    token = sign_in(client, "west@example.com")
    assert client.post(action, data={"csrf_token": token}).status_code == 404
    token = sign_in(client, "member@example.com")
    page = client.get(f"/contacts/{world.contact_id}").text
    assert action not in page
    assert client.post(action, data={"csrf_token": token}).status_code == 403

    sign_in(client)
    page = client.get(f"/contacts/{world.contact_id}").text
    assert f'action="{action}"' in page and "确认退出跟踪并删除" in page
    assert client.post(action, data={"csrf_token": "forged"}).status_code == 403
    answer = client.post(action, data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/contacts/{world.contact_id}#behaviour"

    session.commit()  # a fresh snapshot
    for model in (sm.Hit, sm.View, sm.VisitorAssetDay, sm.IdentityLink):
        assert session.scalar(select(func.count()).select_from(model)) == 0, model.__name__
    session.commit()

    page = client.get(f"/contacts/{world.contact_id}").text
    part = section(page)
    assert 'data-state="opted_out"' in part and "退出跟踪" in part
    assert DSA_NAME not in page and "heatmap-data" not in page
    assert f'action="/contacts/{world.contact_id}/signals/opt-in"' in part
    # The account keeps no trace of the deleted behaviour either.
    assert DSA_NAME not in client.get(f"/accounts/{world.account_id}").text

    opted_in = client.post(
        f"/contacts/{world.contact_id}/signals/opt-in",
        data={"csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert opted_in.status_code == 303
    part = section(client.get(f"/contacts/{world.contact_id}").text)
    assert 'data-state="crossed"' in part and "最近 30 天没有浏览记录" in part


def test_revert_an_identification_through_the_page_form(
    client: TestClient, world: SignalsWorld, session: Session
) -> None:
    read_dsa(client, world)
    hold_meetings(session, world, 3)
    link_id = session.scalar(select(sm.IdentityLink.id))
    session.commit()
    action = f"/signals/identity-links/{link_id}/revert"

    token = sign_in(client)
    page = client.get(f"/contacts/{world.contact_id}").text
    assert f'action="{action}"' in page
    assert client.post(action, data={"csrf_token": token, "reason": "x" * 501}).status_code == 422
    answer = client.post(action, data={"csrf_token": token, "reason": "公用电脑"}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/contacts/{world.contact_id}#behaviour"

    part = section(client.get(f"/contacts/{world.contact_id}").text)
    reverted = re.search(
        rf'<li class="identity-link reverted" data-testid="identity-link-{link_id}">.*?</li>', part, re.S
    )
    assert reverted, part
    assert "<del>" in reverted.group(0) and "原因：公用电脑" in reverted.group(0)
    assert action not in part  # nothing left to revert
    assert DSA_NAME not in part  # the browser is anonymous again: its views are no longer the contact's
    session.commit()
    link = session.get(sm.IdentityLink, link_id)
    assert link is not None and link.revert_reason == "公用电脑" and link.reverted_by is not None


# --- the account page ---------------------------------------------------------------------------


def test_account_page_shows_anonymous_figures_and_names_no_one(
    client: TestClient, world: SignalsWorld, session: Session
) -> None:
    read_dsa(client, world)
    hold_meetings(session, world, 2)  # below the threshold: the account still counts the visits
    sign_in(client)
    page = client.get(f"/accounts/{world.account_id}")
    assert page.status_code == 200
    assert BUYER in page.text  # in the contacts panel, not in the behaviour section
    part = section(page.text)
    assert "行为（匿名汇总）" in part
    assert BUYER not in part and "李工程师" not in part and "wang@hospital.example" not in part
    assert DSA_NAME in part
    totals = re.search(r'<table class="data-table behaviour-totals".*?</table>', part, re.S)
    assert totals
    week = re.search(r"<th scope=\"row\">7 天</th>(.*?)</tr>", totals.group(0), re.S)
    assert week
    cells = re.findall(r'<td class="num">([^<]*)</td>', week.group(1))
    assert cells == ["4", "3", "5 分 6 秒", "1"]  # views, qualifying, visible dwell, visitors
    assert "深度互动：2 次" in part
    assert heatmap_data(page.text)["assets"] == [DSA_NAME]

    # The contact's own page still shows nothing individual.
    assert DSA_NAME not in client.get(f"/contacts/{world.contact_id}").text


# --- the inbox ----------------------------------------------------------------------------------


def test_inbox_lists_identified_views_for_the_owner_only(
    client: TestClient, world: SignalsWorld, session: Session
) -> None:
    read_dsa(client, world)
    hold_meetings(session, world, 3)

    sign_in(client)
    home = client.get("/").text
    assert '<a href="/signals">信号</a>' in home
    inbox = client.get("/signals")
    assert inbox.status_code == 200
    rows = re.findall(
        r"<tr>\s*<td class=\"wrap\"><a href=\"/contacts/(\d+)#behaviour\">([^<]+)</a>", inbox.text
    )
    assert rows == [(str(world.contact_id), BUYER)] * 4
    assert f'<a href="/accounts/{world.account_id}">东区协和医院</a>' in inbox.text
    assert DSA_NAME in inbox.text and "2 分 0 秒" in inbox.text
    assert 'aria-current="page"' in inbox.text

    filtered = client.get("/signals", params={"min_dwell": "100"})
    assert len(re.findall(r'href="/contacts/\d+#behaviour"', filtered.text)) == 1  # the 120 s reading
    assert 'value="100"' in filtered.text
    nothing = client.get("/signals", params={"min_dwell": "200"})
    assert 'data-testid="inbox-empty"' in nothing.text and "至少 200 秒" in nothing.text
    bad = client.get("/signals", params={"min_dwell": "-5"})
    assert bad.status_code == 422 and 'data-testid="min-dwell-error"' in bad.text

    sign_in(client, "west@example.com")
    west = client.get("/signals")
    assert west.status_code == 200
    assert BUYER not in west.text and DSA_NAME not in west.text
    assert 'data-testid="inbox-empty"' in west.text
    assert "3 次深度互动" in west.text  # the empty state explains the threshold


def test_customer_and_member_pages(client: TestClient, world: SignalsWorld, session: Session) -> None:
    read_dsa(client, world)
    hold_meetings(session, world, 3)

    # A customer's own contact sees no behaviour: no section, and the inbox is refused.
    sign_in(client, "buyer@hospital.example")
    assert "/signals" not in client.get("/").text
    refused = client.get("/signals")
    assert refused.status_code == 403 and 'class="panel error-page"' in refused.text
    for path in (f"/contacts/{world.contact_id}", f"/accounts/{world.account_id}"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert 'data-testid="behaviour"' not in page.text and DSA_NAME not in page.text

    # A delivery member sees the contact but none of the tracked behaviour.
    sign_in(client, "member@example.com")
    assert 'href="/signals"' not in client.get("/").text
    assert client.get("/signals").status_code == 403
    for path in (f"/contacts/{world.contact_id}", f"/accounts/{world.account_id}"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert 'data-testid="behaviour"' not in page.text and DSA_NAME not in page.text


def test_both_languages(client: TestClient, world: SignalsWorld, session: Session) -> None:
    read_dsa(client, world)
    hold_meetings(session, world, 2)

    sign_in(client, "en.rep@example.com")
    part = section(client.get(f"/contacts/{world.contact_id}").text)
    assert '<h2 id="behaviour-title">Behaviour</h2>' in part
    assert "2 of 3 deep interactions — behaviour is shown by name after 3." in part
    assert "count only in the account&#39;s anonymous figures" in part
    assert "Opt out" in part
    inbox = client.get("/signals").text
    assert '<a href="/signals" aria-current="page">Signals</a>' in inbox
    assert "No identified behaviour yet." in inbox

    hold_meetings(session, world, 1, start=2)
    part = section(client.get(f"/contacts/{world.contact_id}").text)
    assert "Consent threshold crossed on" in part and "3 deep interactions" in part
    assert "Visible dwell" in part and "5 min 6 s" in part and "Tracked e-mail link" in part
    account = section(client.get(f"/accounts/{world.account_id}").text)
    assert "Behaviour (anonymous)" in account and "Distinct visitors" in account
    assert "Deep interactions: 3" in account
    assert BUYER in client.get("/signals").text

    sign_in(client)
    part = section(client.get(f"/contacts/{world.contact_id}").text)
    assert '<h2 id="behaviour-title">行为</h2>' in part and "已于" in part and "可见停留" in part
    assert "行为（匿名汇总）" in section(client.get(f"/accounts/{world.account_id}").text)
    assert "<h1>信号</h1>" in client.get("/signals").text
