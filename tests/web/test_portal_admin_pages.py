"""The portal's team and requests pages (customers) and the admins' courses and requests
pages, through the real application, in zh-CN and en, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth import positions
from pathcast.auth import service as auth_service
from pathcast.auth.models import Role, User
from pathcast.portal.service import requests, training
from tests import factories as f


@dataclass
class World:
    account_id: int
    late_id: int
    other_id: int
    dsa_id: int
    rep_id: int


def _locale(session: Session, user: User, locale: str) -> None:
    auth_service.update_user(session, actor=f.SYSTEM, user=user, changes={"locale": locale})


@pytest.fixture
def world(configured: str, session: Session) -> World:
    """Account A (owner 王磊, CSM 李娜) with a customer contact; account B with its own."""
    admin = f.user(session, "admin@example.com", role=Role.admin)
    rep = f.user(session, "rep@example.com")
    _locale(session, rep, "en")
    auth_service.update_user(session, actor=f.SYSTEM, user=rep, changes={"name": "王磊"})
    csm = f.user(session, "csm@example.com", role=Role.member)
    auth_service.update_user(session, actor=f.SYSTEM, user=csm, changes={"name": "李娜"})
    other_rep = f.user(session, "other@example.com")
    auth_service.update_user(session, actor=f.SYSTEM, user=other_rep, changes={"name": "外人"})
    account = f.account(session, name="协和医院", owner_id=rep.id)
    other = f.account(session, name="瑞金医院", owner_id=other_rep.id)
    held = positions.ensure_default_positions(session, actor=f.SYSTEM)
    positions.add_account_team_member(
        session, account_id=account.id, user=csm, position=held["csm"], actor=f.SYSTEM
    )
    f.user(session, "buyer@a.example", role=Role.customer_contact, account_id=account.id)
    english = f.user(session, "buyer-en@a.example", role=Role.customer_contact, account_id=account.id)
    _locale(session, english, "en")
    f.user(session, "buyer@b.example", role=Role.customer_contact, account_id=other.id)
    boss = f.actor(admin)
    _locale(session, admin, "en")
    today = datetime.now(UTC).date()
    dsa = training.create_course(
        session, boss, code="DSA", name_zh="DSA 介入认证", name_en="DSA certification", valid_months=24
    )
    gmp = training.create_course(
        session, boss, code="GMP", name_zh="GMP 规范", name_en="GMP practice", valid_months=12
    )
    secret = training.create_course(
        session, boss, code="PRICING", name_zh="内部定价", name_en="Internal pricing", customer_visible=False
    )
    training.save_enrollment(
        session,
        boss,
        user_id=rep.id,
        course_id=dsa.id,
        certified_on=today - timedelta(days=30),
        certificate_no="DSA-0007",
    )
    training.save_enrollment(session, boss, user_id=rep.id, course_id=gmp.id, progress=55)
    training.save_enrollment(
        session, boss, user_id=rep.id, course_id=secret.id, certified_on=today, certificate_no="SECRET-1"
    )
    training.save_enrollment(
        session, boss, user_id=csm.id, course_id=gmp.id, certified_on=today - timedelta(days=400)
    )
    training.save_enrollment(
        session, boss, user_id=other_rep.id, course_id=dsa.id, certified_on=today, certificate_no="OTHER-9"
    )
    customer_a = f.actor(english)
    long_ago = datetime.now(UTC) - timedelta(days=45)
    late = requests.file_request(session, customer_a, kind="access", detail="旧的申请", received_at=long_ago)
    other_customer = f.actor(f.user(session, "b2@b.example", role=Role.customer_contact, account_id=other.id))
    theirs = requests.file_request(session, other_customer, kind="deletion", detail="瑞金的申请 RUIJIN-ONLY")
    session.commit()
    return World(account_id=account.id, late_id=late.id, other_id=theirs.id, dsa_id=dsa.id, rep_id=rep.id)


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, email: str, page: str) -> str:
    """Sign in at /login and open ``page``; returns its CSRF token."""
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"email": email, "password": f.PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    opened = client.get(page)
    assert opened.status_code == 200, opened.text
    return csrf_of(opened.text)


def test_the_customer_sees_their_team_in_chinese(client: TestClient, world: World) -> None:
    sign_in(client, "buyer@a.example", "/portal/requests")
    page = client.get("/portal/team")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="zh-CN">' in html and "服务团队" in html
    assert "王磊" in html and "李娜" in html and "客户经理" in html and "客户成功经理" in html
    assert "DSA 介入认证" in html and "DSA-0007" in html and 'data-status="valid"' in html
    assert 'data-status="expired"' in html  # the CSM's GMP, certified 400 days ago
    assert "GMP 规范" in html and "55%" in html  # the owner's training in progress
    assert "SECRET-1" not in html and "内部定价" not in html  # an internal course
    assert "外人" not in html and "OTHER-9" not in html  # another account's rep
    assert 'aria-current="page">服务团队' in html


def test_the_team_page_in_english(client: TestClient, world: World) -> None:
    sign_in(client, "buyer-en@a.example", "/portal/team")
    html = client.get("/portal/team").text
    assert '<html lang="en">' in html and "Your team" in html
    assert "DSA certification" in html and "Account manager" in html and "Customer success manager" in html


def test_staff_get_403_on_the_customer_pages(client: TestClient, world: World) -> None:
    sign_in(client, "rep@example.com", "/")
    assert client.get("/portal/team").status_code == 403
    assert client.get("/portal/requests").status_code == 403
    assert client.get("/admin/courses").status_code == 403
    assert client.get("/admin/requests").status_code == 403


def test_a_customer_files_a_request_and_sees_only_their_own(client: TestClient, world: World) -> None:
    token = sign_in(client, "buyer@a.example", "/portal/requests")
    html = client.get("/portal/requests").text
    assert "旧的申请" in html and 'data-testid="overdue"' in html
    assert "RUIJIN-ONLY" not in html
    refused = client.post(
        "/portal/requests", data={"csrf_token": token, "kind": "everything", "detail": "保留我写的"}
    )
    assert refused.status_code == 422
    assert "保留我写的" in refused.text and 'data-testid="error-kind"' in refused.text
    filed = client.post(
        "/portal/requests",
        data={"csrf_token": token, "kind": "portability", "detail": "请导出全部数据"},
        follow_redirects=False,
    )
    assert filed.status_code == 303 and filed.headers["location"] == "/portal/requests?done=filed"
    listed = client.get("/portal/requests?done=filed").text
    assert "请导出全部数据" in listed and "导出我的数据" in listed and "已收到您的申请" in listed
    forged = client.post("/portal/requests", data={"csrf_token": "nope", "kind": "access"})
    assert forged.status_code == 403


def test_admins_keep_courses_and_certificates(client: TestClient, world: World) -> None:
    token = sign_in(client, "admin@example.com", "/admin/courses")
    html = client.get("/admin/courses").text
    assert "Courses and certificates" in html and "DSA-0007" in html and "SECRET-1" in html
    refused = client.post(
        "/admin/courses",
        data={
            "csrf_token": token,
            "code": "DSA",
            "name_zh": "",
            "name_en": "Kept English",
            "valid_months": "12",
        },
    )
    assert refused.status_code == 422
    assert (
        'data-testid="course-error-code"' in refused.text
        and 'data-testid="course-error-name_zh"' in refused.text
    )
    assert "Kept English" in refused.text
    added = client.post(
        "/admin/courses",
        data={
            "csrf_token": token,
            "code": "ISO-13485",
            "name_zh": "质量体系",
            "name_en": "Quality system",
            "valid_months": "36",
            "customer_visible": "1",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303
    saved = client.post(
        "/admin/enrollments",
        data={
            "csrf_token": token,
            "user_id": str(world.rep_id),
            "course_id": str(world.dsa_id),
            "progress": "",
            "certified_on": "2025-01-31",
            "certificate_no": "DSA-0100",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    page = client.get("/admin/courses?done=enrolled").text
    assert "DSA-0100" in page and "Quality system" in page and "Progress was recorded" in page
    bad = client.post(
        "/admin/enrollments",
        data={
            "csrf_token": token,
            "user_id": str(world.rep_id),
            "course_id": str(world.dsa_id),
            "progress": "150",
            "certified_on": "",
            "certificate_no": "",
        },
    )
    assert bad.status_code == 422 and 'data-testid="enrollment-error-progress"' in bad.text
    edit = client.get(f"/admin/courses?edit={world.dsa_id}").text
    assert "Edit course DSA" in edit
    archived = client.post(
        f"/admin/courses/{world.dsa_id}/archive", data={"csrf_token": token}, follow_redirects=False
    )
    assert archived.status_code == 303
    assert 'data-testid="course-archived"' in client.get("/admin/courses").text


def test_admins_see_and_move_requests_with_the_overdue_filter(client: TestClient, world: World) -> None:
    token = sign_in(client, "admin@example.com", "/admin/requests")
    html = client.get("/admin/requests").text
    assert "1 overdue" in html and "协和医院" in html and "瑞金医院" in html
    overdue = client.get("/admin/requests?overdue=1").text
    assert (
        f'data-id="{world.late_id}" data-overdue="1"' in overdue
        and f'data-id="{world.other_id}"' not in overdue
    )
    no_resolution = client.post(
        f"/admin/requests/{world.late_id}", data={"csrf_token": token, "status": "done", "resolution": ""}
    )
    assert no_resolution.status_code == 422 and 'data-testid="error-resolution"' in no_resolution.text
    done = client.post(
        f"/admin/requests/{world.late_id}",
        data={"csrf_token": token, "status": "done", "resolution": "Sent the data by e-mail"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    after = client.get("/admin/requests?done=changed").text
    assert "Sent the data by e-mail" in after and "overdue-count" not in after
    assert (
        client.post(
            f"/admin/requests/{world.late_id + 999}", data={"csrf_token": token, "status": "done"}
        ).status_code
        == 404
    )


def test_a_customer_cannot_use_the_admin_pages(client: TestClient, world: World) -> None:
    token = sign_in(client, "buyer@a.example", "/portal/requests")
    assert client.get("/admin/requests").status_code == 403
    assert client.get("/admin/courses").status_code == 403
    move = client.post(
        f"/admin/requests/{world.late_id}", data={"csrf_token": token, "status": "in_progress"}
    )
    assert move.status_code == 403


def test_admin_pages_in_chinese(client: TestClient, world: World, session: Session) -> None:
    admin = auth_service.get_user_by_email(session, "admin@example.com")
    assert admin is not None
    _locale(session, admin, "zh-CN")
    session.commit()
    sign_in(client, "admin@example.com", "/admin/requests")
    html = client.get("/admin/requests").text
    assert "客户数据申请" in html and "1 项逾期" in html and "查阅我的数据" in html
    assert "课程与证书" in client.get("/admin/courses").text
