"""The API of courses and data requests: the customer's side answers customer contacts for
their own account only, the admin side admins only; refusals are RFC 9457 problems."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pathcast.auth import service as auth_service
from pathcast.portal.service import training
from tests import factories as f
from tests.api.conftest import application, client, company  # noqa: F401  (fixtures)


def _other_customer(session: Session) -> dict[str, str]:
    other = f.account(session, name="瑞金医院 Ruijin")
    user = f.user(
        session, "buyer@ruijin.example", role=f.Role.customer_contact, account_id=other.id, password=None
    )
    _, secret = auth_service.create_token(session, actor=f.SYSTEM, user=user)
    session.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_a_customer_files_and_follows_their_requests(
    client: TestClient,  # noqa: F811
    company: dict[str, Any],  # noqa: F811
    session: Session,
) -> None:
    headers = company["headers"]
    other = _other_customer(session)
    filed = client.post(
        "/api/v1/portal/requests", json={"kind": "portability", "detail": "全部"}, headers=headers["customer"]
    )
    assert filed.status_code == 201, filed.text
    body = filed.json()
    assert body["status"] == "open" and body["account_id"] == company["account"].id
    assert "handled_by" not in body and "requested_by" not in body
    listed = client.get("/api/v1/portal/requests", headers=headers["customer"]).json()
    assert [item["id"] for item in listed] == [body["id"]]
    assert client.get("/api/v1/portal/requests", headers=other).json() == []
    missing = client.get(f"/api/v1/portal/requests/{body['id']}", headers=other)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith(
        "application/problem+json"
    )
    assert client.get(f"/api/v1/portal/requests/{body['id']}", headers=headers["customer"]).status_code == 200
    bad = client.post("/api/v1/portal/requests", json={"kind": "everything"}, headers=headers["customer"])
    assert bad.status_code == 422
    nul = client.post(
        "/api/v1/portal/requests", json={"kind": "access", "detail": "a\x00b"}, headers=headers["customer"]
    )
    assert nul.status_code == 201 and nul.json()["detail"] == "ab"


def test_staff_are_refused_on_the_customers_side(
    client: TestClient,  # noqa: F811
    company: dict[str, Any],  # noqa: F811
) -> None:
    for who in ("admin", "east_rep", "member"):
        for path in ("/api/v1/portal/requests", "/api/v1/portal/team"):
            assert client.get(path, headers=company["headers"][who]).status_code == 403, (who, path)


def test_only_admins_use_the_admin_side(
    client: TestClient,  # noqa: F811
    company: dict[str, Any],  # noqa: F811
) -> None:
    headers = company["headers"]
    body = {"code": "DSA-1", "name_zh": "DSA 认证", "name_en": "DSA certification", "valid_months": 24}
    for who in ("east_rep", "east_manager", "member", "customer"):
        assert client.post("/api/v1/admin/courses", json=body, headers=headers[who]).status_code == 403, who
        assert client.get("/api/v1/admin/requests", headers=headers[who]).status_code == 403, who
        assert client.get("/api/v1/admin/courses", headers=headers[who]).status_code == 403, who
    created = client.post("/api/v1/admin/courses", json=body, headers=headers["admin"])
    assert created.status_code == 201, created.text
    course = created.json()
    taken = client.post("/api/v1/admin/courses", json=body, headers=headers["admin"])
    assert taken.status_code == 422 and taken.json()["errors"][0]["field"] == "code"
    saved = client.put(
        "/api/v1/admin/enrollments",
        json={
            "user_id": company["east_rep"].id,
            "course_id": course["id"],
            "certified_on": "2025-01-31",
            "certificate_no": "PC-1",
        },
        headers=headers["admin"],
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["expires_on"] == "2027-01-31" and saved.json()["progress"] == 100
    patched = client.patch(
        f"/api/v1/admin/courses/{course['id']}", json={"archived": True}, headers=headers["admin"]
    )
    assert patched.status_code == 200 and patched.json()["archived"] is True
    filed = client.post(
        "/api/v1/portal/requests", json={"kind": "access"}, headers=headers["customer"]
    ).json()
    refused = client.patch(
        f"/api/v1/admin/requests/{filed['id']}", json={"status": "done"}, headers=headers["admin"]
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "resolution"
    customer_try = client.patch(
        f"/api/v1/admin/requests/{filed['id']}", json={"status": "in_progress"}, headers=headers["customer"]
    )
    assert customer_try.status_code == 403
    done = client.patch(
        f"/api/v1/admin/requests/{filed['id']}",
        json={"status": "done", "resolution": "已发送"},
        headers=headers["admin"],
    )
    assert done.status_code == 200 and done.json()["status"] == "done"
    listed = client.get("/api/v1/admin/requests?status=done", headers=headers["admin"]).json()
    assert [item["id"] for item in listed] == [filed["id"]]
    assert client.get("/api/v1/admin/requests?overdue=true", headers=headers["admin"]).json() == []


def test_the_team_answers_for_the_own_account(
    client: TestClient,  # noqa: F811
    company: dict[str, Any],  # noqa: F811
    session: Session,
) -> None:
    rep_id = company["east_rep"].id
    account = f.account(session, name="业主医院", owner_id=rep_id)
    course = training.create_course(
        session, f.SYSTEM, code="C1", name_zh="课程", name_en="Course", valid_months=12
    )
    training.save_enrollment(session, f.SYSTEM, user_id=rep_id, course_id=course.id, progress=30)
    buyer = f.user(
        session, "buyer@owned.example", role=f.Role.customer_contact, account_id=account.id, password=None
    )
    _, secret = auth_service.create_token(session, actor=f.SYSTEM, user=buyer)
    session.commit()
    answer = client.get("/api/v1/portal/team", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200, answer.text
    [member] = answer.json()
    assert member["name"] == "er" and member["roles"] == ["owner"]
    assert member["training"][0]["code"] == "C1" and member["training"][0]["progress"] == 30
    # the company fixture's customer belongs to an account without owner or team
    assert client.get("/api/v1/portal/team", headers=company["headers"]["customer"]).json() == []
