"""CSV exports of the lists, on SQLite and PostgreSQL: the BOM, a localised header, the
same rows as the list across every page, the viewer's permissions, and only the
customer-visible and internal fields."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pathcast.crm import service as crm
from pathcast.schemas import ExportClass, fields_of_class
from pathcast.web import export
from tests import factories as f
from tests.web.test_lists import (
    CHINESE_DEAL,
    WEST_DEAL,
    WON_DEAL,
    ListWorld,
    client,
    list_world,
    names_in,
    next_link,
    with_english,
)
from tests.web.test_pages import log_in

__all__ = ["client", "list_world"]  # fixtures shared with the list tests

BOM = b"\xef\xbb\xbf"


def read_csv(body: bytes) -> list[list[str]]:
    assert body.startswith(BOM), body[:20]
    return list(csv.reader(io.StringIO(body[len(BOM) :].decode("utf-8"))))


def test_export_has_bom_localised_header_and_no_retained_fields(
    client: TestClient, list_world: ListWorld
) -> None:
    log_in(client, "boss@example.com")
    response = client.get("/opportunities/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="opportunities-')
    rows = read_csv(response.content)
    header = rows[0]
    assert header[:3] == ["编号", "名称", "客户"]
    assert "负责人姓名" in header and "金额" in header and "描述" in header  # internal fields are in
    for retained in ("来源系统", "外部编号", "created_at", "updated_at", "external_id"):
        assert retained not in header
    spec = crm.SPECS["opportunity"]
    retained_fields = fields_of_class(spec.read_schema, ExportClass.system_retained)
    assert {"created_at", "updated_at", "external_id", "external_source"} <= set(retained_fields)
    columns = export.export_columns(export.lists.OPPORTUNITIES)
    assert not {column.field for column in columns} & set(retained_fields)
    assert len(header) == len(columns)

    with_english(client)
    english = read_csv(client.get("/opportunities/export.csv").content)[0]
    assert english[:3] == ["ID", "Name", "Account"] and "Owner name" in english


def test_export_holds_the_lists_rows_across_pages_in_order(
    client: TestClient, list_world: ListWorld, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    contact = crm.SPECS["contact"]
    for number in range(30):
        crm.create_record(
            session,
            actor=f.SYSTEM,
            spec=contact,
            data={"account_id": list_world.hospital_id, "name": f"联系人 {number:02d}", "notes": "内部备注"},
        )
    session.commit()
    monkeypatch.setattr(export, "EXPORT_BATCH", 7)  # several cursor pages inside the export
    log_in(client)
    listed: list[str] = []
    url: str | None = "/contacts?q=联系人&sort=-name"
    first = client.get(url)
    export_url = re.search(r'href="(/contacts/export\.csv\?[^"]+)"', first.text)
    assert export_url
    while url:
        page = client.get(url)
        listed.extend(names_in(page.text))
        url = next_link(page.text)
    rows = read_csv(client.get(export_url.group(1).replace("&amp;", "&")).content)
    header, body = rows[0], rows[1:]
    name_at, account_at, notes_at = header.index("名称"), header.index("客户名称"), header.index("备注")
    assert [row[name_at] for row in body] == listed
    assert len(body) == 30
    assert {row[account_at] for row in body} == {"北京协和医院"}
    assert {row[notes_at] for row in body} == {"内部备注"}


def test_export_applies_filters_and_permissions(client: TestClient, list_world: ListWorld) -> None:
    log_in(client, "boss@example.com")
    everything = read_csv(client.get("/opportunities/export.csv").content)
    names = [row[1] for row in everything[1:]]
    assert sorted(names) == sorted([CHINESE_DEAL, WON_DEAL])
    assert WEST_DEAL not in names
    won = read_csv(client.get("/opportunities/export.csv", params={"status": "won"}).content)
    assert [row[1] for row in won[1:]] == [WON_DEAL]
    searched = read_csv(client.get("/accounts/export.csv", params={"q": "协和"}).content)
    assert [row[1] for row in searched[1:]] == ["北京协和医院"]
    activities = read_csv(client.get("/activities/export.csv", params={"overdue": "1"}).content)
    subject_at = activities[0].index("主题")
    assert [row[subject_at] for row in activities[1:]] == ["回访王主任"]
    assert "West follow-up" not in client.get("/activities/export.csv").content.decode("utf-8")

    client.cookies.clear()
    log_in(client, "west@example.com")
    west = read_csv(client.get("/opportunities/export.csv").content)
    assert [row[1] for row in west[1:]] == [WEST_DEAL]
    west_contacts = client.get("/contacts/export.csv").content.decode("utf-8")
    assert "West Contact" in west_contacts and "王主任" not in west_contacts


def test_export_refuses_bad_input_with_a_message_and_needs_the_right(
    client: TestClient, list_world: ListWorld
) -> None:
    log_in(client, "boss@example.com")
    bad = client.get("/opportunities/export.csv", params={"status": "maybe"})
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("text/html") and 'role="alert"' in bad.text
    assert client.get("/accounts/export.csv", params={"sort": "password_hash"}).status_code == 400
    client.cookies.clear()
    log_in(client, "member@example.com")
    assert client.get("/opportunities/export.csv").status_code == 403
    assert client.get("/accounts/export.csv").status_code == 200
    client.cookies.clear()
    assert client.get("/accounts/export.csv", follow_redirects=False).status_code == 303


def test_cells_defuse_spreadsheet_formulas() -> None:
    assert export.cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert export.cell("@SUM(A1)") == "'@SUM(A1)"
    assert export.cell("协和") == "协和"
    assert export.cell(None) == ""
