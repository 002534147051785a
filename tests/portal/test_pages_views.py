"""The portal's read views and their JSON API: what a customer contact sees of their own
account, and the refusals (another account's ids 404, staff and members 403)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.errors import NotFound, PermissionDenied
from pathcast.events import Event
from pathcast.portal.models import DocumentExport
from pathcast.portal.service import views
from pathcast.portal.service.documents import watermark_key
from pathcast.portal.watermark import verify_pdf
from tests import factories as f
from tests.api.conftest import application, client  # noqa: F401  (fixtures)
from tests.portal.pages_world import SECRET, build

PORTAL_PATHS = ("/api/v1/portal/communications", "/api/v1/portal/documents", "/api/v1/portal/service",
                "/api/v1/portal/analytics")  # fmt: skip


@pytest.fixture
def world(session: Session, configured: str) -> dict[str, Any]:
    return build(session)


# --- the service ---------------------------------------------------------------------------


def test_communications_are_the_accounts_own_without_internal_fields(
    session: Session, world: dict[str, Any]
) -> None:
    items = views.communications(session, f.actor(world["customer"]))
    assert [item["subject"] for item in items] == ["方案沟通会"]  # no note, not the other account's call
    item = items[0]
    assert item["kind"] == "meeting" and item["our_side"] == "er" and item["their_side"] == "李主任"
    assert item["duration_minutes"] == 45 and item["when"] is not None
    assert "body" not in item and "due_at" not in item and SECRET not in repr(items)


def test_documents_list_versions_of_the_account_only(session: Session, world: dict[str, Any]) -> None:
    items = views.documents(session, f.actor(world["customer"]))
    assert [item["name"] for item in items] == ["对比表", "方案建议书"]
    proposal = items[1]
    assert [v["version"] for v in proposal["versions"]] == [1, 2] and proposal["current_version"] == 2
    assert "audience" not in proposal and "owner_id" not in proposal
    assert "sha256" not in proposal["versions"][0] and "created_by_id" not in proposal["versions"][0]


def test_a_pdf_version_downloads_watermarked_and_is_recorded(session: Session, world: dict[str, Any]) -> None:
    customer = f.actor(world["customer"])
    found = views.download(session, customer, document_id=world["proposal"].id, version=1)
    session.commit()
    assert found.content_type == "application/pdf" and found.export_id
    result = verify_pdf(found.content, key=watermark_key())
    assert result.intact and result.export_id == found.export_id and result.customer == "北京仁和医院"
    export = session.scalars(select(DocumentExport).where(DocumentExport.export_id == found.export_id)).one()
    assert export.account_id == world["ours"].id
    sheet = views.download(session, customer, document_id=world["sheet"].id, version=1)
    assert (
        sheet.export_id is None and sheet.content == "项目,衡远\n".encode() and sheet.filename == "sheet.csv"
    )


def test_another_accounts_document_or_a_missing_version_is_not_found(
    session: Session, world: dict[str, Any]
) -> None:
    customer = f.actor(world["customer"])
    with pytest.raises(NotFound):
        views.download(session, customer, document_id=world["theirs"].id, version=1)
    with pytest.raises(NotFound):
        views.download(session, customer, document_id=world["proposal"].id, version=9)
    with pytest.raises(NotFound):
        views.download(session, customer, document_id=10_000_000, version=1)
    assert session.scalars(select(DocumentExport)).first() is None


def test_service_levels_count_tickets_against_the_policy(session: Session, world: dict[str, Any]) -> None:
    levels = views.service_levels(session, f.actor(world["customer"]))
    assert len(levels["months"]) == views.SLA_MONTHS
    this_month = levels["months"][-1]
    assert (this_month["opened"], this_month["resolved"], this_month["within_target"]) == (3, 2, 1)
    assert this_month["attainment_pct"] == pytest.approx(33.3)
    assert levels["months"][0]["attainment_pct"] is None
    assert levels["policy_hours"]["critical"] == 8


@pytest.mark.parametrize("who", ["admin", "east_manager", "east_rep", "member"])
def test_staff_and_members_are_refused(session: Session, world: dict[str, Any], who: str) -> None:
    actor = f.actor(world[who])
    for view in (views.communications, views.documents, views.service_levels, views.analytics):
        with pytest.raises(PermissionDenied):
            view(session, actor)


# --- the API -------------------------------------------------------------------------------


def test_the_api_answers_for_the_callers_own_account(
    client: TestClient,  # noqa: F811
    world: dict[str, Any],
) -> None:
    headers = world["headers"]["customer"]
    comms = client.get("/api/v1/portal/communications", headers=headers)
    assert comms.status_code == 200, comms.text
    assert [item["subject"] for item in comms.json()["items"]] == ["方案沟通会"]
    docs = client.get("/api/v1/portal/documents", headers=headers).json()["items"]
    assert {doc["account_id"] for doc in docs} == {world["ours"].id}
    service = client.get("/api/v1/portal/service", headers=headers).json()
    assert service["months"][-1]["opened"] == 3
    analytics = client.get("/api/v1/portal/analytics", headers=headers).json()
    assert analytics == {"days": views.ANALYTICS_DAYS, "assets": [], "weeks": []}
    for path in PORTAL_PATHS:
        assert SECRET not in client.get(path, headers=headers).text


def test_the_api_downloads_a_watermarked_pdf(
    client: TestClient,  # noqa: F811
    session: Session,
    world: dict[str, Any],
) -> None:
    url = f"/api/v1/portal/documents/{world['proposal'].id}/versions/2/content"
    answer = client.get(url, headers=world["headers"]["customer"])
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    assert verify_pdf(answer.content, key=watermark_key()).export_id == answer.headers["x-export-id"]
    session.expire_all()
    assert session.scalars(select(Event).where(Event.type == "document.exported")).first() is not None


def test_the_api_hides_another_accounts_document(
    client: TestClient,  # noqa: F811
    world: dict[str, Any],
) -> None:
    for who, document in (("customer", world["theirs"]), ("stranger", world["proposal"])):
        url = f"/api/v1/portal/documents/{document.id}/versions/1/content"
        answer = client.get(url, headers=world["headers"][who])
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
    missing = client.get(
        "/api/v1/portal/documents/99999999/versions/1/content", headers=world["headers"]["customer"]
    )
    assert missing.status_code == 404
    stranger = client.get("/api/v1/portal/communications", headers=world["headers"]["stranger"]).json()
    assert [item["subject"] for item in stranger["items"]] == ["瑞金来电"]


@pytest.mark.parametrize("who", ["admin", "east_manager", "east_rep", "member"])
def test_the_api_refuses_staff_and_members(
    client: TestClient,  # noqa: F811
    world: dict[str, Any],
    who: str,
) -> None:
    for path in (*PORTAL_PATHS, f"/api/v1/portal/documents/{world['proposal'].id}/versions/1/content"):
        answer = client.get(path, headers=world["headers"][who])
        assert answer.status_code == 403, (path, answer.text)


def test_the_api_needs_a_signed_in_caller(
    client: TestClient,  # noqa: F811
    world: dict[str, Any],
) -> None:
    for path in PORTAL_PATHS:
        assert client.get(path).status_code == 401
