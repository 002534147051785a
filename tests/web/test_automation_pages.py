"""Automation pages: the rule editor with its live read-back and underlined errors, the rule
list with its on/off toggle, a rule's versions, the dry-run form, run history, and the inbox
where approvals and confirmations are decided; through the real application on SQLite and
PostgreSQL, in both languages.

The approval and the confirmation come from rules written in the editor, switched on with
the list's toggle and run by the engine on real CRM events (the in-process worker is off;
the tests drive the engine themselves).

SQLite pitfall: the ``session`` fixture holds SQLite's write lock while its transaction is
open, and reading an attribute of an expired object opens one. So ids are read up front
and the tests ``commit()`` before making requests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth import positions
from pathcast.auth import service as auth_service
from pathcast.auth.models import Role
from pathcast.automation.models import InboxItem, Notification, Rule, RuleVersion, Run
from pathcast.config import get_settings
from pathcast.crm import service as crm
from tests import factories as f
from tests.automation.engine_support import ADMIN, FakeClock, run_engine
from tests.web.test_pages import csrf_of, log_in

WON_ZH = "商机赢单后通知负责人"
WON_EN = "when a deal is won, notify the owner"
READBACK_ZH = "当商机赢单时，通知负责人。"
READBACK_EN = "When a deal is won, notify the owner."
MISSPELT = "if a deel is won notify the owner"
APPROVAL = (
    "when a quote's discount is over 20%, require approval: strategic accounts by the sales VP, "
    "standard ones by the regional manager"
)
CONFIRMATION = "when a deal is won, ask the owner to confirm with a note"


@dataclass
class World:
    team_id: int
    manager_id: int
    rep_id: int
    vp_id: int
    account_id: int


@pytest.fixture
def world(configured: str, session: Session) -> World:
    """East: a manager (Chinese UI), an English-speaking manager and a rep; a sales VP; a
    member; a strategic hospital account of the rep's with its own customer login."""
    east = f.team(session, "East")
    manager = f.user(session, "manager@example.com", role=Role.manager, team_obj=east)
    english = f.user(session, "en.manager@example.com", role=Role.manager, team_obj=east)
    auth_service.update_user(session, actor=f.SYSTEM, user=english, changes={"locale": "en"})
    rep = f.user(session, "rep@example.com", team_obj=east)
    vp = f.user(session, "vp@example.com", role=Role.manager)
    f.user(session, "member@example.com", role=Role.member)
    held = positions.ensure_default_positions(session, actor=ADMIN)
    positions.assign_position(session, user=vp, position=held["sales_vp"], actor=ADMIN)
    f.pipeline(session)
    account = f.account(session, name="东区协和医院", tier="strategic", region="华东", owner_id=rep.id)
    f.user(session, "buyer@hospital.example", role=Role.customer_contact, account_id=account.id)
    session.commit()
    return World(east.id, manager.id, rep.id, vp.id, account.id)


@pytest.fixture
def client(configured: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("PATHCAST_ENGINE_POLL_SECONDS", "0")  # the tests drive the engine
    get_settings.cache_clear()
    with TestClient(create_app()) as test_client:
        yield test_client


def sign_in(client: TestClient, email: str = "manager@example.com") -> str:
    """Sign in as ``email`` (signing out whoever was); returns the session's CSRF token."""
    client.cookies.clear()
    return log_in(client, email)


def preview(client: TestClient, token: str, text: str, lang: str) -> str:
    answer = client.post(
        "/rules/preview",
        data={"csrf_token": token, "text": text, "lang": lang},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200, answer.text
    assert "<html" not in answer.text  # a fragment for htmx to swap in
    return answer.text


def create_rule(client: TestClient, token: str, text: str, lang: str, name: str = "赢单通知") -> int:
    answer = client.post(
        "/rules",
        data={"csrf_token": token, "name": name, "text": text, "lang": lang, "scope": "all"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/rules/(\d+)", answer.headers["location"])
    assert found, answer.headers["location"]
    return int(found.group(1))


def switch(client: TestClient, token: str, rule_id: int, on: bool = True) -> None:
    answer = client.post(
        f"/rules/{rule_id}/{'enable' if on else 'disable'}",
        data={"csrf_token": token, "next": "/rules"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/rules"


def rule_row(page: str, rule_id: int) -> str:
    found = re.search(rf'<tr data-testid="rule-row-{rule_id}">.*?</tr>', page, re.S)
    assert found, page
    return found.group(0)


def win_deal(session: Session, world: World, name: str = "DSA 介入耗材 deal") -> int:
    deal = f.opportunity(session, f.SYSTEM, name=name, account_id=world.account_id, owner_id=world.rep_id)
    stages = {stage.key: stage for stage in crm.stages_of(session, deal.pipeline_id)}
    crm.change_stage(session, actor=f.SYSTEM, opportunity=deal, to_stage_id=stages["won"].id)
    deal_id = deal.id
    session.commit()
    return deal_id


# --- the editor's live preview ---------------------------------------------------------------------


def test_the_preview_reads_a_good_sentence_back_in_both_languages(client: TestClient, world: World) -> None:
    token = sign_in(client)
    editor = client.get("/rules/new")
    assert editor.status_code == 200
    page = editor.text
    assert 'hx-post="/rules/preview"' in page and 'hx-trigger="keyup changed delay:400ms"' in page
    assert "/static/automation.js" in page and 'data-testid="compile-empty"' in page
    assert "<h1>新建规则</h1>" in page
    assert re.search(r'<input type="radio" name="lang" value="zh" checked', page)

    for text, lang in ((WON_ZH, "zh"), (WON_EN, "en")):
        part = preview(client, token, text, lang)
        assert 'data-state="ok"' in part
        assert f'<dd lang="zh-CN" data-testid="readback-zh">{READBACK_ZH}</dd>' in part
        assert f'<dd lang="en" data-testid="readback-en">{READBACK_EN}</dd>' in part
        ir = re.search(r'<pre class="json" data-testid="ir">(.*?)</pre>', part, re.S)
        assert ir and "&#34;opportunity.won&#34;" in ir.group(1)
        assert '<details class="ir-block">' in part  # the IR is collapsible

    # A preview is a form post like any other: it needs the session's token.
    refused = client.post("/rules/preview", data={"csrf_token": "forged", "text": WON_ZH, "lang": "zh"})
    assert refused.status_code == 403
    # Nothing was saved.
    assert 'data-testid="rules-empty"' in client.get("/rules").text


def test_the_preview_underlines_what_it_did_not_understand(client: TestClient, world: World) -> None:
    token = sign_in(client)
    part = preview(client, token, MISSPELT, "en")
    assert 'data-state="error"' in part
    sentence = re.search(r'<p class="compile-sentence" data-testid="compile-sentence">(.*?)</p>', part, re.S)
    assert sentence
    assert sentence.group(1) == (
        'if a <mark class="compile-error" data-start="5" data-end="9" data-testid="compile-error-span">deel</mark>'
        " is won notify the owner"
    )
    # The message speaks the reader's language; the suggestions replace the span when clicked.
    assert "不认识“deel”，是不是“deal”？" in part
    assert 'data-testid="compile-expected"' in part and "record type" in part
    buttons = re.findall(
        r'<button type="button" class="button small suggestion" data-suggestion="([^"]+)"\s+'
        r'data-start="(\d+)" data-end="(\d+)"',
        part,
    )
    assert buttons[0] == ("deal", "5", "9")

    # A pronoun is asked about: the button puts the word, not its gloss, in the sentence.
    part = preview(client, token, "商机输单后，通知他", "zh")
    assert '<mark class="compile-error" data-start="8" data-end="9"' in part and ">他</mark>" in part
    assert "“他”指的是谁？" in part
    assert 'data-suggestion="负责人"' in part and ">负责人 (owner)</button>" in part

    # Nothing typed yet: a hint, no error.
    assert 'data-testid="compile-empty"' in preview(client, token, "   ", "zh")

    sign_in(client, "en.manager@example.com")
    part = client.post(
        "/rules/preview",
        data={"csrf_token": csrf_of(client.get("/rules/new").text), "text": MISSPELT, "lang": "en"},
    ).text
    assert 'Unknown word "deel"; did you mean "deal"?'.replace('"', "&#34;") in part
    assert "Did you mean:" in part and "Expected here:" in part


# --- saving, the list, the toggle, versions -------------------------------------------------------


def test_a_rule_written_in_the_editor_is_listed_and_switched_on(
    client: TestClient, world: World, session: Session
) -> None:
    token = sign_in(client)
    assert (
        client.post("/rules", data={"csrf_token": "forged", "text": WON_ZH, "lang": "zh"}).status_code == 403
    )

    # A sentence that does not compile is not saved: the editor comes back with the error.
    refused = client.post("/rules", data={"csrf_token": token, "name": "x", "text": MISSPELT, "lang": "en"})
    assert refused.status_code == 422
    assert ">deel</mark>" in refused.text and f">{MISSPELT}</textarea>" in refused.text
    # So is a team rule for a team id that is not a number.
    bad_scope = client.post(
        "/rules",
        data={"csrf_token": token, "text": WON_ZH, "lang": "zh", "scope": "team", "scope_value": "East"},
    )
    assert bad_scope.status_code == 422 and 'data-testid="scope-value-error"' in bad_scope.text
    assert "团队请填编号" in bad_scope.text
    assert session.scalar(select(func.count()).select_from(Rule)) == 0
    session.commit()

    rule_id = create_rule(client, token, WON_ZH, "zh")
    listing = client.get("/rules")
    assert listing.status_code == 200
    row = rule_row(listing.text, rule_id)
    assert f'<a href="/rules/{rule_id}">赢单通知</a>' in row and WON_ZH in row
    assert 'data-state="off"' in row and "v1" in row and ">manager<" in row
    assert "暂无运行" in row
    assert f'action="/rules/{rule_id}/enable"' in row and 'name="csrf_token"' in row
    assert 'data-testid="new-rule"' in listing.text

    switch(client, token, rule_id)
    row = rule_row(client.get("/rules").text, rule_id)
    assert 'data-state="on"' in row and f'action="/rules/{rule_id}/disable"' in row
    enabled = session.scalar(select(Rule.is_enabled).where(Rule.id == rule_id))
    session.commit()
    assert enabled is True

    # Editing makes version 2; version 1 stays readable.
    edit = client.get(f"/rules/{rule_id}/edit")
    assert edit.status_code == 200
    assert f">{WON_ZH}</textarea>" in edit.text and 'data-testid="version-note"' in edit.text
    assert READBACK_ZH in edit.text  # the preview is there before any typing
    saved = client.post(
        f"/rules/{rule_id}/edit",
        data={"csrf_token": token, "text": WON_EN, "lang": "en"},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"/rules/{rule_id}"
    detail = client.get(f"/rules/{rule_id}").text
    assert "当前规则（第 2 版）" in detail
    assert (
        f'<blockquote class="rule-quote" lang="en" data-testid="current-sentence">{WON_EN}</blockquote>'
        in detail
    )
    old = re.search(r'<li class="rule-version" data-testid="version-1">.*?</li>', detail, re.S)
    assert old and WON_ZH in old.group(0) and READBACK_ZH in old.group(0) and "manager，" in old.group(0)
    assert 'data-testid="version-2"' in detail
    versions = session.scalars(select(RuleVersion.version).where(RuleVersion.rule_id == rule_id)).all()
    session.commit()
    assert sorted(versions) == [1, 2]

    switch(client, token, rule_id, on=False)
    assert 'data-state="off"' in rule_row(client.get("/rules").text, rule_id)


def test_the_dry_run_lists_what_the_rule_would_have_done(
    client: TestClient, world: World, session: Session
) -> None:
    deal_id = win_deal(session, world)
    token = sign_in(client)
    page = client.get("/rules/new").text
    assert 'data-testid="dry-run-form"' in page and 'formaction="/rules/dry-run"' in page
    assert re.search(r'<input type="date" id="dry-since" name="since" value="\d{4}-\d{2}-\d{2}"', page)

    form = {"csrf_token": token, "text": WON_ZH, "lang": "zh"}
    part = client.post("/rules/dry-run", data=form, headers={"HX-Request": "true"})
    assert part.status_code == 200 and "<html" not in part.text
    assert 'data-testid="dry-run-fires"' in part.text and "共触发 1 次。" in part.text
    assert f'<a href="/opportunities/{deal_id}">DSA 介入耗材 deal</a>' in part.text
    assert "这是试运行" in part.text
    # Without htmx, the whole editor comes back with the answer in it.
    full = client.post("/rules/dry-run", data=form)
    assert full.status_code == 200 and "<html" in full.text and "共触发 1 次。" in full.text
    assert f">{WON_ZH}</textarea>" in full.text
    # A window with nothing in it, and a window that ends before it starts.
    empty = client.post("/rules/dry-run", data={**form, "since": "2020-01-01", "until": "2020-02-01"})
    assert 'data-testid="dry-run-empty"' in empty.text
    backwards = client.post("/rules/dry-run", data={**form, "since": "2020-02-01", "until": "2020-01-01"})
    assert backwards.status_code == 422 and "结束日期早于开始日期。" in backwards.text
    unclear = client.post("/rules/dry-run", data={**form, "text": MISSPELT}, headers={"HX-Request": "true"})
    assert unclear.status_code == 200 and "请先修改规则" in unclear.text  # htmx swaps only a 2xx answer
    # Nothing was saved, and nobody was notified.
    assert session.scalar(select(func.count()).select_from(Rule)) == 0
    assert session.scalar(select(func.count()).select_from(Run)) == 0
    session.commit()


# --- who may do what ----------------------------------------------------------------------------


def test_a_rep_reads_rules_but_cannot_change_them(client: TestClient, world: World) -> None:
    token = sign_in(client)
    rule_id = create_rule(client, token, WON_ZH, "zh")
    detail = client.get(f"/rules/{rule_id}").text
    assert 'data-testid="edit-rule"' in detail and f'action="/rules/{rule_id}/enable"' in detail

    token = sign_in(client, "rep@example.com")
    assert '<a href="/rules">规则</a>' in client.get("/").text
    listing = client.get("/rules")
    assert listing.status_code == 200 and WON_ZH in listing.text
    assert "/rules/new" not in listing.text and f"/rules/{rule_id}/enable" not in listing.text
    detail = client.get(f"/rules/{rule_id}")
    assert detail.status_code == 200 and READBACK_ZH in detail.text
    assert "/edit" not in detail.text and f"/rules/{rule_id}/enable" not in detail.text
    assert client.get("/rules/new").status_code == 403
    assert client.get(f"/rules/{rule_id}/edit").status_code == 403
    for action, data in (
        (f"/rules/{rule_id}/enable", {}),
        (f"/rules/{rule_id}/edit", {"text": WON_EN, "lang": "en"}),
        ("/rules", {"text": WON_ZH, "lang": "zh"}),
        ("/rules/preview", {"text": WON_ZH, "lang": "zh"}),
        ("/rules/dry-run", {"text": WON_ZH, "lang": "zh"}),
    ):
        refused = client.post(action, data={"csrf_token": token, **data})
        assert refused.status_code == 403, action
        assert 'class="panel error-page"' in refused.text
    assert client.get("/runs").status_code == 200
    assert client.get("/inbox").status_code == 200

    # A delivery member: no rules at all, but an inbox.
    sign_in(client, "member@example.com")
    home = client.get("/").text
    assert 'href="/rules"' not in home and '<a href="/inbox">待办' in home
    for path in ("/rules", f"/rules/{rule_id}", "/rules/new", "/runs"):
        assert client.get(path).status_code == 403, path
    assert client.get("/inbox").status_code == 200

    # A customer's own contact: neither.
    sign_in(client, "buyer@hospital.example")
    home = client.get("/").text
    assert 'href="/rules"' not in home and 'href="/inbox"' not in home
    assert client.get("/rules").status_code == 403
    assert client.get("/inbox").status_code == 403
    assert 'data-testid="inbox-count" hidden' in client.get("/inbox/badge").text


# --- runs and the inbox ---------------------------------------------------------------------------


def test_an_approval_waits_in_the_approvers_inbox_and_is_decided(
    client: TestClient, world: World, session: Session, configured: str
) -> None:
    token = sign_in(client)
    rule_id = create_rule(client, token, APPROVAL, "en", name="折扣审批")
    switch(client, token, rule_id)

    deal = f.opportunity(session, f.SYSTEM, account_id=world.account_id, owner_id=world.rep_id)
    quote = crm.create_quote(
        session, actor=f.SYSTEM, data={"opportunity_id": deal.id, "owner_id": world.rep_id}
    )
    crm.update_quote(session, actor=f.SYSTEM, quote=quote, changes={"discount_pct": 25})
    deal_id, quote_number = deal.id, quote.number
    run_engine(session, configured, FakeClock())
    item_id, run_id = session.execute(select(InboxItem.id, InboxItem.run_id)).one()
    session.commit()

    # The run is in the history, waiting, with its steps.
    runs = client.get("/runs").text
    assert f'data-testid="run-row-{run_id}"' in runs and 'data-status="waiting"' in runs
    assert f'<a href="/opportunities/{deal_id}">报价单 {quote_number}（DSA 介入耗材 deal）</a>' in runs
    run_page = client.get(f"/runs/{run_id}").text
    assert "<strong>审批</strong>" in run_page and "尝试 1 次" in run_page
    outcome = re.search(r'<pre class="json" data-testid="step-outcome-0">(.*?)</pre>', run_page, re.S)
    assert outcome and "account.tier = strategic → sales_vp" in outcome.group(1)
    assert "\n  " in outcome.group(1)  # pretty
    assert f'<a href="/rules/{rule_id}">折扣审批</a>' in run_page

    # The manager who wrote the rule has nothing to decide; the sales VP has.
    assert 'data-testid="inbox-empty"' in client.get("/inbox").text
    assert (
        client.post(
            f"/inbox/{item_id}/decision", data={"csrf_token": token, "decision": "approve"}
        ).status_code
        == 403
    )

    token = sign_in(client, "vp@example.com")
    home = client.get("/").text
    assert 'hx-get="/inbox/badge" hx-trigger="load"' in home
    badge = client.get("/inbox/badge", headers={"HX-Request": "true"}).text
    assert '<span class="nav-count badge" data-testid="inbox-count"' in badge and ">2</span>" in badge
    inbox = client.get("/inbox")
    assert inbox.status_code == 200
    item = re.search(rf'<li class="inbox-item" id="item-{item_id}".*?</li>\s*</ul>', inbox.text, re.S)
    assert item, inbox.text
    assert "<code>account.tier = strategic → sales_vp</code>" in item.group(0)
    assert f'data-testid="approve-{item_id}"' in item.group(
        0
    ) and f'data-testid="reject-{item_id}"' in item.group(0)
    assert "说明（可选）" in item.group(0) and "required" not in item.group(0)
    assert "等你处理（1）" in inbox.text and "通知（1 条未读）" in inbox.text

    assert (
        client.post(
            f"/inbox/{item_id}/decision", data={"csrf_token": "forged", "decision": "approve"}
        ).status_code
        == 403
    )
    decided = client.post(
        f"/inbox/{item_id}/decision",
        data={"csrf_token": token, "decision": "approve", "note": "战略客户，同意"},
        follow_redirects=False,
    )
    assert decided.status_code == 303 and decided.headers["location"] == "/inbox"
    status, note = session.execute(
        select(InboxItem.status, InboxItem.note).where(InboxItem.id == item_id)
    ).one()
    session.commit()
    assert (status, note) == ("approved", "战略客户，同意")
    inbox = client.get("/inbox").text
    assert 'data-testid="inbox-empty"' in inbox
    again = client.post(f"/inbox/{item_id}/decision", data={"csrf_token": token, "decision": "approve"})
    assert again.status_code == 409

    notification_id = session.scalar(select(Notification.id).where(Notification.user_id == world.vp_id))
    session.commit()
    read = client.post(
        f"/notifications/{notification_id}/read", data={"csrf_token": token}, follow_redirects=False
    )
    assert read.status_code == 303 and read.headers["location"] == "/inbox#notifications"
    inbox = client.get("/inbox").text
    assert "通知（0 条未读）" in inbox and f'data-testid="mark-read-{notification_id}"' not in inbox
    assert 'data-testid="inbox-count" hidden' in client.get("/inbox/badge").text


def test_a_confirmation_needs_its_note(
    client: TestClient, world: World, session: Session, configured: str
) -> None:
    token = sign_in(client)
    rule_id = create_rule(client, token, CONFIRMATION, "en", name="交付确认")
    switch(client, token, rule_id)
    win_deal(session, world)
    run_engine(session, configured, FakeClock())
    item_id = session.scalar(select(InboxItem.id))
    session.commit()

    token = sign_in(client, "rep@example.com")  # the deal's owner confirms
    inbox = client.get("/inbox").text
    assert f'data-testid="confirm-{item_id}"' in inbox and f'data-testid="decline-{item_id}"' in inbox
    assert "说明（必填）" in inbox and 'required aria-required="true"' in inbox
    assert "<code>confirmation by" in inbox

    refused = client.post(
        f"/inbox/{item_id}/decision", data={"csrf_token": token, "decision": "confirm", "note": " "}
    )
    assert refused.status_code == 422
    assert f'data-testid="decision-error-{item_id}">这条规则要求决定时填写说明。</p>' in refused.text
    status = session.scalar(select(InboxItem.status).where(InboxItem.id == item_id))
    session.commit()
    assert status == "open"
    wrong = client.post(
        f"/inbox/{item_id}/decision", data={"csrf_token": token, "decision": "approve", "note": "x"}
    )
    assert wrong.status_code == 422

    confirmed = client.post(
        f"/inbox/{item_id}/decision",
        data={"csrf_token": token, "decision": "confirm", "note": "资源已就绪"},
        follow_redirects=False,
    )
    assert confirmed.status_code == 303
    status, note = session.execute(
        select(InboxItem.status, InboxItem.note).where(InboxItem.id == item_id)
    ).one()
    session.commit()
    assert (status, note) == ("confirmed", "资源已就绪")


# --- languages ------------------------------------------------------------------------------------


def test_both_languages(client: TestClient, world: World) -> None:
    token = sign_in(client, "en.manager@example.com")
    rule_id = create_rule(client, token, WON_EN, "en", name="Won deal alert")
    home = client.get("/").text
    assert '<a href="/rules">Rules</a>' in home and '<a href="/inbox">Inbox' in home
    listing = client.get("/rules").text
    assert '<a href="/rules" aria-current="page">Rules</a>' in listing
    assert "<h1>Rules</h1>" in listing and "New rule" in listing and 'data-state="off"' in listing
    assert "Switch on" in listing and "no runs" in listing
    editor = client.get("/rules/new").text
    assert "<h1>New rule</h1>" in editor and "Dry-run on history" in editor
    assert re.search(r'<input type="radio" name="lang" value="en" checked', editor)
    part = preview(client, token, WON_EN, "en")
    assert "What Pathcast understood" in part and READBACK_EN in part and READBACK_ZH in part
    detail = client.get(f"/rules/{rule_id}").text
    assert "What it does now (version 1)" in detail and "This rule has not fired yet." in detail
    assert "<h1>Run history</h1>" in client.get("/runs").text
    inbox = client.get("/inbox").text
    assert "<h1>Inbox</h1>" in inbox and "Nothing waits for you." in inbox and "No notifications." in inbox

    sign_in(client)
    home = client.get("/").text
    assert '<a href="/rules">规则</a>' in home and '<a href="/inbox">待办' in home
    listing = client.get("/rules").text
    assert "<h1>规则</h1>" in listing and "新建规则" in listing and "Won deal alert" in listing
    assert "<h1>运行记录</h1>" in client.get("/runs").text
    inbox = client.get("/inbox").text
    assert "<h1>待办</h1>" in inbox and "没有等你处理的事项。" in inbox
