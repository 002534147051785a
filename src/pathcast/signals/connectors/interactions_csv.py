"""Import interactions (calls, visits, mails, notes) from a CSV exported by a spreadsheet.

Columns are matched case-insensitively, in English or Chinese; unknown columns are kept
in ``extra["columns"]``:

=====================  ==========================================================
column                 also accepted as
=====================  ==========================================================
``occurred_at``        date, time, datetime, 时间, 日期, 日期时间, 发生时间 (required)
``kind``               type, 类型: call|email|meeting|note|message, or 电话, 邮件,
                       会议, 拜访, 备注, 消息, 微信… (empty: note)
``contact_email``      email, 邮箱, 电子邮件, 联系人邮箱
``contact``            contact_name, name, 联系人, 姓名
``account``            company, customer, 客户, 公司, 客户名称
``opportunity``        deal, 商机
``subject``            title, 主题, 标题
``body``               content, notes, 内容, 备注, 纪要, 记录
``duration_minutes``   duration, minutes, 时长, 时长(分钟): ``15``, ``15分钟``, ``1:30``
``direction``          方向: inbound|outbound, in|out, 呼入|呼出, 来电|去电
``external_id``        id, 编号, 外部编号
=====================  ==========================================================

Traditional-Chinese spellings (時間, 內容, 客戶…) are accepted as well.

``occurred_at`` accepts ISO dates and date-times (``2026-11-03``, ``2026-11-03T14:05+08:00``),
``2026/11/3 14:05``, ``2026.11.3`` and ``2026年11月3日 14:05``. A time without an offset is
in ``default_tz`` (UTC unless the caller passes the team's zone); a date alone means its
midnight and sets ``extra["date_only"]``. Separate date and time columns (日期 + 时间) are
combined.

The file is read as UTF-8 (with or without BOM), else GB18030 (what Excel saves as "CSV"
on a Chinese Windows), unless ``encoding`` is given. Rows are numbered as the spreadsheet
shows them: the header is row 1. A bad row yields PayloadInvalid naming its row and
column; the others are still read. The idempotency key is ``external_id`` when there is
one, else the sha256 of the row's normalised values, so importing the same file twice
(even re-saved in another encoding or column order) stores nothing new.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from pathcast.signals.connectors.base import (
    IDEMPOTENCY_KEY_MAX,
    ConnectorError,
    MessageDraft,
    PayloadInvalid,
    content_key,
)

_ALIASES: dict[str, tuple[str, ...]] = {
    "occurred_at": ("occurred_at", "occurred", "datetime", "date_time", "日期时间", "发生时间", "时间日期"),
    "date": ("date", "日期"),
    "time": ("time", "时间", "時間"),
    "kind": ("kind", "type", "类型", "類型", "方式"),
    "contact_email": (
        "contact_email",
        "email",
        "e_mail",
        "mail",
        "邮箱",
        "电子邮件",
        "联系人邮箱",
        "邮件地址",
    ),
    "contact": ("contact", "contact_name", "name", "联系人", "聯絡人", "姓名", "联系人姓名"),
    "account": (
        "account",
        "company",
        "customer",
        "account_name",
        "客户",
        "客戶",
        "公司",
        "客户名称",
        "公司名称",
    ),
    "opportunity": ("opportunity", "deal", "商机", "商機", "商机名称"),
    "subject": ("subject", "title", "主题", "主題", "标题", "標題"),
    "body": ("body", "content", "notes", "note", "text", "内容", "內容", "备注", "備註", "纪要", "记录"),
    "duration_minutes": ("duration_minutes", "duration", "minutes", "时长", "時長", "时长_分钟", "通话时长"),
    "direction": ("direction", "方向", "呼叫方向"),
    "external_id": ("external_id", "id", "编号", "外部编号", "记录编号"),
}
_COLUMN_OF = {alias: column for column, aliases in _ALIASES.items() for alias in aliases}

_KINDS = {
    "call": ("call", "phone", "电话", "通话", "来电", "去电"),
    "email": ("email", "e-mail", "mail", "邮件", "电子邮件"),
    "meeting": ("meeting", "visit", "会议", "会面", "拜访", "面谈", "见面"),
    "note": ("note", "备注", "笔记", "记录"),
    "message": ("message", "chat", "sms", "im", "消息", "微信", "企业微信", "钉钉", "短信"),
}
_KIND_OF = {alias: kind for kind, aliases in _KINDS.items() for alias in aliases}
_DIRECTIONS = {
    "inbound": ("inbound", "in", "incoming", "呼入", "来电", "收到", "对方发起"),
    "outbound": ("outbound", "out", "outgoing", "呼出", "去电", "发出", "我方发起"),
}
_DIRECTION_OF = {alias: direction for direction, aliases in _DIRECTIONS.items() for alias in aliases}

_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:分钟|分|min|mins|minutes|m)?", re.IGNORECASE)
_CLOCK_RE = re.compile(r"(\d{1,2}):(\d{2})")
# 2026/11/3, 2026.11.3, 2026年11月3日 (optionally followed by a time) → ISO.
_LOOSE_DATE_RE = re.compile(
    r"(\d{4})\s*[/.年-]\s*(\d{1,2})\s*[/.月-]\s*(\d{1,2})\s*日?(?:[ T]+(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?)?"
)

MAX_DURATION_MINUTES = 24 * 60


def _header_key(name: str) -> str:
    cleaned = name.strip().lstrip("\ufeff").lower()
    cleaned = re.sub(r"[（(]\s*(分钟|minutes|min)\s*[)）]", "_分钟", cleaned)
    return re.sub(r"[\s\-]+", "_", cleaned)


def _decode(data: bytes, encoding: str | None) -> str:
    if encoding:
        return data.decode(encoding)
    for candidate in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(candidate)
        except UnicodeDecodeError:
            continue
    raise PayloadInvalid("the file is neither UTF-8 nor GB18030 text; pass its encoding", field="encoding")


def _read_text(source: str | Path | bytes, encoding: str | None) -> str:
    if isinstance(source, bytes):
        return _decode(source, encoding)
    if isinstance(source, Path) or "\n" not in source:
        return _decode(Path(source).read_bytes(), encoding)
    return source


def _dialect(first_line: str) -> str:
    # Excel writes ";" in some locales and "CSV" exports are sometimes tab-separated.
    counts = {delimiter: first_line.count(delimiter) for delimiter in (",", "\t", ";")}
    return max(counts, key=lambda delimiter: counts[delimiter]) if any(counts.values()) else ","


def read_interactions(
    path_or_text: str | Path | bytes,
    *,
    encoding: str | None = None,
    default_tz: tzinfo = UTC,
) -> Iterator[tuple[int, MessageDraft | ConnectorError]]:
    """Read interactions: ``(spreadsheet row number, draft or the error for that row)``.

    ``path_or_text``: a path, the file's bytes, or CSV text (a ``str`` with a line break).
    ``default_tz``: the zone of times written without an offset.
    """
    text = _read_text(path_or_text, encoding)
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_dialect(first_line))
    header = next(reader, None)
    if header is None:
        return
    columns: dict[str, int] = {}
    others: dict[str, int] = {}
    for index, name in enumerate(header):
        column = _COLUMN_OF.get(_header_key(name))
        if column is not None and column not in columns:
            columns[column] = index
        elif name.strip():
            others[name.strip().lstrip("\ufeff")] = index
    if not {"occurred_at", "date", "time"} & columns.keys():
        yield 1, PayloadInvalid("row 1 (header): no occurred_at column (or 时间/日期)", field="occurred_at")
        return

    row_number = 1
    while True:
        row_number += 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            # A cell over the csv module's size limit or a broken quote: the reader cannot
            # resynchronise, so this row and the rest are reported as one error.
            yield row_number, PayloadInvalid(f"row {row_number}: unreadable CSV ({error})", field="row")
            return
        if not any(cell.strip() for cell in cells):
            continue  # blank lines between blocks are common in hand-made sheets
        values = {column: _cell(cells, index) for column, index in columns.items()}
        extra_columns = {name: _cell(cells, index) for name, index in others.items() if _cell(cells, index)}
        try:
            yield row_number, _draft(row_number, values, extra_columns, header, columns, default_tz)
        except PayloadInvalid as error:
            yield row_number, error


def _cell(cells: list[str], index: int) -> str:
    return cells[index].strip() if index < len(cells) else ""


def _draft(
    row: int,
    values: Mapping[str, str],
    extra_columns: Mapping[str, str],
    header: list[str],
    columns: Mapping[str, int],
    default_tz: tzinfo,
) -> MessageDraft:
    def fail(column: str, reason: str) -> PayloadInvalid:
        shown = header[columns[column]].strip().lstrip("\ufeff") if column in columns else column
        return PayloadInvalid(f"row {row}, column {shown}: {reason}", field=column)

    occurred_column, occurred_text = _occurred_text(values)
    if not occurred_text:
        raise fail(occurred_column, "a date is required")
    parsed = _parse_moment(occurred_text, default_tz)
    if parsed is None:
        raise fail(occurred_column, f"not a date or date-time: {occurred_text!r}")
    occurred_at, date_only = parsed

    kind_text = values.get("kind", "")
    kind = _KIND_OF.get(kind_text.lower()) if kind_text else "note"
    if kind is None:
        raise fail("kind", f"{kind_text!r} is not one of call, email, meeting, note, message")

    direction_text = values.get("direction", "")
    direction = _DIRECTION_OF.get(direction_text.lower()) if direction_text else "inbound"
    if direction is None:
        raise fail("direction", f"{direction_text!r} is not inbound or outbound")

    email = values.get("contact_email", "").lower() or None
    if email is not None and not _EMAIL_RE.fullmatch(email):
        raise fail("contact_email", f"{email!r} is not an e-mail address")

    duration = None
    if values.get("duration_minutes"):
        duration = _parse_duration(values["duration_minutes"])
        if duration is None:
            raise fail(
                "duration_minutes", f"{values['duration_minutes']!r} is not a number of minutes (0-1440)"
            )

    external_id = values.get("external_id") or None
    if external_id is not None and len(external_id) > IDEMPOTENCY_KEY_MAX:
        raise fail("external_id", f"longer than {IDEMPOTENCY_KEY_MAX} characters")

    contact = email or values.get("contact") or None
    body = values.get("body", "")
    subject = values.get("subject") or None
    normalised = {
        "occurred_at": occurred_at.isoformat(),
        "kind": kind,
        "direction": direction,
        "contact": contact,
        "account": values.get("account") or None,
        "opportunity": values.get("opportunity") or None,
        "subject": subject,
        "body": body,
        "duration_minutes": duration,
    }
    extra: dict[str, Any] = {}
    if date_only:
        extra["date_only"] = True
    if values.get("contact") and email:
        extra["contact_name"] = values["contact"]
    if extra_columns:
        extra["columns"] = dict(extra_columns)

    return MessageDraft(
        channel="csv",
        idempotency_key=external_id or content_key(json.dumps(normalised, sort_keys=True).encode()),
        sent_at=occurred_at,
        body=body,
        # The contact wrote or received it; our side is the importing user.
        sender=email if direction == "inbound" else None,
        sender_name=(values.get("contact") or None) if direction == "inbound" else None,
        recipients=(email,) if email and direction == "outbound" else (),
        subject=subject,
        direction=direction,
        contact_hint=contact,
        account_hint=values.get("account") or None,
        opportunity_hint=values.get("opportunity") or None,
        kind_hint=kind,
        duration_minutes=duration,
        extra=extra,
    )


def _occurred_text(values: Mapping[str, str]) -> tuple[str, str]:
    """(column to blame, text): occurred_at, else 日期 + 时间 combined, else whichever exists."""
    if "occurred_at" in values:
        return "occurred_at", values["occurred_at"]
    date, time = values.get("date", ""), values.get("time", "")
    if date and time and ":" not in date and ":" in time:
        return "date", f"{date} {time}"
    if date:
        return "date", date
    return "time", time


def _parse_moment(text: str, default_tz: tzinfo) -> tuple[datetime, bool] | None:
    """(UTC datetime, date_only) or None when the text is no date."""
    candidate = text.strip()
    loose = _LOOSE_DATE_RE.fullmatch(candidate)
    if loose:
        year, month, day, hour, minute, second = loose.groups()
        try:
            moment = datetime(
                int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
            )
        except ValueError:
            return None
        date_only = hour is None
    else:
        try:
            moment = datetime.fromisoformat(candidate.replace("Z", "+00:00"))
        except ValueError:
            return None
        date_only = len(candidate) <= 10
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=default_tz)
    return moment.astimezone(UTC), date_only


def _parse_duration(text: str) -> int | None:
    clock = _CLOCK_RE.fullmatch(text.strip())
    if clock:
        minutes = int(clock.group(1)) * 60 + int(clock.group(2))
    else:
        match = _DURATION_RE.fullmatch(text.strip())
        if match is None:
            return None
        minutes = round(float(match.group(1)))
    return minutes if 0 <= minutes <= MAX_DURATION_MINUTES else None
