"""Radar sources against a local HTTP server serving recorded pages (tests/radar/fixtures/)."""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor
from pathcast.db import session_factory
from pathcast.errors import Conflict, InvalidInput, PermissionDenied
from pathcast.events import Event
from pathcast.radar import models as m
from pathcast.radar.service import sources as service
from pathcast.radar.sources import BadContent, LayoutChanged, parse_when
from pathcast.radar.sources.fetch import decode
from pathcast.radar.sources.json_api import parse_json, resolve_path
from pathcast.radar.sources.rss import parse_feed
from pathcast.signals.connectors.base import MessageDraft
from pathcast.signals.service.messages import ingest_message

FIXTURES = Path(__file__).parent / "fixtures"
ADMIN = Actor.system("test")
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
CONTENT_TYPES = {".xml": "application/xml", ".json": "application/json", ".html": "text/html"}
HTML_SELECTORS = {"item": "tr.notice", "title": "td.title a", "date": "td.date", "text": "td.summary"}
JSON_FIELDS = {
    "id": "noticeId",
    "title": "title",
    "text": "content.summary",
    "url": "link",
    "published": "publishTime",
    "author": "publisher",
}


class _RecordedPages(BaseHTTPRequestHandler):
    """Serves files of the server's root. ``/slow/…`` waits first; ``?noetag`` sends no ETag."""

    server: _Server

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        if path.startswith("/slow/"):
            # Longer than any test source's timeout; released at teardown.
            self.server.release.wait(5)
            path = path.removeprefix("/slow")
        file = self.server.root / path.lstrip("/")
        if not file.is_file():
            self.send_error(404)
            return
        body = file.read_bytes()
        with_etag = "noetag" not in parse_qs(parts.query, keep_blank_values=True)
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if with_etag and self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPES.get(file.suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(len(body)))
        if with_etag:
            self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return  # keep test output quiet


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _RecordedPages)
        self.root = root
        self.release = threading.Event()


@pytest.fixture
def pages(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, served directory): a copy of the fixtures that a test may rewrite."""
    root = tmp_path / "site"
    shutil.copytree(FIXTURES, root)
    server = _Server(root)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


def _source(session: Session, name: str, kind: str, **config: Any) -> m.Source:
    return service.create_source(session, actor=ADMIN, name=name, kind=kind, config=config)


def _items(session: Session, source: m.Source) -> list[m.Item]:
    return list(session.scalars(select(m.Item).where(m.Item.source_id == source.id).order_by(m.Item.id)))


def _events(session: Session, type_: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))


# --- configuration ---------------------------------------------------------------------------


def test_create_source_checks_config_per_kind_and_names_fields(session: Session) -> None:
    with pytest.raises(InvalidInput) as caught:
        _source(session, "bids", "html_list", url="ftp://x", selectors={"item": "tr", "link": "a[["})
    fields = {error.field for error in caught.value.errors}
    assert fields == {"config.url", "config.selectors.title", "config.selectors.link"}
    with pytest.raises(InvalidInput) as caught:
        _source(session, "api", "json_api", url="https://api.example.cn/x", fields={"summary": "a"})
    assert {error.field for error in caught.value.errors} == {"config.fields.summary", "config.fields.title"}
    with pytest.raises(InvalidInput) as caught:
        _source(session, "feed", "rss", url="https://x.example/feed", timeout_seconds=0, encoding="nope")
    assert {error.field for error in caught.value.errors} == {"config.timeout_seconds", "config.encoding"}
    with pytest.raises(InvalidInput) as caught:
        _source(session, "chat", "messages", channels=["fax"])
    assert caught.value.errors[0].field == "config.channels"
    with pytest.raises(InvalidInput) as caught:
        _source(session, "odd", "twitter")
    assert caught.value.errors[0].field == "kind"


def test_create_source_is_admin_only_unique_and_logged_without_secrets(session: Session) -> None:
    rep = Actor(user_id=7, role=Role.rep)
    config = {
        "url": "https://api.example.cn/list",
        "fields": {"title": "t"},
        "headers": {"X-Api-Key": "s3cret"},
    }
    with pytest.raises(PermissionDenied):
        service.create_source(session, actor=rep, name="api", kind="json_api", config=config)
    source = service.create_source(session, actor=ADMIN, name="api", kind="json_api", config=config)
    assert source.health == "never" and source.poll_interval_seconds == 900
    with pytest.raises(Conflict):
        service.create_source(session, actor=ADMIN, name="api", kind="json_api", config=config)
    [event] = _events(session, "radar.source_created")
    assert event.entity_id == str(source.id)
    assert event.payload["after"]["config"]["headers"] == {"X-Api-Key": "***"}
    assert "s3cret" not in str(event.payload)


def test_update_source_rechecks_config_forgets_the_etag_and_logs_before_after(
    session: Session, pages: tuple[str, Path]
) -> None:
    base, _ = pages
    source = _source(session, "forum", "rss", url=f"{base}/rss.xml")
    service.poll_source(session, source=source, now=NOW)
    assert "etag" in source.cursor
    with pytest.raises(InvalidInput) as caught:
        service.update_source(
            session, actor=ADMIN, source_id=source.id, changes={"config": {"url": "mailto:x"}}
        )
    assert caught.value.errors[0].field == "config.url"
    with pytest.raises(InvalidInput) as caught:
        service.update_source(session, actor=ADMIN, source_id=source.id, changes={"kind": "atom"})
    assert caught.value.errors[0].field == "kind"
    with pytest.raises(PermissionDenied):
        service.update_source(
            session, actor=Actor(user_id=3, role=Role.manager), source_id=source.id, changes={}
        )
    service.update_source(
        session,
        actor=ADMIN,
        source_id=source.id,
        changes={"config": {"url": f"{base}/atom.xml"}, "is_active": False, "poll_interval_seconds": 3600},
    )
    assert "etag" not in source.cursor and source.cursor["seen_ids"]
    assert (source.is_active, source.poll_interval_seconds) == (False, 3600)
    [event] = _events(session, "radar.source_updated")
    assert event.payload["before"]["is_active"] is True and event.payload["after"]["is_active"] is False
    assert [s.name for s in service.list_sources(session, actor=ADMIN)] == ["forum"]


# --- polling each kind ------------------------------------------------------------------------


def test_rss_items_stored_then_repoll_adds_nothing_and_a_new_entry_once(
    session: Session, pages: tuple[str, Path]
) -> None:
    base, root = pages
    source = _source(session, "forum", "rss", url=f"{base}/rss.xml")
    report = service.poll_source(session, source=source, now=NOW)
    assert (report.health, report.stored, report.duplicates) == ("ok", 3, 0)
    items = _items(session, source)
    assert [item.external_id for item in items] == ["forum-1001", "forum-1002", "forum-1003"]
    first = items[0]
    assert first.title == "PLC通讯协议兼容性问题求助"
    assert first.text is not None and "Modbus" in first.text and "<b>" not in first.text
    assert first.published_at == datetime(2026, 11, 19, 0, 30, tzinfo=UTC)
    assert first.lang == "zh" and items[2].lang == "en"
    assert source.cursor["etag"] and source.cursor["seen_ids"][0] == "forum-1003"
    assert source.cursor["last_published"] == "2026-11-21T09:15:00+00:00"

    again = service.poll_source(session, source=source, now=NOW + timedelta(minutes=15))
    assert (again.stored, again.not_modified, again.health) == (0, True, "ok")
    assert again.cursor["last_checked_at"] > report.cursor["last_checked_at"]

    feed = (root / "rss.xml").read_text(encoding="utf-8")
    extra = (
        '<item><title>新帖：控制器固件升级后报错</title><guid isPermaLink="false">forum-1004</guid>'
        "<pubDate>Sun, 22 Nov 2026 10:00:00 +0000</pubDate></item>\n  </channel>"
    )
    (root / "rss.xml").write_text(feed.replace("</channel>", extra), encoding="utf-8")
    third = service.poll_source(session, source=source, now=NOW + timedelta(minutes=30))
    assert (third.stored, third.duplicates) == (1, 3)
    assert third.cursor["last_published"] == "2026-11-22T10:00:00+00:00"
    assert third.cursor["seen_ids"][:2] == ["forum-1004", "forum-1003"]
    assert len(_items(session, source)) == 4


def test_atom_entries_with_html_content(session: Session, pages: tuple[str, Path]) -> None:
    base, _ = pages
    source = _source(session, "community", "atom", url=f"{base}/atom.xml")
    report = service.poll_source(session, source=source, now=NOW)
    assert report.stored == 2
    first, second = _items(session, source)
    assert (first.external_id, first.author, first.url) == (
        "urn:uuid:entry-1",
        "Dana",
        "https://community.example.org/posts/1",
    )
    assert second.text == "Third week of waiting for the spare parts."
    assert second.published_at == datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def test_json_api_field_mapping_and_row_errors(session: Session, pages: tuple[str, Path]) -> None:
    base, _ = pages
    source = _source(
        session,
        "bids-api",
        "json_api",
        url=f"{base}/api.json?noetag",
        items_path="data.list",
        fields=JSON_FIELDS,
        timezone="Asia/Shanghai",
    )
    report = service.poll_source(session, source=source, now=NOW)
    assert report.stored == 3
    assert report.errors == [
        {
            "row": 3,
            "field": "fields.published",
            "message": "unreadable date 'not a date'; kept without a date",
        }
    ]
    first, second, third = _items(session, source)
    assert first.external_id == "ZB-2026-0001" and first.author == "某市公共资源交易中心"
    assert first.text == "预算 120 万元，投标截止 2026-12-05。"
    assert first.published_at == datetime(2026, 11, 20, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
    assert second.published_at == datetime.fromtimestamp(1763700000, UTC)
    assert third.title is None and third.published_at is None
    # No ETag on this route: the re-poll downloads again and the external ids de-duplicate.
    again = service.poll_source(session, source=source, now=NOW + timedelta(hours=1))
    assert (again.stored, again.duplicates, again.not_modified) == (0, 3, False)


def test_html_list_with_selectors_resolves_links_and_dates(session: Session, pages: tuple[str, Path]) -> None:
    base, _ = pages
    source = _source(session, "bids", "html_list", url=f"{base}/bidding.html", selectors=HTML_SELECTORS)
    report = service.poll_source(session, source=source, now=NOW)
    assert (report.stored, report.errors) == (3, [])
    items = _items(session, source)
    assert items[1].url == f"{base}/notice/1002.html" and items[1].external_id == items[1].url
    assert items[1].title == "某装备制造公司 MES 系统 招标公告" and items[1].text == "交付期 90 天"
    assert [item.published_at.day for item in items if item.published_at] == [18, 19, 20]


def test_gb18030_page_is_decoded_from_its_meta_charset(session: Session, pages: tuple[str, Path]) -> None:
    base, _ = pages
    selectors = {"item": "li.row", "title": "a.t", "date": "em"}
    source = _source(session, "gov", "html_list", url=f"{base}/gb18030.html", selectors=selectors)
    report = service.poll_source(session, source=source, now=NOW)
    assert report.stored == 2
    assert [item.title for item in _items(session, source)] == [
        "省人民医院 医用耗材 集中采购 公告",
        "市第一制造厂 交付延迟 违约处理 公示",
    ]


def test_gb18030_without_any_declaration_is_detected() -> None:
    raw = "市第一制造厂 交付延迟 违约处理 公示，请相关供应商于十二月五日前提交材料。".encode("gb18030")
    text, codec = decode(b"<html><body><p>" + raw + b"</p></body></html>")
    assert "交付延迟" in text and codec in ("gb18030", "gbk", "gb2312")


def test_messages_source_reads_what_signals_received_since_its_cursor(session: Session) -> None:
    sent = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    draft = MessageDraft(
        channel="wecom", idempotency_key="wx-1", sent_at=sent, body="设备交付延迟，产线停了", sender="li"
    )
    ingest_message(session, draft=draft, actor=ADMIN)
    source = _source(session, "chat", "messages", channels=["wecom", "dingtalk"])
    report = service.poll_source(session, source=source, now=NOW)
    assert report.stored == 1
    [item] = _items(session, source)
    assert item.text == "设备交付延迟，产线停了" and item.published_at == sent
    assert item.extra["channel"] == "wecom" and item.extra["message_id"] == source.cursor["last_message_id"]
    later = MessageDraft(channel="email", idempotency_key="<m2@x>", sent_at=sent, body="Not for this source")
    ingest_message(session, draft=later, actor=ADMIN)
    again = service.poll_source(session, source=source, now=NOW + timedelta(minutes=15))
    assert (again.stored, again.duplicates) == (0, 0)


def test_the_same_text_from_a_second_source_is_not_stored_twice(
    session: Session, pages: tuple[str, Path]
) -> None:
    base, root = pages
    shutil.copy(root / "rss.xml", root / "mirror.xml")
    first = _source(session, "forum", "rss", url=f"{base}/rss.xml")
    mirror = _source(session, "mirror", "rss", url=f"{base}/mirror.xml")
    service.poll_source(session, source=first, now=NOW)
    report = service.poll_source(session, source=mirror, now=NOW)
    assert (report.stored, report.cross_source_duplicates, report.health) == (0, 3, "ok")


# --- failures ---------------------------------------------------------------------------------


def test_changed_layout_marks_only_that_source_unhealthy_and_keeps_its_items(
    session: Session, db_url: str, pages: tuple[str, Path]
) -> None:
    base, root = pages
    bids = _source(session, "bids", "html_list", url=f"{base}/bidding.html", selectors=HTML_SELECTORS)
    feed = _source(session, "forum", "rss", url=f"{base}/rss.xml")
    paused = _source(session, "paused", "rss", url=f"{base}/atom.xml")
    paused.is_active = False
    session.commit()  # poll_due writes through its own connections

    first = service.poll_due(db_url, now=NOW)
    assert [(r.source, r.health, r.stored) for r in first] == [("bids", "ok", 3), ("forum", "ok", 3)]
    assert service.poll_due(db_url, now=NOW + timedelta(minutes=5)) == []  # nothing due yet

    shutil.copy(root / "bidding_changed.html", root / "bidding.html")
    second = service.poll_due(db_url, now=NOW + timedelta(minutes=16))
    by_name = {report.source: report for report in second}
    assert by_name["bids"].health == "unhealthy" and by_name["bids"].failure_code == "layout_changed"
    assert by_name["bids"].failure == "layout changed: selector 'tr.notice' (item) matched nothing"
    assert by_name["forum"].health == "ok" and by_name["forum"].not_modified

    with session_factory(db_url)() as fresh:
        stored_bids = fresh.get(m.Source, bids.id)
        assert stored_bids is not None
        assert (stored_bids.health, stored_bids.health_code) == ("unhealthy", "layout_changed")
        assert stored_bids.last_ok_at == NOW and stored_bids.last_polled_at == NOW + timedelta(minutes=16)
        assert len(_items(fresh, stored_bids)) == 3  # what it had is kept
        flips = [
            (e.entity_id, e.payload["from"], e.payload["to"])
            for e in _events(fresh, "radar.source_health_changed")
        ]
        assert flips == [
            (str(bids.id), "never", "ok"),
            (str(feed.id), "never", "ok"),
            (str(bids.id), "ok", "unhealthy"),
        ]
        assert "页面结构已变化" in _events(fresh, "radar.source_health_changed")[-1].payload["reason_zh"]

    # Still broken on the next poll: no new event; fixed again: one event back to ok.
    service.poll_due(db_url, now=NOW + timedelta(minutes=32))
    shutil.copy(FIXTURES / "bidding.html", root / "bidding.html")
    [recovered, _] = service.poll_due(db_url, now=NOW + timedelta(minutes=48))
    # The page is byte for byte what the cursor's ETag named: a 304, and healthy again.
    assert (recovered.health, recovered.stored, recovered.not_modified) == ("ok", 0, True)
    with session_factory(db_url)() as fresh:
        assert len(_events(fresh, "radar.source_health_changed")) == 4


def test_timeout_marks_the_source_unhealthy(session: Session, pages: tuple[str, Path]) -> None:
    base, _ = pages
    source = _source(session, "slow", "rss", url=f"{base}/slow/rss.xml", timeout_seconds=0.3)
    report = service.poll_source(session, source=source, now=NOW)
    assert (report.health, report.failure_code) == ("unhealthy", "timeout")
    assert report.failure is not None and "within 0.3 s" in report.failure
    assert source.health_reason == report.failure and _items(session, source) == []


@pytest.mark.parametrize(
    ("path", "extra", "code", "reason"),
    [
        ("/missing.xml", {}, "http_error", "HTTP 404"),
        ("/bidding.html", {}, "bad_content", "not an RSS or Atom feed"),
        ("/gb18030.html", {"encoding": "utf-8"}, "bad_encoding", "is not valid utf-8"),
        ("/rss.xml", {"max_bytes": 100}, "too_large", "over the 100 byte limit"),
    ],
)
def test_http_errors_wrong_content_and_bad_encoding_are_reasons(
    session: Session, pages: tuple[str, Path], path: str, extra: dict[str, Any], code: str, reason: str
) -> None:
    base, _ = pages
    source = _source(session, "broken", "rss", url=f"{base}{path}", **extra)
    report = service.poll_source(session, source=source, now=NOW)
    assert (report.health, report.failure_code) == ("unhealthy", code)
    assert report.failure is not None and reason in report.failure


# --- parsers without a server -----------------------------------------------------------------


def test_unsafe_xml_is_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><rss><channel><title>&b;</title></channel></rss>'
    with pytest.raises(BadContent):
        parse_feed(bomb)


def test_json_path_that_moved_is_a_layout_change() -> None:
    with pytest.raises(LayoutChanged, match=r"data\.list"):
        parse_json('{"data": {"rows": []}}', items_path="data.list", fields={"title": "t"})
    assert resolve_path({"a": [{"b": 1}]}, "a.0.b") == 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-20T09:30:00Z", datetime(2026, 11, 20, 9, 30, tzinfo=UTC)),
        ("Fri, 20 Nov 2026 10:00:00 +0800", datetime(2026, 11, 20, 2, 0, tzinfo=UTC)),
        ("发布日期：2026年11月20日 14:05", datetime(2026, 11, 20, 14, 5, tzinfo=UTC)),
        (1763700000, datetime.fromtimestamp(1763700000, UTC)),
        ("1763700000000", datetime.fromtimestamp(1763700000, UTC)),
        ("soon", None),
    ],
)
def test_parse_when_reads_what_pages_write(raw: Any, expected: datetime | None) -> None:
    assert parse_when(raw) == expected
