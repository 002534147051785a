"""The customer's portal pages in both languages, the downloads behind them, and refusals:
another account's document is a 404 page, staff and members get 403."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pathcast.portal.service.documents import watermark_key
from pathcast.portal.watermark import verify_pdf
from tests import factories as f
from tests.api.conftest import application, client  # noqa: F401  (fixtures)
from tests.portal.pages_world import SECRET, build
from tests.web.test_pages import log_in

PAGES = ("/portal/communications", "/portal/documents", "/portal/service", "/portal/analytics")


@pytest.fixture
def world(session: Session, configured: str) -> dict[str, Any]:
    world = build(session)
    world["seller"] = f.user(session, "seller@example.com", role=f.Role.rep)
    world["worker"] = f.user(session, "worker@example.com", role=f.Role.member)
    world["boss"] = f.user(session, "boss@example.com", role=f.Role.admin)
    session.commit()
    return world


def _english(client: TestClient, token: str) -> None:  # noqa: F811
    answer = client.post(
        "/locale", data={"locale": "en", "csrf_token": token, "next": "/portal/communications"}
    )
    assert answer.status_code in (200, 303)


def test_the_pages_speak_chinese(client: TestClient, world: dict[str, Any]) -> None:  # noqa: F811
    log_in(client, "buyer@renhe.example")
    comms = client.get("/portal/communications")
    assert comms.status_code == 200, comms.text
    assert "沟通记录" in comms.text and "方案沟通会" in comms.text and "会议" in comms.text
    assert "李主任" in comms.text and "45 分钟" in comms.text and 'aria-current="page"' in comms.text
    assert "内部备注" not in comms.text and "瑞金来电" not in comms.text
    docs = client.get("/portal/documents")
    assert "方案建议书" in docs.text and "proposal-r2.pdf" in docs.text and "sheet.csv" in docs.text
    assert "瑞金方案" not in docs.text
    service = client.get("/portal/service")
    assert "服务水平" in service.text and "33.3%" in service.text and 'id="portal-sla-chart"' in service.text
    assert "/static/portal_pages.js" in service.text and "紧急" in service.text
    analytics = client.get("/portal/analytics")
    assert "暂无访问记录" in analytics.text
    for page in PAGES:
        assert SECRET not in client.get(page).text


def test_the_pages_speak_english(client: TestClient, world: dict[str, Any]) -> None:  # noqa: F811
    _english(client, log_in(client, "buyer@renhe.example"))
    comms = client.get("/portal/communications")
    assert '<html lang="en">' in comms.text
    assert "Communications" in comms.text and "Meeting" in comms.text and "45 min" in comms.text
    assert "Proposals &amp; documents" in client.get("/portal/documents").text
    service = client.get("/portal/service")
    assert "Service levels" in service.text and "Resolved within target" in service.text
    assert "No visits recorded." in client.get("/portal/analytics").text


def test_a_version_downloads_from_the_page(client: TestClient, world: dict[str, Any]) -> None:  # noqa: F811
    log_in(client, "buyer@renhe.example")
    pdf = client.get(f"/portal/documents/{world['proposal'].id}/versions/1")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert verify_pdf(pdf.content, key=watermark_key()).intact
    sheet = client.get(f"/portal/documents/{world['sheet'].id}/versions/1")
    assert sheet.status_code == 200 and sheet.content == "项目,衡远\n".encode()
    hidden = client.get(f"/portal/documents/{world['theirs'].id}/versions/1")
    assert hidden.status_code == 404 and "%PDF" not in hidden.text
    assert client.get(f"/portal/documents/{2**63}/versions/1").status_code == 422


@pytest.mark.parametrize("email", ["seller@example.com", "worker@example.com", "boss@example.com"])
def test_staff_and_members_are_refused(client: TestClient, world: dict[str, Any], email: str) -> None:  # noqa: F811
    log_in(client, email)
    for page in (*PAGES, f"/portal/documents/{world['proposal'].id}/versions/1"):
        assert client.get(page).status_code == 403, page


def test_a_visitor_is_sent_to_sign_in(client: TestClient, world: dict[str, Any]) -> None:  # noqa: F811
    answer = client.get("/portal/communications", follow_redirects=False)
    assert answer.status_code in (302, 303, 401)
