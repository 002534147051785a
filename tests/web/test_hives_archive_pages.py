"""The message archive through the real application on SQLite and PostgreSQL: the hive
page's archive panel in zh and en (search, reasons, the move form; 404 for a hidden hive,
403 for a customer contact, 422 for a bad move with the choice kept) and the API
(/api/v1/hives/messages/search, /{id}/messages, /messages/{id}/move, /messages/file)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth import service as auth_service
from pathcast.auth.models import Role
from tests import factories as f
from tests.hives.test_archive_service import World, build_world, receive
from tests.web.test_pages import log_in

API = "/api/v1/hives"
ADMIN = f.SYSTEM


@pytest.fixture
def world(configured: str, session: Session) -> Iterator[tuple[World, dict[str, dict[str, str]]]]:
    """The service tests' world with people who can sign in (the owner: Chinese UI, the
    logistics member: English UI), a few filed messages, and a bearer header per person."""
    east, west = f.team(session, "East"), f.team(session, "West")
    people = {
        "owner": f.user(session, "owner@example.com", team_obj=east),
        "other_rep": f.user(session, "other@example.com", team_obj=west),
        "logistics": f.user(session, "wuliu@example.com", role=Role.member),
        "planner": f.user(session, "paichan@example.com", role=Role.member),
        "admin": f.user(session, "boss@example.com", role=Role.admin),
    }
    auth_service.update_user(session, actor=ADMIN, user=people["logistics"], changes={"locale": "en"})
    built = build_world(session, people)
    receive(
        session,
        subject="产线升级 安装调试排期",
        body="安装调试下周一开始，<script>alert(1)</script>",
        sender=built.jinggong_contact,
        attachments=("排期表.xlsx",),
    )
    receive(
        session,
        subject="Line upgrade: shipping delayed",
        body="The shipping of the line upgrade slips two days.",
        sender=built.jinggong_contact,
        minutes=10,
    )
    receive(
        session,
        subject="冷却塔改造 安装调试",
        body="冷却塔安装调试完成",
        sender=built.hengtai_contact,
        minutes=20,
    )
    headers: dict[str, dict[str, str]] = {}
    for key, person in people.items():
        _, secret = auth_service.create_token(session, actor=ADMIN, user=person)
        headers[key] = {"Authorization": f"Bearer {secret}"}
    session.commit()
    yield built, headers


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def sign_in(client: TestClient, email: str) -> str:
    client.cookies.clear()
    return log_in(client, email)


def listed(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'data-testid="archive-message" data-id="(\d+)"', html)]


def test_panel_in_chinese_with_reasons_attachments_and_move_form(
    client: TestClient, world: tuple[World, dict[str, dict[str, str]]]
) -> None:
    built, _ = world
    sign_in(client, "owner@example.com")
    panel = client.get(f"/hives/{built.line_hive}/archive-panel")
    assert panel.status_code == 200
    html = panel.text
    assert html.lstrip().startswith("{#") is False and 'id="archive-panel"' in html
    assert "消息档案" in html and "为何归档在此" in html and "邮件" in html
    assert "排期表.xlsx" in html and "来自本蜂巢的客户" in html
    assert "<script>alert(1)</script>" not in html  # bodies are escaped
    assert len(listed(html)) == 2 and 'name="to_hive_id"' in html
    assert (
        f'<option value="{built.hengtai_hive}"' in html and f'<option value="{built.line_hive}"' not in html
    )
    empty = client.get(f"/hives/{built.compressor_hive}/archive-panel").text
    assert 'data-testid="archive-empty"' in empty and "本蜂巢还没有归档的消息" in empty


def test_panel_in_english_for_a_member_and_hidden_hives(
    client: TestClient, world: tuple[World, dict[str, dict[str, str]]]
) -> None:
    built, _ = world
    sign_in(client, "wuliu@example.com")
    panel = client.get(f"/hives/{built.line_hive}/archive-panel")
    assert panel.status_code == 200
    assert "Message archive" in panel.text and "Why filed here" in panel.text
    assert (
        "From this hive&#39;s customer account" in panel.text
        or "From this hive's customer account" in panel.text
    )
    assert client.get(f"/hives/{built.hengtai_hive}/archive-panel").status_code == 404
    sign_in(client, "other@example.com")
    assert client.get(f"/hives/{built.line_hive}/archive-panel").status_code == 404


def test_search_box_in_chinese_and_english(
    client: TestClient, world: tuple[World, dict[str, dict[str, str]]]
) -> None:
    built, _ = world
    sign_in(client, "owner@example.com")
    chinese = client.get(f"/hives/{built.line_hive}/archive-panel", params={"q": "安装调试"})
    assert chinese.status_code == 200 and len(listed(chinese.text)) == 1
    assert "<mark>安装调试</mark>" in chinese.text
    english = client.get(f"/hives/{built.line_hive}/archive-panel", params={"q": "Shipping"})
    assert len(listed(english.text)) == 1 and "<mark>shipping</mark>" in english.text.lower()
    nothing = client.get(f"/hives/{built.line_hive}/archive-panel", params={"q": "不存在的词"})
    assert listed(nothing.text) == [] and 'data-testid="archive-no-hits"' in nothing.text
    too_long = client.get(f"/hives/{built.line_hive}/archive-panel", params={"q": "x" * 300})
    assert 'data-testid="error-q"' in too_long.text


def test_moving_a_message_from_the_panel(
    client: TestClient, world: tuple[World, dict[str, dict[str, str]]]
) -> None:
    built, _ = world
    csrf = sign_in(client, "owner@example.com")
    first = listed(client.get(f"/hives/{built.line_hive}/archive-panel").text)[0]
    url = f"/hives/{built.line_hive}/archive-panel/move"
    refused = client.post(url, data={"csrf_token": csrf, "message_id": str(first), "to_hive_id": ""})
    assert refused.status_code == 422 and 'data-testid="error-to_hive_id"' in refused.text
    assert "请选择这条消息应归入的蜂巢" in refused.text
    hidden = client.post(url, data={"csrf_token": csrf, "message_id": str(first), "to_hive_id": "99999"})
    assert hidden.status_code == 422 and "没有您可见的这个蜂巢" in hidden.text
    assert '<option value="99999"' not in hidden.text
    assert (
        client.post(url, data={"message_id": str(first), "to_hive_id": str(built.hengtai_hive)}).status_code
        == 403
    )
    wrong_hive = f"/hives/{built.hengtai_hive}/archive-panel/move"
    assert (
        client.post(
            wrong_hive, data={"csrf_token": csrf, "message_id": str(first), "to_hive_id": "1"}
        ).status_code
        == 404
    )
    moved = client.post(
        url,
        data={"csrf_token": csrf, "message_id": str(first), "to_hive_id": str(built.compressor_hive)},
        headers={"HX-Request": "true"},
    )
    assert moved.status_code == 200 and first not in listed(moved.text)
    target = client.get(f"/hives/{built.compressor_hive}/archive-panel").text
    assert first in listed(target) and "人工移入" in target
    back = client.post(
        f"/hives/{built.compressor_hive}/archive-panel/move",
        data={"csrf_token": csrf, "message_id": str(first), "to_hive_id": str(built.line_hive)},
        follow_redirects=False,
    )
    assert (
        back.status_code == 303
        and back.headers["location"] == f"/hives/{built.compressor_hive}#archive-panel"
    )


def test_customer_contacts_get_403(client: TestClient, configured: str, session: Session) -> None:
    built = build_world(session)
    f.user(session, "kehu@example.com", role=Role.customer_contact, account_id=built.jinggong)
    session.commit()
    sign_in(client, "kehu@example.com")
    assert client.get(f"/hives/{built.line_hive}/archive-panel").status_code == 403


# --- the API ----------------------------------------------------------------------------------


def test_api_lists_searches_and_scopes(
    client: TestClient, world: tuple[World, dict[str, dict[str, str]]]
) -> None:
    built, headers = world
    messages = client.get(f"{API}/{built.line_hive}/messages", headers=headers["owner"])
    assert messages.status_code == 200
    body = messages.json()
    assert [row["subject"] for row in body] == ["Line upgrade: shipping delayed", "产线升级 安装调试排期"]
    assert {reason["kind"] for reason in body[0]["reasons"]} >= {"account"}
    assert client.get(f"{API}/{built.line_hive}/messages", headers=headers["planner"]).status_code == 404
    hits = client.get(f"{API}/messages/search", params={"q": "安装调试"}, headers=headers["owner"]).json()
    assert [hit["message"]["subject"] for hit in hits] == ["冷却塔改造 安装调试", "产线升级 安装调试排期"]
    assert hits[0]["hive_name"] == "恒泰精密 · 冷却塔改造" and "安装调试" in hits[0]["snippet"]
    mine = client.get(f"{API}/messages/search", params={"q": "安装调试"}, headers=headers["planner"]).json()
    assert [hit["message"]["hive_id"] for hit in mine] == [built.hengtai_hive]
    english = client.get(
        f"{API}/messages/search",
        params={"q": "line upgrade", "hive_id": built.line_hive},
        headers=headers["owner"],
    ).json()
    assert [hit["message"]["subject"] for hit in english] == ["Line upgrade: shipping delayed"]
    missing = client.get(f"{API}/messages/search", params={"q": ""}, headers=headers["owner"])
    assert missing.status_code == 422 and missing.headers["content-type"].startswith(
        "application/problem+json"
    )


def test_api_move_and_backfill(client: TestClient, world: tuple[World, dict[str, dict[str, str]]]) -> None:
    built, headers = world
    first = client.get(f"{API}/{built.line_hive}/messages", headers=headers["owner"]).json()[0]
    refused = client.post(
        f"{API}/messages/{first['id']}/move",
        json={"to_hive_id": built.hengtai_hive},
        headers=headers["logistics"],
    )
    assert refused.status_code == 422
    assert (
        client.post(
            f"{API}/messages/{first['id']}/move",
            json={"to_hive_id": built.hengtai_hive},
            headers=headers["planner"],
        ).status_code
        == 404
    )
    moved = client.post(
        f"{API}/messages/{first['id']}/move",
        json={"to_hive_id": built.compressor_hive},
        headers=headers["owner"],
    )
    assert moved.status_code == 200 and moved.json()["hive_id"] == built.compressor_hive
    assert moved.json()["filed_by"] == "person"
    assert (
        client.post(
            f"{API}/messages/file", json={"activity_id": first["activity_id"]}, headers=headers["owner"]
        ).status_code
        == 403
    )
    again = client.post(
        f"{API}/messages/file", json={"activity_id": first["activity_id"]}, headers=headers["admin"]
    )
    assert again.status_code == 200 and again.json()["outcome"] == "already_filed"
    unknown = client.post(f"{API}/messages/file", json={"activity_id": 999999}, headers=headers["admin"])
    assert unknown.status_code == 422
