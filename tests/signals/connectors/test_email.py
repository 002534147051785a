"""E-mail parsing: Chinese headers and bodies, replies, threads, mbox archives."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pathcast.signals.connectors.base import MessageDraft, PayloadInvalid
from pathcast.signals.connectors.email import (
    decode_header_value,
    html_to_text,
    imap_utf7,
    iter_eml_files,
    iter_mbox,
    parse_eml,
)

OWNER = "li.ming@pathcast.example"


def _eml(headers: str, body: bytes = b"hello\r\n") -> bytes:
    return headers.strip().replace("\n", "\r\n").encode() + b"\r\n\r\n" + body


def test_utf8_encoded_subject_names_and_multipart(fixtures: Path) -> None:
    draft = parse_eml((fixtures / "zh_utf8_quote.eml").read_bytes(), mailbox_owner_addresses=[OWNER.upper()])
    assert draft.channel == "email"
    assert draft.subject == "DSA 介入耗材报价"
    assert draft.sender == "li.ming@pathcast.example"
    assert draft.sender_name == "李明"
    assert draft.recipients == (
        "wang.zr@hospital.example.cn",
        "zhao@hospital.example.cn",
        "sales-east@pathcast.example",
    )
    assert draft.direction == "outbound"
    assert draft.idempotency_key == "20261103140500.4F2A@mail.pathcast.example"
    assert draft.thread_key == draft.idempotency_key
    assert draft.is_reply is False
    assert draft.sent_at == datetime(2026, 11, 3, 6, 5, tzinfo=UTC)
    # text/plain is preferred over the HTML alternative.
    assert draft.body.startswith("王主任您好：\n\n附件是 DSA 介入耗材的报价单")
    assert draft.extra["body_format"] == "plain"
    assert draft.extra["attachments"] == ["报价单.pdf"]


def test_gb2312_label_with_gbk_characters_and_a_gbk_body(fixtures: Path) -> None:
    """Foxmail labels GBK as GB2312; 镕 and 喆 are not in GB2312 and must still decode."""
    draft = parse_eml((fixtures / "zh_gbk_body.eml").read_bytes(), mailbox_owner_addresses=[OWNER])
    assert draft.subject == "朱镕基医院导管采购"
    assert draft.sender_name == "张喆"
    assert "朱镕基医院喆科室的导管采购" in draft.body
    assert draft.direction == "inbound"
    assert draft.sent_at == datetime(2026, 11, 3, 1, 30, 12, tzinfo=UTC)


def test_reply_with_in_reply_to_references_and_html_only_body(fixtures: Path) -> None:
    draft = parse_eml((fixtures / "zh_reply_html.eml").read_bytes())
    assert draft.is_reply is True
    assert draft.subject == "回复: 朱镕基医院导管采购"
    # The thread's root is the first References id, not the message replied to.
    assert draft.thread_key == "thread-root-0001@hospital.example.cn"
    assert draft.extra["in_reply_to"] == "foxmail.2026110309.gbk@hospital.example.cn"
    assert draft.recipients == ("zhang.zhe@hospital.example.cn",)
    assert draft.extra["body_format"] == "html"
    assert draft.body == "好的，周二上午十点见。\n\n原邮件> 下周二上午十点方便拜访吗？"
    assert "color" not in draft.body


def test_in_reply_to_alone_is_the_thread_key() -> None:
    raw = _eml(
        """
Message-ID: <b@x>
In-Reply-To: <a@x>
Date: Tue, 3 Nov 2026 10:00:00 +0000
From: a@x.cn
Subject: pricing
"""
    )
    draft = parse_eml(raw)
    assert draft.thread_key == "a@x"
    assert draft.is_reply is True


@pytest.mark.parametrize(
    "subject", ["Re: 报价", "RE: 报价", "回复：报价", "答复: 报价", "=?UTF-8?B?5Zue5aSNOiDmiqXku7c=?="]
)
def test_reply_detected_from_the_subject(subject: str) -> None:
    raw = _eml(f"Message-ID: <s@x>\nDate: Tue, 3 Nov 2026 10:00:00 +0000\nFrom: a@x.cn\nSubject: {subject}")
    assert parse_eml(raw).is_reply is True


def test_rfc2047_gb2312_and_folded_words() -> None:
    gb = base64.b64encode("华东医院".encode("gb2312")).decode()
    assert decode_header_value(f"=?GB2312?B?{gb}?=") == "华东医院"
    utf = base64.b64encode("设备".encode()).decode()
    assert decode_header_value(f"=?gb2312?B?{gb}?=\r\n =?UTF-8?B?{utf}?=") == "华东医院设备"
    assert decode_header_value("=?UTF-8?Q?=E6=8A=A5=E4=BB=B7?= v2") == "报价 v2"
    assert decode_header_value("=?x-unknown?B?5oql5Lu3?=") == "报价"


def test_missing_message_id_hashes_the_raw_bytes() -> None:
    raw = _eml("Date: Tue, 3 Nov 2026 10:00:00 +0800\nFrom: a@x.cn\nSubject: hi")
    first, second = parse_eml(raw), parse_eml(raw)
    assert first.idempotency_key == second.idempotency_key
    assert first.idempotency_key.startswith("sha256:")
    assert first.thread_key is None


def test_date_falls_back_to_received_at_then_received_header() -> None:
    raw = _eml("Message-ID: <d@x>\nFrom: a@x.cn")
    with pytest.raises(PayloadInvalid) as caught:
        parse_eml(raw)
    assert caught.value.field == "Date"
    moment = datetime(2026, 11, 3, 1, 2, 3, tzinfo=UTC)
    assert parse_eml(raw, received_at=moment).sent_at == moment
    with_received = _eml(
        "Received: from mx.example.cn by mail.example.cn;\n Tue, 3 Nov 2026 09:00:00 +0800\n"
        "Message-ID: <d@x>\nFrom: a@x.cn\nDate: not a date"
    )
    assert parse_eml(with_received).sent_at == datetime(2026, 11, 3, 1, 0, tzinfo=UTC)


def test_wrongly_labelled_body_falls_back_to_gb18030() -> None:
    raw = _eml(
        "Message-ID: <c@x>\nDate: Tue, 3 Nov 2026 10:00:00 +0000\nFrom: a@x.cn\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit",
        "明天下午三点开会".encode("gbk"),
    )
    assert parse_eml(raw).body == "明天下午三点开会"


def test_unknown_charset_and_no_body() -> None:
    raw = _eml(
        "Message-ID: <e@x>\nDate: Tue, 3 Nov 2026 10:00:00 +0000\nFrom: a@x.cn\n"
        "Content-Type: text/plain; charset=x-made-up",
        b"plain ascii",
    )
    assert parse_eml(raw).body == "plain ascii"
    only_attachment = _eml(
        "Message-ID: <f@x>\nDate: Tue, 3 Nov 2026 10:00:00 +0000\nFrom: a@x.cn\n"
        "Content-Type: application/pdf\nContent-Disposition: attachment; filename=a.pdf",
        b"%PDF",
    )
    draft = parse_eml(only_attachment)
    assert draft.body == ""
    assert draft.extra["attachments"] == ["a.pdf"]


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"\x00\x01garbage without headers"])
def test_unusable_messages_are_refused(raw: bytes) -> None:
    with pytest.raises(PayloadInvalid):
        parse_eml(raw)


def test_long_message_id_is_hashed_to_fit() -> None:
    long_id = "x" * 300 + "@example.cn"
    raw = _eml(f"Message-ID: <{long_id}>\nDate: Tue, 3 Nov 2026 10:00:00 +0000\nFrom: a@x.cn")
    draft = parse_eml(raw)
    assert draft.idempotency_key.startswith("sha256:")
    assert len(draft.idempotency_key) <= 200


def test_mbox_with_a_broken_message_in_the_middle(fixtures: Path) -> None:
    items = list(iter_mbox(fixtures / "archive.mbox", mailbox_owner_addresses=[OWNER]))
    assert [number for number, _ in items] == [1, 2, 3]
    first, broken, third = (item for _, item in items)
    assert isinstance(first, MessageDraft) and first.subject == "DSA 介入耗材报价"
    assert first.direction == "outbound"
    assert isinstance(broken, PayloadInvalid)
    assert broken.code == "bad_payload"
    assert isinstance(third, MessageDraft) and third.subject == "朱镕基医院导管采购"


def test_mbox_envelope_date_is_the_fallback(tmp_path: Path) -> None:
    path = tmp_path / "no-date.mbox"
    path.write_bytes(
        b"From someone@x.cn Tue Nov  3 01:30:12 2026\nMessage-ID: <n@x>\nFrom: someone@x.cn\n\nhi\n"
    )
    [(number, draft)] = list(iter_mbox(path))
    assert number == 1
    assert isinstance(draft, MessageDraft)
    assert draft.sent_at == datetime(2026, 11, 3, 1, 30, 12, tzinfo=UTC)


def test_missing_mbox_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(iter_mbox(tmp_path / "absent.mbox"))


def test_eml_files_continue_after_a_bad_one(fixtures: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.eml"
    bad.write_bytes(b"")
    paths = [fixtures / "zh_gbk_body.eml", bad, tmp_path / "missing.eml", fixtures / "zh_reply_html.eml"]
    items = list(iter_eml_files(paths))
    assert [number for number, _ in items] == [1, 2, 3, 4]
    kinds = [type(item).__name__ for _, item in items]
    assert kinds == ["MessageDraft", "PayloadInvalid", "PayloadInvalid", "MessageDraft"]


def test_html_to_text_keeps_lines_and_drops_scripts() -> None:
    html = "<html><head><title>t</title><style>p{}</style></head><body><p>第一段&nbsp;内容</p><script>x()</script><br>第二&amp;三</body></html>"
    assert html_to_text(html) == "第一段 内容\n\n第二&三"


@pytest.mark.parametrize(
    ("name", "encoded"),
    [("INBOX", "INBOX"), ("已发送", "&XfJT0ZAB-"), ("R&D", "R&-D"), ("客户/华东", "&W6JiNw-/&U05OHA-")],
)
def test_imap_mailbox_names_use_modified_utf7(name: str, encoded: str) -> None:
    assert imap_utf7(name) == encoded


def test_raw_8bit_headers_in_utf8_or_gbk() -> None:
    """Old clients put GBK bytes straight into headers; RFC 6532 allows raw UTF-8."""
    raw = (
        b"Message-ID: <raw@x>\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\n"
        + "From: 王主任 <wang@x.cn>\r\n".encode()
        + "Subject: 导管报价\r\n".encode("gbk")
        + b"\r\nhi\r\n"
    )
    draft = parse_eml(raw)
    assert draft.sender_name == "王主任"
    assert draft.subject == "导管报价"
