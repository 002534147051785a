"""The list pages (accounts, contacts, opportunities, activities) on SQLite and PostgreSQL:
search in Chinese and English, sorting by column header, filters, cursor pages, and
messages instead of errors for input the page cannot use."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth.models import Role
from pathcast.crm import service as crm
from pathcast.db import utcnow
from pathcast.web.lists import quarter_key, quarter_of
from tests import factories as f
from tests.web.test_pages import log_in

CHINESE_DEAL = "协和医院 DSA 介入项目"
WON_DEAL = "Robot line upgrade"
WEST_DEAL = "West only deal"


@dataclass
class ListWorld:
    rep_id: int
    rep2_id: int
    manager_id: int
    hospital_id: int
    factory_id: int
    west_account_id: int


@pytest.fixture
def list_world(configured: str, session: Session) -> ListWorld:
    """East (a manager, two reps) and West (one rep), each with accounts, contacts,
    deals and activities; the East rep's deal closes this quarter, the other is won."""
    east, west = f.team(session, "East"), f.team(session, "West")
    rep = f.user(session, "rep@example.com", team_obj=east)
    rep2 = f.user(session, "rep2@example.com", team_obj=east)
    manager = f.user(session, "boss@example.com", role=Role.manager, team_obj=east)
    west_rep = f.user(session, "west@example.com", team_obj=west)
    f.user(session, "member@example.com", role=Role.member)
    hospital = f.account(
        session, name="北京协和医院", industry="医疗器械", tier="key", city="北京", owner_id=rep.id
    )
    factory = f.account(
        session,
        name="Shanghai Robotics Ltd",
        industry="Industrial automation",
        tier="standard",
        owner_id=rep2.id,
        employees=800,
    )
    west_account = f.account(session, name="West Coast Clinic", industry="医疗器械", owner_id=west_rep.id)
    contact = crm.SPECS["contact"]
    for data in (
        {"account_id": hospital.id, "name": "王主任", "title": "介入科主任", "owner_id": rep.id},
        {
            "account_id": factory.id,
            "name": "Alice Smith",
            "email": "alice@robotics.example",
            "owner_id": rep2.id,
        },
        {"account_id": west_account.id, "name": "West Contact", "owner_id": west_rep.id},
    ):
        crm.create_record(session, actor=f.SYSTEM, spec=contact, data=data)
    today = utcnow().date()
    deal = f.opportunity(
        session,
        f.actor(rep),
        name=CHINESE_DEAL,
        account_id=hospital.id,
        amount=150000,
        expected_close_date=today,
    )
    won = f.opportunity(
        session,
        f.actor(rep2),
        name=WON_DEAL,
        account_id=factory.id,
        amount=90000,
        expected_close_date=today + timedelta(days=400),
    )
    won_stage = next(s for s in crm.stages_of(session, won.pipeline_id) if s.status_class == "won")
    crm.change_stage(session, actor=f.actor(rep2), opportunity=won, to_stage_id=won_stage.id)
    f.opportunity(session, f.actor(west_rep), name=WEST_DEAL, account_id=west_account.id)
    activity = crm.SPECS["activity"]
    now = utcnow()
    for who, data in (
        (
            rep,
            {
                "kind": "task",
                "subject": "回访王主任",
                "opportunity_id": deal.id,
                "due_at": now - timedelta(days=2),
            },
        ),
        (rep, {"kind": "task", "subject": "Prepare tender file", "due_at": now + timedelta(days=5)}),
        (
            rep,
            {
                "kind": "task",
                "subject": "Send the quote",
                "due_at": now - timedelta(days=4),
                "done_at": now - timedelta(days=5),
            },
        ),
        (
            rep2,
            {
                "kind": "call",
                "subject": "Called Alice about the line",
                "account_id": factory.id,
                "occurred_at": now - timedelta(days=1),
                "done_at": now - timedelta(days=1),
            },
        ),
        (west_rep, {"kind": "task", "subject": "West follow-up", "due_at": now - timedelta(days=3)}),
    ):
        crm.create_record(session, actor=f.actor(who), spec=activity, data=data)
    session.commit()
    return ListWorld(
        rep_id=rep.id,
        rep2_id=rep2.id,
        manager_id=manager.id,
        hospital_id=hospital.id,
        factory_id=factory.id,
        west_account_id=west_account.id,
    )


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def names_in(page: str) -> list[str]:
    """The linked or plain names in the first column of a list's rows, in order."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    cells = re.findall(r"<tr>\s*<td[^>]*>(.*?)</td>", body, flags=re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]


def next_link(page: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next"', page)
    return html.unescape(found.group(1)) if found else None


def test_every_list_renders_with_nav_and_export_link(client: TestClient, list_world: ListWorld) -> None:
    log_in(client)
    for path, expected in (
        ("/opportunities", CHINESE_DEAL),
        ("/accounts", "北京协和医院"),
        ("/contacts", "王主任"),
        ("/activities", "回访王主任"),
    ):
        page = client.get(path)
        assert page.status_code == 200, (path, page.text[:500])
        assert expected in page.text
        assert f'href="{path}/export.csv"' in page.text
        for link in ("/board", "/opportunities", "/accounts", "/contacts", "/activities"):
            assert f'href="{link}"' in page.text
        assert 'aria-current="page"' in page.text
        assert "West" not in page.text.split("<tbody>", 1)[1]  # another team's rows never show


def test_member_sees_no_pipeline_links(client: TestClient, list_world: ListWorld) -> None:
    log_in(client, "member@example.com")
    home = client.get("/")
    assert 'href="/accounts"' in home.text and 'href="/contacts"' in home.text
    assert 'href="/opportunities"' not in home.text and 'href="/board"' not in home.text
    assert client.get("/opportunities").status_code == 403


def test_search_finds_chinese_and_english(client: TestClient, list_world: ListWorld) -> None:
    log_in(client, "boss@example.com")
    for path, query, found, absent in (
        ("/accounts", "协和", "北京协和医院", "Shanghai Robotics"),
        ("/accounts", "robotics", "Shanghai Robotics", "北京协和医院"),
        ("/contacts", "主任", "王主任", "Alice Smith"),
        ("/contacts", "ALICE", "Alice Smith", "王主任"),
        ("/opportunities", "介入", CHINESE_DEAL, WON_DEAL),
        ("/opportunities", "robot", WON_DEAL, CHINESE_DEAL),
        ("/activities", "回访", "回访王主任", "Called Alice"),
        ("/activities", "tender", "Prepare tender file", "回访王主任"),
    ):
        page = client.get(path, params={"q": query})
        assert page.status_code == 200
        rows = page.text.split("<tbody>", 1)[1]
        assert found in rows, (path, query)
        assert absent not in rows, (path, query)


def test_column_headers_sort_both_ways(client: TestClient, list_world: ListWorld) -> None:
    log_in(client, "boss@example.com")
    ascending = client.get("/accounts", params={"sort": "name"})
    assert names_in(ascending.text) == ["Shanghai Robotics Ltd", "北京协和医院"]
    assert 'aria-sort="ascending"' in ascending.text
    toggle = re.search(
        r'<th scope="col" aria-sort="ascending"><a class="sort-link" href="([^"]+)"', ascending.text
    )
    assert toggle and "sort=-name" in toggle.group(1)
    descending = client.get(html.unescape(toggle.group(1)))
    assert names_in(descending.text) == ["北京协和医院", "Shanghai Robotics Ltd"]
    assert 'aria-sort="descending"' in descending.text
    by_amount = client.get("/opportunities", params={"sort": "-amount"})
    assert names_in(by_amount.text) == [CHINESE_DEAL, WON_DEAL]
    by_amount_up = client.get("/opportunities", params={"sort": "amount"})
    assert names_in(by_amount_up.text) == [WON_DEAL, CHINESE_DEAL]
    contacts = client.get("/contacts", params={"sort": "-name"})
    assert names_in(contacts.text) == ["王主任", "Alice Smith"]


def test_search_keeps_the_sort_and_filters_in_links(client: TestClient, list_world: ListWorld) -> None:
    log_in(client, "boss@example.com")
    page = client.get("/opportunities", params={"q": "协和", "status": "open", "sort": "amount"})
    assert '<input type="hidden" name="sort" value="amount">' in page.text
    export = re.search(r'href="(/opportunities/export\.csv\?[^"]+)"', page.text)
    assert export
    assert "status=open" in export.group(1) and "sort=amount" in export.group(1) and "q=" in export.group(1)


def test_opportunity_filters(client: TestClient, list_world: ListWorld) -> None:
    log_in(client, "boss@example.com")
    assert names_in(client.get("/opportunities", params={"status": "won"}).text) == [WON_DEAL]
    assert names_in(client.get("/opportunities", params={"status": "open"}).text) == [CHINESE_DEAL]
    mine = client.get("/opportunities", params={"owner": str(list_world.rep2_id)})
    assert names_in(mine.text) == [WON_DEAL]
    assert f'<option value="{list_world.rep2_id}" selected>' in mine.text
    year, number = quarter_of(utcnow().date())
    this_quarter = client.get("/opportunities", params={"quarter": quarter_key(year, number)})
    assert names_in(this_quarter.text) == [CHINESE_DEAL]
    assert f'<option value="{quarter_key(year, number)}" selected>' in this_quarter.text
    far = date.today() + timedelta(days=400)
    later = client.get("/opportunities", params={"quarter": f"{far.year}Q{(far.month - 1) // 3 + 1}"})
    assert names_in(later.text) == [WON_DEAL]


def test_account_contact_and_activity_filters(client: TestClient, list_world: ListWorld) -> None:
    log_in(client, "boss@example.com")
    assert names_in(client.get("/accounts", params={"industry": "医疗器械"}).text) == ["北京协和医院"]
    assert names_in(client.get("/accounts", params={"tier": "standard"}).text) == ["Shanghai Robotics Ltd"]
    by_account = client.get("/contacts", params={"account": str(list_world.factory_id)})
    assert names_in(by_account.text) == ["Alice Smith"]

    def subjects(**params: str) -> set[str]:
        page = client.get("/activities", params=params)
        assert page.status_code == 200, page.text[:300]
        return set(re.findall(r'<td class="wrap subject">([^<]+)</td>', page.text))

    assert subjects(kind="call") == {"Called Alice about the line"}
    assert subjects(state="open") == {"回访王主任", "Prepare tender file"}
    assert subjects(state="done") == {"Send the quote"}  # open and done are states of tasks
    assert subjects(overdue="1") == {"回访王主任"}
    assert subjects(kind="task", overdue="1", state="open") == {"回访王主任"}


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/opportunities", {"status": "maybe"}, "Unknown status"),
        ("/opportunities", {"owner": "bob"}, "Unknown owner"),
        ("/opportunities", {"quarter": "2025-Q5"}, "is not a quarter"),
        ("/opportunities", {"sort": "password_hash"}, "Unknown sort order"),
        ("/opportunities", {"cursor": "not-a-cursor"}, "cursor"),
        ("/accounts", {"tier": "gold"}, "Unknown tier"),
        ("/contacts", {"account": "'; drop table accounts; --"}, "Unknown account"),
        ("/activities", {"kind": "fax"}, "Unknown activity type"),
        ("/activities", {"state": "half"}, "Choose open or done"),
        ("/activities", {"state": "open", "kind": "call"}, "states of tasks"),
        ("/activities", {"state": "done", "overdue": "1"}, "never overdue"),
        ("/activities", {"overdue": "perhaps"}, "on or off"),
    ],
)
def test_bad_filter_input_shows_a_message(
    client: TestClient, list_world: ListWorld, path: str, params: dict[str, str], message: str
) -> None:
    log_in(client, "boss@example.com")
    with_english(client)
    page = client.get(path, params=params)
    assert page.status_code == 400, page.text[:300]
    assert 'role="alert"' in page.text and message in page.text
    live = client.get(path, params=params, headers={"HX-Request": "true"})
    assert live.status_code == 200  # htmx swaps only 2xx answers: the message must reach the page
    assert message in live.text


def with_english(client: TestClient) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert token
    response = client.post(
        "/locale", data={"locale": "en", "csrf_token": token.group(1)}, follow_redirects=False
    )
    assert response.status_code == 303


def test_cursor_pages_cover_every_row_once(
    client: TestClient, list_world: ListWorld, session: Session
) -> None:
    contact = crm.SPECS["contact"]
    for number in range(30):
        crm.create_record(
            session,
            actor=f.SYSTEM,
            spec=contact,
            data={"account_id": list_world.hospital_id, "name": f"联系人 {number:02d}"},
        )
    session.commit()
    log_in(client)
    seen: list[str] = []
    url: str | None = "/contacts?q=联系人&sort=-name"
    pages = 0
    while url:
        page = client.get(url)
        assert page.status_code == 200
        assert "共 30 条" in page.text
        seen.extend(names_in(page.text))
        url = next_link(page.text)
        pages += 1
        if pages > 1:
            assert "第一页" in page.text
    assert pages == 2
    assert seen == [f"联系人 {number:02d}" for number in reversed(range(30))]
