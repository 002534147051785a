"""The radar's knowledge base: Q&A CRUD with events and refusals, shared replies, the
cached index and its rebuild, company-document passages (PDF, HTML, GB18030; never an
account's own document), cited drafts, the API, and property tests on arbitrary text.

Every database test runs on SQLite and PostgreSQL (the ``session`` fixture).
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reportlab.pdfgen import canvas
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.crm.service import SPECS, create_record
from pathcast.crm.service.documents import (
    _paragraphs,
    _passages,
    _text_paragraphs,
    add_document_version,
    document_passages,
)
from pathcast.db import utcnow
from pathcast.demo.radar_knowledge import QA_PAIRS, seed_knowledge
from pathcast.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pathcast.events import Event
from pathcast.radar import models as m
from pathcast.radar.service import knowledge, knowledge_index, signals, sources
from pathcast.radar.sources import content_hash
from tests import factories as f
from tests.api.conftest import application, client, company

__all__ = ["application", "client", "company"]

ADMIN = f.SYSTEM
API = "/api/v1/radar"
DEAD_URL = "http://127.0.0.1:9/feed.xml"
COMPLAINT = "恒泰精密：交付延迟了两周，产线停了，我们非常不满意"
WEST = "西岭电子：交付延迟了三周，我们非常不满意"
PROFINET = "The PLC Gateway is certified for Profinet conformance class B and OPC UA."


def _item(session: Session, source_id: int, key: str, title: str, text: str) -> int:
    item = m.Item(
        source_id=source_id,
        external_id=key,
        url=f"https://forum.example.com/t/{key}",
        title=title,
        text=text,
        lang="zh",
        content_hash=content_hash(title, text),
        published_at=utcnow(),
        fetched_at=utcnow(),
        extra={},
    )
    session.add(item)
    session.flush()
    return item.id


def _signals(session: Session, east_owner: int, west_owner: int) -> tuple[int, int]:
    """An east and a west account, each named by one analysed forum post."""
    f.account(session, name="恒泰精密制造有限公司", industry="制造业", owner_id=east_owner)
    f.account(session, name="西岭电子有限公司", industry="制造业", owner_id=west_owner)
    forum = sources.create_source(session, actor=ADMIN, name="工控论坛", kind="rss", config={"url": DEAD_URL})
    east = _item(session, forum.id, "1", "交付延迟投诉", COMPLAINT)
    west = _item(session, forum.id, "2", "西岭投诉", WEST)
    signals.analyse_items(session, actor=ADMIN, item_ids=[east, west])
    return east, west


@pytest.fixture
def world(session: Session, configured: str) -> dict[str, Any]:
    people = f.two_teams(session)
    customer_account = f.account(session, name="华东医疗集团")
    people["customer"] = f.user(
        session, "buyer@hospital.example", role=Role.customer_contact, account_id=customer_account.id
    )
    east, west = _signals(session, people["east_rep"].id, people["west_rep"].id)
    session.commit()
    actors = {key: f.actor(people[key]) for key in people if key not in ("east", "west")}
    return {"actors": actors, "east": east, "west": west, "customer_account": customer_account.id}


def _events(session: Session, type_: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))


def _document(
    session: Session, name: str, filename: str, content: bytes, content_type: str, **data: Any
) -> int:
    document = create_record(session, actor=ADMIN, spec=SPECS["document"], data={"name": name, **data})
    add_document_version(
        session, actor=ADMIN, document=document, filename=filename, content=content, content_type=content_type
    )
    return int(document.id)


def _pdf(text: str) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, text)
    page.showPage()
    page.save()
    return buffer.getvalue()


# --- Q&A pairs --------------------------------------------------------------------------------


def test_qa_pairs_are_added_changed_archived_with_events(session: Session, world: dict[str, Any]) -> None:
    manager = world["actors"]["east_manager"]
    entry = knowledge.add_qa(
        session, manager, question=" 支持哪些PLC协议？ ", answer="Modbus TCP、Profinet、OPC UA"
    )
    assert (entry.kind, entry.question, entry.source) == ("qa", "支持哪些PLC协议？", "FAQ")
    knowledge.update_qa(
        session, manager, entry.id, answer="Modbus TCP、Profinet 和 OPC UA", source="FAQ · 协议"
    )
    knowledge.update_qa(session, manager, entry.id, source="FAQ · 协议")  # nothing changes: no event
    changed = _events(session, "radar.knowledge_changed")
    assert len(changed) == 1
    assert changed[0].payload["before"] == {"answer": "Modbus TCP、Profinet、OPC UA", "source": "FAQ"}
    assert [e.id for e in knowledge.list_knowledge(session, manager, query="profinet")] == [entry.id]
    assert knowledge.list_knowledge(session, manager, query="50%_") == []

    knowledge.archive_knowledge(session, manager, entry.id)
    knowledge.archive_knowledge(session, manager, entry.id)  # twice: still one event
    assert len(_events(session, "radar.knowledge_archived")) == 1
    assert len(_events(session, "radar.knowledge_added")) == 1
    assert knowledge.list_knowledge(session, manager) == []
    assert [e.id for e in knowledge.list_knowledge(session, manager, include_archived=True)] == [entry.id]
    with pytest.raises(Conflict):
        knowledge.update_qa(session, manager, entry.id, answer="again")


def test_bad_input_names_each_field(session: Session, world: dict[str, Any]) -> None:
    admin = world["actors"]["admin"]
    with pytest.raises(InvalidInput) as refused:
        knowledge.add_qa(session, admin, question="  ", answer="x" * 10_001, source="s" * 201)
    assert {(e.field, e.code) for e in refused.value.errors} == {
        ("question", "missing"),
        ("answer", "too_long"),
        ("source", "too_long"),
    }
    entry = knowledge.add_qa(session, admin, question="q\x00?", answer="a")
    assert entry.question == "q?"  # NUL never reaches PostgreSQL
    with pytest.raises(InvalidInput):
        knowledge.list_knowledge(session, admin, kind="document")
    with pytest.raises(NotFound):
        knowledge.get_knowledge(session, admin, 999_999)


def test_reps_read_but_do_not_edit_and_others_are_refused(session: Session, world: dict[str, Any]) -> None:
    actors = world["actors"]
    entry = knowledge.add_qa(session, actors["admin"], question="保修多久？", answer="24 个月")
    rep = actors["east_rep"]
    assert [e.id for e in knowledge.list_knowledge(session, rep)] == [entry.id]
    with pytest.raises(PermissionDenied):
        knowledge.add_qa(session, rep, question="q", answer="a")
    with pytest.raises(PermissionDenied):
        knowledge.update_qa(session, rep, entry.id, answer="36 个月")
    with pytest.raises(PermissionDenied):
        knowledge.archive_knowledge(session, rep, entry.id)
    for who in ("member", "customer"):
        with pytest.raises(PermissionDenied):
            knowledge.list_knowledge(session, actors[who])
        with pytest.raises(PermissionDenied):
            knowledge_index.draft_for_text(session, actors[who], "保修")
    assert len(_events(session, "radar.knowledge_added")) == 1


# --- replies ----------------------------------------------------------------------------------


def test_a_reply_is_recorded_and_shared_only_when_asked(session: Session, world: dict[str, Any]) -> None:
    rep = world["actors"]["east_rep"]
    kept = knowledge.save_reply(session, rep, world["east"], "已安排工程师明天到现场。", share=False)
    assert kept.knowledge is None
    shared = knowledge.save_reply(session, rep, world["east"], "交付延迟已补偿一个月维保。", share=True)
    assert shared.knowledge is not None
    assert shared.knowledge.kind == "reply" and shared.knowledge.item_id == world["east"]
    assert shared.knowledge.source == f"回复 · 信号 #{world['east']} / reply to signal #{world['east']}"
    saved = _events(session, "radar.reply_saved")
    assert [(e.entity, e.entity_id, e.payload["shared"]) for e in saved] == [
        ("radar_item", str(world["east"]), False),
        ("radar_item", str(world["east"]), True),
    ]
    assert saved[0].payload["text"] == "已安排工程师明天到现场。"
    ids = [record["id"] for record in knowledge_index.knowledge_records(session)]
    assert ids == [f"reply-{shared.knowledge.id}"]
    assert knowledge_index.citation_link(ids[0]) == f"/radar/knowledge/{shared.knowledge.id}"


def test_reply_refusals(session: Session, world: dict[str, Any]) -> None:
    actors = world["actors"]
    with pytest.raises(NotFound):  # another team's account: hidden like missing
        knowledge.save_reply(session, actors["west_rep"], world["east"], "hello", share=True)
    with pytest.raises(PermissionDenied):
        knowledge.save_reply(session, actors["member"], world["east"], "hello")
    with pytest.raises(InvalidInput) as refused:
        knowledge.save_reply(session, actors["east_rep"], world["east"], "   ")
    assert refused.value.errors[0].field == "text"
    assert _events(session, "radar.reply_saved") == []


# --- the index and drafts ---------------------------------------------------------------------


def test_index_is_cached_and_rebuilt_after_a_change(session: Session, world: dict[str, Any]) -> None:
    manager = world["actors"]["east_manager"]
    first = knowledge.add_qa(session, manager, question="交付延迟怎么补偿？", answer="延迟每周补偿 1% 货款。")
    index = knowledge_index.knowledge_index(session)
    assert knowledge_index.knowledge_index(session) is index
    assert index.get(f"qa-{first.id}") is not None
    second = knowledge.add_qa(session, manager, question="安装要多久？", answer="3–5 个工作日。")
    rebuilt = knowledge_index.knowledge_index(session)
    assert rebuilt is not index and rebuilt.get(f"qa-{second.id}") is not None
    knowledge.update_qa(session, manager, second.id, answer="一般 3 到 5 个工作日。")
    edited = knowledge_index.knowledge_index(session)
    passage = edited.get(f"qa-{second.id}")
    assert passage is not None and passage.answer == "一般 3 到 5 个工作日。"
    knowledge.archive_knowledge(session, manager, first.id)
    assert knowledge_index.knowledge_index(session).get(f"qa-{first.id}") is None


def test_a_new_catalogue_name_rebuilds_the_index(session: Session, world: dict[str, Any]) -> None:
    manager = world["actors"]["east_manager"]
    knowledge.add_qa(session, manager, question="和汇川技术比怎么样？", answer="我们的网关支持 OPC UA。")
    index = knowledge_index.knowledge_index(session)
    f.account(session, name="汇川技术股份有限公司", industry="制造业")
    rebuilt = knowledge_index.knowledge_index(session)
    assert rebuilt is not index
    draft = knowledge_index.draft_for_text(session, manager, "汇川技术")
    assert draft.citations and draft.citations[0].kind == "qa"


def test_draft_for_a_signal_cites_the_matching_answer(session: Session, world: dict[str, Any]) -> None:
    actors = world["actors"]
    manager = actors["east_manager"]
    empty = knowledge_index.draft_for_signal(session, actors["east_rep"], world["east"])
    assert empty.citations == [] and empty.confidence == 0
    qa = knowledge.add_qa(
        session,
        manager,
        question="交付延迟怎么办？",
        answer="交付延迟时我们补偿一个月维保。",
        source="FAQ · 交付",
    )
    knowledge.add_qa(session, manager, question="保修多久？", answer="硬件保修 24 个月。")
    draft = knowledge_index.draft_for_signal(session, actors["east_rep"], world["east"])
    assert draft.status == "draft" and draft.citations[0].id == f"qa-{qa.id}"
    assert "交付延迟时我们补偿一个月维保。 [1]" in draft.text_zh
    assert "FAQ · 交付" in draft.text_zh and draft.confidence > 0
    with pytest.raises(NotFound):
        knowledge_index.draft_for_signal(session, actors["west_rep"], world["east"])


def test_company_documents_feed_the_index_but_never_an_accounts_own(
    session: Session, world: dict[str, Any]
) -> None:
    pdf = _document(session, "网关认证说明", "cert.pdf", _pdf(PROFINET), "application/pdf")
    html = _document(
        session,
        "Installation guide",
        "install.html",
        b"<html><head><script>secret()</script></head><body><h1>Install</h1>"
        b"<p>Commissioning takes <b>three</b> days on site.</p></body></html>",
        "text/html; charset=utf-8",
        audience="internal",
    )
    chinese = _document(
        session, "保修条款", "warranty.txt", "整机保修二十四个月。".encode("gb18030"), "text/plain"
    )
    _document(session, "broken", "broken.pdf", b"%PDF-1.4 not really", "application/pdf")
    _document(session, "image", "logo.png", b"\x89PNG....", "image/png")
    _document(
        session,
        "恒泰方案",
        "proposal.txt",
        b"Confidential zanzibar pricing for one customer.",
        "text/plain",
        account_id=world["customer_account"],
    )
    passages = list(document_passages(session))
    by_document = {p.document_id: p for p in passages}
    assert set(by_document) == {pdf, html, chinese}
    assert "Profinet conformance class B" in by_document[pdf].text
    assert by_document[html].text == "Install\nCommissioning takes three days on site."
    assert by_document[html].audience == "internal"
    assert by_document[chinese].text == "整机保修二十四个月。"

    rep = world["actors"]["east_rep"]
    assert knowledge_index.draft_for_text(session, rep, "zanzibar pricing").citations == []
    draft = knowledge_index.draft_for_text(session, rep, "Is the gateway Profinet certified?")
    assert draft.citations[0].id == f"doc-{pdf}-v1-0" and draft.text_en is not None
    assert (
        knowledge_index.citation_link(draft.citations[0].id) == f"/api/v1/documents/{pdf}/versions/1/content"
    )
    internal = knowledge_index.draft_for_text(session, rep, "commissioning days")
    assert internal.citations[0].source == "Installation guide (内部 / internal)"


def test_demo_seed_adds_the_pairs_once(session: Session, world: dict[str, Any]) -> None:
    admin = world["actors"]["admin"]
    assert seed_knowledge(session, admin) == len(QA_PAIRS) >= 12
    assert seed_knowledge(session, admin) == 0
    draft = knowledge_index.draft_for_text(session, admin, "Profinet 和 OPC UA 能同时用吗？")
    assert draft.citations and draft.citations[0].kind == "qa"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_draft_for_text_never_raises(session: Session, world: dict[str, Any], text: str) -> None:
    admin = world["actors"]["admin"]
    if not knowledge.list_knowledge(session, admin):
        seed_knowledge(session, admin)
    draft = knowledge_index.draft_for_text(session, admin, text)
    assert draft.status == "draft" and 0 <= draft.confidence <= 1


@given(text=st.text(max_size=3000), limit=st.integers(min_value=100, max_value=900))
def test_passages_are_short_and_keep_every_word(text: str, limit: int) -> None:
    pieces = list(_passages(_text_paragraphs(text), limit))
    assert all(0 < len(piece) <= limit for piece in pieces)
    assert "".join("".join(pieces).split()) == "".join("".join(_text_paragraphs(text)).split())


@given(
    content=st.one_of(st.binary(max_size=2000), st.text(max_size=2000).map(lambda t: t.encode("utf-8"))),
    content_type=st.sampled_from(
        [
            "text/plain",
            "text/markdown",
            "text/csv",
            "text/html; charset=latin-9",
            "application/pdf",
            "image/png",
        ]
    ),
)
def test_extracting_any_bytes_never_raises(content: bytes, content_type: str) -> None:
    paragraphs = _paragraphs(content, content_type, "property")
    assert all(isinstance(p, str) and p.strip() for p in paragraphs)


# --- the API ----------------------------------------------------------------------------------


@pytest.fixture
def api_world(company: dict[str, Any], session: Session) -> dict[str, Any]:
    east, west = _signals(session, company["east_rep"].id, company["west_rep"].id)
    session.commit()
    return {"headers": company["headers"], "east": east, "west": west}


def test_api_knowledge_crud_search_and_refusals(client: TestClient, api_world: dict[str, Any]) -> None:
    headers = api_world["headers"]
    body = {
        "question": "交付延迟怎么办？",
        "answer": "交付延迟时我们补偿一个月维保。",
        "source": "FAQ · 交付",
    }
    assert client.post(f"{API}/knowledge", json=body, headers=headers["east_rep"]).status_code == 403
    assert client.get(f"{API}/knowledge", headers=headers["member"]).status_code == 403
    assert client.get(f"{API}/knowledge", headers=headers["customer"]).status_code == 403
    created = client.post(f"{API}/knowledge", json=body, headers=headers["east_manager"])
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["kind"] == "qa" and entry["source"] == "FAQ · 交付"

    bad = client.post(f"{API}/knowledge", json={"question": "", "answer": "a"}, headers=headers["admin"])
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"{API}/knowledge", headers=headers["east_rep"]).json()[0]["id"] == entry["id"]
    assert client.get(f"{API}/knowledge/999999", headers=headers["east_rep"]).status_code == 404

    hits = client.get(f"{API}/knowledge/search", params={"q": "交付延迟"}, headers=headers["east_rep"]).json()
    assert hits[0]["id"] == f"qa-{entry['id']}" and hits[0]["link"] == f"/radar/knowledge/{entry['id']}"
    assert hits[0]["matched"]

    patched = client.patch(
        f"{API}/knowledge/{entry['id']}", json={"answer": "补偿两个月维保。"}, headers=headers["east_manager"]
    )
    assert patched.status_code == 200 and patched.json()["answer"] == "补偿两个月维保。"
    assert client.delete(f"{API}/knowledge/{entry['id']}", headers=headers["east_rep"]).status_code == 403
    assert client.delete(f"{API}/knowledge/{entry['id']}", headers=headers["admin"]).status_code == 204
    assert client.get(f"{API}/knowledge", headers=headers["admin"]).json() == []
    archived = client.get(f"{API}/knowledge", params={"include_archived": True}, headers=headers["admin"])
    assert archived.json()[0]["archived"] is True


def test_api_draft_and_replies(client: TestClient, api_world: dict[str, Any]) -> None:
    headers = api_world["headers"]
    east = api_world["east"]
    body = {"question": "交付延迟怎么办？", "answer": "交付延迟时我们补偿一个月维保。"}
    entry = client.post(f"{API}/knowledge", json=body, headers=headers["admin"]).json()
    draft = client.get(f"{API}/signals/{east}/draft", headers=headers["east_rep"])
    assert draft.status_code == 200, draft.text
    data = draft.json()
    assert data["status"] == "draft" and COMPLAINT in data["question"]
    assert data["citations"][0] == {
        "number": 1,
        "id": f"qa-{entry['id']}",
        "kind": "qa",
        "source": "FAQ",
        "snippet": data["citations"][0]["snippet"],
        "score": data["citations"][0]["score"],
        "link": f"/radar/knowledge/{entry['id']}",
    }
    assert client.get(f"{API}/signals/{east}/draft", headers=headers["west_rep"]).status_code == 404
    assert client.get(f"{API}/signals/{east}/draft", headers=headers["member"]).status_code == 403

    reply = {"text": "已补偿一个月维保。", "share": True}
    saved = client.post(f"{API}/signals/{east}/replies", json=reply, headers=headers["east_rep"])
    assert saved.status_code == 201, saved.text
    assert saved.json()["shared"] is True and saved.json()["knowledge_id"]
    hidden = client.post(f"{API}/signals/{east}/replies", json=reply, headers=headers["west_rep"])
    assert hidden.status_code == 404
    empty = client.post(f"{API}/signals/{east}/replies", json={"text": ""}, headers=headers["east_rep"])
    assert empty.status_code == 422
