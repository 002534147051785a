"""CSV import of interactions: aliases, encodings, spreadsheet row numbers, one error per bad row."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pathcast.signals.connectors.base import ConnectorError, MessageDraft, PayloadInvalid
from pathcast.signals.connectors.interactions_csv import read_interactions

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _by_row(
    items: list[tuple[int, MessageDraft | ConnectorError]],
) -> dict[int, MessageDraft | ConnectorError]:
    return dict(items)


def test_mixed_file_yields_good_rows_and_one_error_per_bad_row(fixtures: Path) -> None:
    rows = _by_row(list(read_interactions(fixtures / "interactions_mixed.csv")))
    # Row 6 is blank and skipped; row 3 spans two lines of the file but is one spreadsheet row.
    assert sorted(rows) == [2, 3, 4, 5, 7, 8, 9]

    call = rows[2]
    assert isinstance(call, MessageDraft)
    assert call.channel == "csv"
    assert call.idempotency_key == "CALL-1001"
    assert call.sent_at == datetime(2026, 11, 3, 14, 5, tzinfo=UTC)
    assert call.kind_hint == "call"
    assert call.contact_hint == "wang.zr@hospital.example.cn"
    assert call.sender == "wang.zr@hospital.example.cn"
    assert call.sender_name == "王主任"
    assert call.account_hint == "华东医院"
    assert call.opportunity_hint == "DSA 采购 2027"
    assert call.subject == "回电"
    assert call.body == "要报价, 下周给"
    assert call.duration_minutes == 15
    assert call.direction == "inbound"
    assert call.extra == {"contact_name": "王主任", "columns": {"Source": "呼叫中心"}}

    visit = rows[3]
    assert isinstance(visit, MessageDraft)
    assert visit.kind_hint == "meeting"
    assert visit.body == "现场演示\n导管室参观"
    assert visit.duration_minutes == 90
    assert visit.direction == "outbound"
    assert visit.contact_hint == "李护士长"
    assert visit.sender is None
    assert visit.idempotency_key.startswith("sha256:")

    errors = {row: item for row, item in rows.items() if isinstance(item, PayloadInvalid)}
    assert {row: error.field for row, error in errors.items()} == {
        4: "occurred_at",
        5: "kind",
        7: "contact_email",
        8: "duration_minutes",
    }
    assert errors[4].message.startswith("row 4, column Occurred At:")
    assert "row 5, column Kind" in errors[5].message

    chat = rows[9]
    assert isinstance(chat, MessageDraft)
    assert chat.kind_hint == "message"  # 微信
    assert chat.direction == "inbound"  # "in"


def test_gbk_file_with_chinese_headers_and_separate_date_and_time(fixtures: Path) -> None:
    raw = (fixtures / "interactions_gbk.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    items = list(read_interactions(fixtures / "interactions_gbk.csv", default_tz=SHANGHAI))
    assert [row for row, _ in items] == [2, 3, 4]
    call, visit, meeting = (item for _, item in items)
    assert isinstance(call, MessageDraft)
    assert isinstance(visit, MessageDraft)
    assert isinstance(meeting, MessageDraft)

    assert call.sent_at == datetime(2026, 11, 3, 6, 5, tzinfo=UTC)  # 14:05 in Shanghai
    assert call.kind_hint == "call"
    assert call.body == "朱镕基医院喆科室要报价"
    assert call.contact_hint == "wang.zr@hospital.example.cn"
    assert call.account_hint == "华东医院"
    assert call.duration_minutes == 12
    assert call.direction == "inbound"  # 呼入
    assert call.extra["columns"] == {"备用电话": "13800000000"}

    assert visit.sent_at == datetime(2026, 11, 4, 1, 30, tzinfo=UTC)  # 2026年11月4日 9:30
    assert visit.kind_hint == "meeting"  # 拜访
    assert visit.duration_minutes == 45  # "45分钟"
    assert visit.direction == "outbound"  # 去电

    assert meeting.extra["date_only"] is True
    assert meeting.sent_at == datetime(2026, 11, 4, 16, 0, tzinfo=UTC)


def test_same_rows_give_the_same_keys_in_any_encoding_or_column_order() -> None:
    text = "occurred_at,kind,contact,body\n2026-11-03 14:05,call,王主任,要报价\n"
    reordered = "body,contact,kind,occurred_at\n要报价,王主任,call,2026-11-03 14:05\n"
    keys = [
        next(read_interactions(text))[1],
        next(read_interactions(text.encode("gb18030")))[1],
        next(read_interactions(("\ufeff" + reordered).encode()))[1],
    ]
    assert all(isinstance(key, MessageDraft) for key in keys)
    assert len({key.idempotency_key for key in keys if isinstance(key, MessageDraft)}) == 1


def test_header_without_a_date_column_is_one_error_at_row_1() -> None:
    items = list(read_interactions("contact,body\n王主任,要报价\n"))
    assert len(items) == 1
    row, error = items[0]
    assert row == 1
    assert isinstance(error, PayloadInvalid)
    assert error.field == "occurred_at"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-03", datetime(2026, 11, 3, tzinfo=UTC)),
        ("2026-11-03T14:05:00+08:00", datetime(2026, 11, 3, 6, 5, tzinfo=UTC)),
        ("2026-11-03T06:05:00Z", datetime(2026, 11, 3, 6, 5, tzinfo=UTC)),
        ("2026/11/3 14:05", datetime(2026, 11, 3, 14, 5, tzinfo=UTC)),
        ("2026.11.03", datetime(2026, 11, 3, tzinfo=UTC)),
        ("2026年11月3日 14:05:30", datetime(2026, 11, 3, 14, 5, 30, tzinfo=UTC)),
    ],
)
def test_accepted_date_formats(value: str, expected: datetime) -> None:
    [(_, draft)] = list(read_interactions(f"occurred_at,body\n{value},x\n"))
    assert isinstance(draft, MessageDraft)
    assert draft.sent_at == expected


@pytest.mark.parametrize("value", ["", "2026-13-01", "2026/2/30", "tomorrow", "03/11/2026"])
def test_refused_dates(value: str) -> None:
    [(row, error)] = list(read_interactions(f"occurred_at,body\n{value},x\n"))
    assert row == 2
    assert isinstance(error, PayloadInvalid)
    assert error.field == "occurred_at"


def test_tab_and_semicolon_separated_exports() -> None:
    for delimiter in ("\t", ";"):
        text = (
            delimiter.join(["时间", "类型", "内容"])
            + "\n"
            + delimiter.join(["2026-11-03 14:05", "会议", "周会"])
            + "\n"
        )
        [(_, draft)] = list(read_interactions(text))
        assert isinstance(draft, MessageDraft)
        assert draft.kind_hint == "meeting"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("duration_minutes", "1441"),
        ("duration_minutes", "-5"),
        ("direction", "sideways"),
        ("external_id", "x" * 201),
    ],
)
def test_bad_values_name_the_column(column: str, value: str) -> None:
    [(_, error)] = list(read_interactions(f"occurred_at,{column}\n2026-11-03,{value}\n"))
    assert isinstance(error, PayloadInvalid)
    assert error.field == column


def test_explicit_encoding_and_undecodable_file(tmp_path: Path) -> None:
    path = tmp_path / "big5.csv"
    path.write_bytes("時間,內容\n2026-11-03,報價\n".encode("big5"))
    [(_, draft)] = list(read_interactions(path, encoding="big5"))
    assert isinstance(draft, MessageDraft)
    assert draft.body == "報價"
    with pytest.raises(PayloadInvalid):
        list(read_interactions(b"\x81\x30\xff\xfe,\n"))


def test_empty_file_yields_nothing() -> None:
    assert list(read_interactions(b"")) == []


def test_an_oversized_cell_stops_with_an_error_after_the_good_rows() -> None:
    text = f'occurred_at,body\n2026-11-03,ok\n2026-11-04,"{"长" * 200_000}"\n2026-11-05,after\n'
    items = list(read_interactions(text))
    assert isinstance(items[0][1], MessageDraft)
    row, error = items[-1]
    assert row == 3
    assert isinstance(error, PayloadInvalid)
    assert error.field == "row"
