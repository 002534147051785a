"""Competitor matrix through the real application on SQLite and PostgreSQL: the matrix page
(editors edit, reps read, outsiders 403), its forms (add, edit, delete, CSV import, add
competitor; refused input comes back 422 with values kept), the signal page's matrix panel,
and the API (rows, upsert, delete, import, exports, a signal's rows, refusals)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pypdf import PdfReader
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth import service as auth_service
from pathcast.auth.models import Role
from pathcast.db import utcnow
from pathcast.radar import models as m
from pathcast.radar.service import matrix as service
from pathcast.radar.service import settings, signals, sources
from pathcast.radar.sources import content_hash
from pathcast.radar.toolbox import matrix_export
from tests import factories as f
from tests.web.test_pages import log_in

ADMIN = f.SYSTEM
API = "/api/v1/radar"
DEAD_URL = "http://127.0.0.1:9/feed.xml"


@dataclass
class MatrixWorld:
    siemens: int
    inovance: int
    row_id: int
    named_id: int
    unmatched_id: int
    plain_id: int
    west_id: int
    tokens: dict[str, dict[str, str]]


def _item(session: Session, source_id: int, key: str, text: str) -> int:
    item = m.Item(
        source_id=source_id,
        external_id=key,
        url=f"https://forum.example.com/t/{key}",
        title=f"帖子 {key}",
        text=text,
        lang="zh",
        content_hash=content_hash(key, text),
        published_at=utcnow(),
        fetched_at=utcnow(),
        extra={},
    )
    session.add(item)
    session.flush()
    return item.id


@pytest.fixture
def world(configured: str, session: Session) -> MatrixWorld:
    """East: a rep (Chinese UI) owning a manufacturer, a manager (English UI); West: a rep;
    a member and a customer contact; Siemens with two rows, Inovance with none."""
    east, west = f.team(session, "East"), f.team(session, "West")
    rep = f.user(session, "rep@example.com", team_obj=east)
    manager = f.user(session, "manager@example.com", role=Role.manager, team_obj=east)
    auth_service.update_user(session, actor=ADMIN, user=manager, changes={"locale": "en"})
    west_rep = f.user(session, "west@example.com", team_obj=west)
    member = f.user(session, "member@example.com", role=Role.member)
    maker = f.account(session, name="恒泰精密制造有限公司", industry="制造业", owner_id=rep.id)
    customer = f.user(session, "buyer@example.com", role=Role.customer_contact, account_id=maker.id)
    f.account(session, name="西岭电子有限公司", industry="制造业", owner_id=west_rep.id)
    siemens = settings.save_competitor(
        session, actor=ADMIN, name="西门子", aliases=["Siemens"], products=["S7-1500"]
    )
    inovance = settings.save_competitor(session, actor=ADMIN, name="汇川技术", aliases=["Inovance"])
    row = service.set_row(
        session,
        ADMIN,
        competitor_id=siemens.id,
        product="S7-1500",
        criterion="交付周期",
        ours="2 周",
        theirs="8 周",
        advantage="ours",
        note="<缺货> & 涨价",
    )
    service.set_row(
        session,
        ADMIN,
        competitor_id=siemens.id,
        product="PLC 控制器",
        criterion="口碑",
        ours="案例 200 家",
        theirs="装机量最大",
        advantage="theirs",
    )
    forum = sources.create_source(session, actor=ADMIN, name="工控论坛", kind="rss", config={"url": DEAD_URL})
    named = _item(session, forum.id, "1", "恒泰精密：S7-1500 交付延迟了两周，比西门子差多了")
    unmatched = _item(session, forum.id, "2", "恒泰精密：汇川技术的伺服交付太慢")
    plain = _item(session, forum.id, "3", "恒泰精密：交付延迟了两周，我们非常不满意")
    west_item = _item(session, forum.id, "4", "西岭电子：西门子交付延迟了两周")
    signals.analyse_items(session, actor=ADMIN, item_ids=[named, unmatched, plain, west_item])
    tokens: dict[str, dict[str, str]] = {}
    for key, person in (("rep", rep), ("manager", manager), ("member", member), ("customer", customer)):
        _, secret = auth_service.create_token(session, actor=ADMIN, user=person)
        tokens[key] = {"Authorization": f"Bearer {secret}"}
    found = MatrixWorld(siemens.id, inovance.id, row.id, named, unmatched, plain, west_item, tokens)
    session.commit()
    return found


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def sign_in(client: TestClient, email: str) -> str:
    client.cookies.clear()
    return log_in(client, email)


def matrix_rows(html: str) -> list[str]:
    return re.findall(r'data-testid="matrix-row" data-id="(\d+)"', html)


# --- the matrix page --------------------------------------------------------------------------


def test_editors_edit_reps_read_outsiders_are_refused(client: TestClient, world: MatrixWorld) -> None:
    sign_in(client, "manager@example.com")
    page = client.get("/radar/matrix")
    assert page.status_code == 200
    assert "Competitor matrix" in page.text and "西门子" in page.text and "汇川技术" in page.text
    assert f'name="row_id" value="{world.row_id}"' in page.text
    assert 'data-testid="add-row-form"' in page.text and 'data-testid="matrix-import"' in page.text
    assert f"competitor_id={world.siemens}&amp;format=pdf" in page.text
    assert "&lt;缺货&gt; &amp; 涨价" in page.text and "<缺货>" not in page.text

    sign_in(client, "rep@example.com")
    read = client.get("/radar/matrix")
    assert read.status_code == 200
    assert "竞品对比矩阵" in read.text and 'data-testid="matrix-readonly"' in read.text
    assert 'data-advantage="ours"' in read.text and "我方占优" in read.text
    assert "/radar/matrix/rows" not in read.text and 'name="csv"' not in read.text
    assert len(matrix_rows(read.text)) == 2

    for outsider in ("member@example.com", "buyer@example.com"):
        sign_in(client, outsider)
        assert client.get("/radar/matrix").status_code == 403
        assert client.get(f"/radar/signals/{world.named_id}/matrix-panel").status_code == 403


def test_add_edit_delete_rows(client: TestClient, world: MatrixWorld, session: Session) -> None:
    token = sign_in(client, "manager@example.com")
    added = client.post(
        "/radar/matrix/rows",
        data={
            "csrf_token": token,
            "competitor_id": world.inovance,
            "product": "伺服",
            "criterion": "价格",
            "ours": "持平",
            "theirs": "持平",
            "advantage": "even",
            "note": "",
        },
        follow_redirects=False,
    )
    assert (
        added.status_code == 303 and added.headers["location"] == f"/radar/matrix#competitor-{world.inovance}"
    )
    assert [r.product for r in service.list_rows(session, ADMIN, competitor_id=world.inovance)] == ["伺服"]
    session.commit()

    bad = client.post(
        "/radar/matrix/rows",
        data={
            "csrf_token": token,
            "competitor_id": world.inovance,
            "product": "",
            "criterion": "质保",
            "ours": "三年保修",
            "theirs": "",
            "advantage": "better",
        },
    )
    assert bad.status_code == 422
    assert re.search(r'data-testid="field-error" data-field="product"', bad.text)
    assert re.search(r'data-testid="field-error" data-field="advantage"', bad.text)
    assert "三年保修" in bad.text and 'value="质保"' in bad.text  # typed values kept

    edited = client.post(
        "/radar/matrix/rows",
        data={
            "csrf_token": token,
            "competitor_id": world.siemens,
            "row_id": world.row_id,
            "product": "S7-1500",
            "criterion": "交期",
            "ours": "10 天",
            "theirs": "8 周",
            "advantage": "ours",
            "note": "",
        },
        follow_redirects=False,
    )
    assert edited.status_code == 303
    assert "10 天" in client.get("/radar/matrix").text

    deleted = client.post(
        f"/radar/matrix/rows/{world.row_id}/delete", data={"csrf_token": token}, follow_redirects=False
    )
    assert deleted.status_code == 303
    assert str(world.row_id) not in matrix_rows(client.get("/radar/matrix").text)
    forged = client.post("/radar/matrix/rows", data={"csrf_token": "nope", "competitor_id": world.siemens})
    assert forged.status_code == 403

    rep_token = sign_in(client, "rep@example.com")
    refused = client.post(
        "/radar/matrix/rows",
        data={"csrf_token": rep_token, "competitor_id": world.siemens, "product": "x", "criterion": "y"},
    )
    assert refused.status_code == 403


def test_csv_import_keeps_good_rows_and_lists_bad_ones(client: TestClient, world: MatrixWorld) -> None:
    token = sign_in(client, "manager@example.com")
    text = "竞品,产品,维度,我方,对方,优势\n汇川技术,伺服,质保,3 年,2 年,我方\n博世,PLC,价格,,,\n西门子,,价格,,,\n"
    answer = client.post("/radar/matrix/import", data={"csrf_token": token, "csv": text})
    assert answer.status_code == 422
    assert 'data-testid="import-report"' in answer.text and "1 added" in answer.text
    assert 'data-row="3" data-field="competitor"' in answer.text and "博世" in answer.text
    assert 'data-row="4" data-field="product"' in answer.text
    assert "博世,PLC,价格" in answer.text  # the pasted text is kept
    assert "3 年" in client.get("/radar/matrix").text

    upload = client.post(
        "/radar/matrix/import",
        data={"csrf_token": token},
        files={
            "file": (
                "matrix.csv",
                "competitor,product,criterion,ours\nInovance,伺服,交期,2 周\n".encode("gb18030"),
                "text/csv",
            )
        },
    )
    assert upload.status_code == 200 and "1 added" in upload.text


def test_add_competitor_form(client: TestClient, world: MatrixWorld) -> None:
    token = sign_in(client, "manager@example.com")
    added = client.post(
        "/radar/matrix/competitors",
        data={
            "csrf_token": token,
            "name": "迈瑞医疗",
            "aliases": "Mindray，迈瑞",
            "products": "Resona, DC-80",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303
    page = client.get("/radar/matrix").text
    assert "迈瑞医疗" in page and "Mindray, 迈瑞" in page and "Resona, DC-80" in page
    again = client.post(
        "/radar/matrix/competitors", data={"csrf_token": token, "name": "迈瑞医疗", "aliases": "x"}
    )
    assert again.status_code == 422 and "already exists" in again.text and 'value="x"' in again.text
    empty = client.post("/radar/matrix/competitors", data={"csrf_token": token, "name": " "})
    assert empty.status_code == 422 and 'data-field="name"' in empty.text


# --- the signal page's panel ------------------------------------------------------------------


def test_panel_shows_rows_badges_and_exports(client: TestClient, world: MatrixWorld) -> None:
    sign_in(client, "rep@example.com")
    signal_page = client.get(f"/radar/signals/{world.named_id}")
    assert f'hx-get="/radar/signals/{world.named_id}/matrix-panel"' in signal_page.text
    panel = client.get(f"/radar/signals/{world.named_id}/matrix-panel")
    assert panel.status_code == 200
    assert panel.text.lstrip().startswith("<section") and 'id="radar-matrix-panel"' in panel.text
    assert panel.text.count('data-testid="matrix-panel-row"') == 1  # narrowed to S7-1500
    assert "我方占优" in panel.text and "已按文中提到的产品筛选" in panel.text
    assert "对方产品: S7-1500" in panel.text
    assert f"/api/v1/radar/signals/{world.named_id}/matrix?format=pdf&amp;lang=zh" in panel.text
    assert "format=png" in panel.text and "format=svg" in panel.text and "format=csv" in panel.text

    sign_in(client, "manager@example.com")
    english = client.get(f"/radar/signals/{world.named_id}/matrix-panel")
    assert "We lead" in english.text and "lang=en" in english.text


def test_panel_empty_states_and_scoping(client: TestClient, world: MatrixWorld) -> None:
    sign_in(client, "rep@example.com")
    none = client.get(f"/radar/signals/{world.plain_id}/matrix-panel")
    assert 'data-testid="matrix-no-competitor"' in none.text and "该信号没有提到竞品" in none.text
    no_rows = client.get(f"/radar/signals/{world.unmatched_id}/matrix-panel")
    assert 'data-testid="no-matrix"' in no_rows.text and "汇川技术" in no_rows.text
    assert 'href="/radar/matrix"' not in no_rows.text  # reps cannot edit
    assert client.get(f"/radar/signals/{world.west_id}/matrix-panel").status_code == 404
    sign_in(client, "manager@example.com")
    editor = client.get(f"/radar/signals/{world.unmatched_id}/matrix-panel")
    assert 'href="/radar/matrix"' in editor.text and "Edit the competitor matrix" in editor.text


# --- the API ----------------------------------------------------------------------------------


def test_api_rows_upsert_delete_and_refusals(client: TestClient, world: MatrixWorld) -> None:
    rep, manager = world.tokens["rep"], world.tokens["manager"]
    listed = client.get(f"{API}/matrix", headers=rep)
    assert listed.status_code == 200 and {r["competitor"] for r in listed.json()} == {"西门子"}
    only = client.get(f"{API}/matrix", params={"competitor_id": world.inovance}, headers=rep)
    assert only.json() == []
    body = {
        "competitor_id": world.inovance,
        "product": "伺服",
        "criterion": "价格",
        "ours": "持平",
        "theirs": "持平",
        "advantage": "even",
    }
    put = client.put(f"{API}/matrix", json=body, headers=manager)
    assert put.status_code == 200 and put.json()["competitor"] == "汇川技术"
    refused = client.put(f"{API}/matrix", json=body, headers=rep)
    assert refused.status_code == 403 and refused.headers["content-type"].startswith(
        "application/problem+json"
    )
    bad = client.put(f"{API}/matrix", json={**body, "advantage": "maybe", "product": ""}, headers=manager)
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} >= {"advantage", "product"}
    unknown = client.put(f"{API}/matrix", json={**body, "competitor_id": 999}, headers=manager)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "competitor_id"
    assert client.delete(f"{API}/matrix/{put.json()['id']}", headers=rep).status_code == 403
    assert client.delete(f"{API}/matrix/{put.json()['id']}", headers=manager).status_code == 204
    assert client.delete(f"{API}/matrix/{put.json()['id']}", headers=manager).status_code == 404
    for outsider in ("member", "customer"):
        assert client.get(f"{API}/matrix", headers=world.tokens[outsider]).status_code == 403


def test_api_import_csv_and_json(client: TestClient, world: MatrixWorld) -> None:
    manager = world.tokens["manager"]
    text = "竞品,产品,维度,我方\n汇川技术,伺服,价格,持平\n博世,PLC,价格,x\n"
    as_csv = client.post(
        f"{API}/matrix/import", content=text.encode(), headers={**manager, "Content-Type": "text/csv"}
    )
    assert as_csv.status_code == 200
    report = as_csv.json()
    assert (
        report["created"] == 1
        and report["errors"][0]["row"] == 3
        and report["errors"][0]["field"] == "competitor"
    )
    assert "博世" in report["errors"][0]["detail"]
    as_json = client.post(f"{API}/matrix/import", json={"csv": text}, headers=manager)
    assert as_json.status_code == 200 and as_json.json()["unchanged"] == 1
    broken = client.post(
        f"{API}/matrix/import", content=b"{not json", headers={**manager, "Content-Type": "application/json"}
    )
    assert broken.status_code == 422
    assert (
        client.post(f"{API}/matrix/import", json={"csv": text}, headers=world.tokens["rep"]).status_code
        == 403
    )


def test_api_exports(client: TestClient, world: MatrixWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    rep = world.tokens["rep"]
    pdf = client.get(
        f"{API}/matrix/export", params={"format": "pdf", "competitor_id": world.siemens}, headers=rep
    )
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.content))
    assert len(reader.pages) == 1 and "竞品对比" in (reader.metadata.title or "")
    svg = client.get(f"{API}/matrix/export", params={"format": "svg", "lang": "en"}, headers=rep)
    assert svg.headers["content-type"].startswith("image/svg+xml") and "Competitor comparison" in svg.text
    csv_text = client.get(f"{API}/matrix/export", params={"format": "csv"}, headers=rep).content.decode(
        "utf-8-sig"
    )
    assert csv_text.startswith("competitor,product") and "S7-1500" in csv_text
    html = client.get(f"{API}/matrix/export", params={"format": "html"}, headers=rep)
    assert "&lt;缺货&gt;" in html.text
    assert client.get(f"{API}/matrix/export", params={"format": "docx"}, headers=rep).status_code == 422

    monkeypatch.setattr(matrix_export, "find_cjk_font", lambda font_path=None: None)
    png = client.get(f"{API}/matrix/export", params={"format": "png"}, headers=rep)
    assert png.status_code == 503
    problem = png.json()
    assert problem["code"] == "radar_matrix_no_cjk_font" and "fonts-wqy-microhei" in problem["detail"]


def test_api_png_with_a_font(client: TestClient, world: MatrixWorld) -> None:
    if matrix_export.find_cjk_font() is None:
        pytest.skip(
            "no CJK font installed (apt-get install fonts-wqy-microhei); the 503 path is tested above"
        )
    png = client.get(f"{API}/matrix/export", params={"format": "png"}, headers=world.tokens["rep"])
    assert png.status_code == 200 and Image.open(io.BytesIO(png.content)).format == "PNG"


def test_api_signal_matrix(client: TestClient, world: MatrixWorld) -> None:
    rep = world.tokens["rep"]
    found = client.get(f"{API}/signals/{world.named_id}/matrix", headers=rep)
    assert found.status_code == 200
    data = found.json()
    assert data["competitors"] == ["西门子"] and data["products"] == ["S7-1500"] and data["narrowed"]
    assert [r["criterion"] for r in data["rows"]] == ["交付周期"]
    pdf = client.get(f"{API}/signals/{world.named_id}/matrix", params={"format": "pdf"}, headers=rep)
    assert pdf.status_code == 200 and len(PdfReader(io.BytesIO(pdf.content)).pages) == 1
    assert 'filename="signal-' in pdf.headers["content-disposition"]
    svg = client.get(f"{API}/signals/{world.named_id}/matrix", params={"format": "svg"}, headers=rep)
    assert svg.status_code == 200 and "S7-1500" in svg.text
    assert client.get(f"{API}/signals/{world.west_id}/matrix", headers=rep).status_code == 404
    assert (
        client.get(f"{API}/signals/{world.named_id}/matrix", headers=world.tokens["member"]).status_code
        == 403
    )

    # the page's export links work with the session cookie too
    sign_in(client, "rep@example.com")
    assert client.get(f"{API}/signals/{world.named_id}/matrix?format=csv&lang=zh").status_code == 200
