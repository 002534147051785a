"""The knowledge-base page and the signal page's FAQ panel through the real application, on
SQLite and PostgreSQL: zh and en pages, managers add, edit and archive Q&A pairs (422 with
the values kept on bad input), reps read and may not add, the panel's draft, citations
and empty state, recording and sharing a reply (htmx and plain posts), and the refusals
(member → 403, another team's signal → 404).

The world (users, accounts, analysed signals) is the radar pages' fixture.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.radar import models as m
from pathcast.radar.service import knowledge
from tests import factories as f
from tests.web.test_radar_pages import RadarWorld, client, sign_in, world

__all__ = ["client", "world"]

QUESTION = "交付延迟怎么办？"
ANSWER = "交付延迟时我们补偿一个月维保，并安排专人跟进。"


def _add(session: Session, question: str = QUESTION, answer: str = ANSWER) -> int:
    entry = knowledge.add_qa(session, f.SYSTEM, question=question, answer=answer, source="FAQ · 交付")
    session.commit()
    return entry.id


def test_rep_reads_the_knowledge_page_in_chinese_but_cannot_add(
    client: TestClient, world: RadarWorld, session: Session
) -> None:
    entry_id = _add(session)
    token = sign_in(client, "rep@example.com")
    page = client.get("/radar/knowledge")
    assert page.status_code == 200
    assert "知识库" in page.text and QUESTION in page.text
    assert 'data-testid="knowledge-readonly"' in page.text and 'data-testid="add-form"' not in page.text
    refused = client.post(
        "/radar/knowledge", data={"csrf_token": token, "question": "q", "answer": "a"}, follow_redirects=False
    )
    assert refused.status_code == 403
    archive = client.post(
        f"/radar/knowledge/{entry_id}/archive", data={"csrf_token": token}, follow_redirects=False
    )
    assert archive.status_code == 403
    search = client.get("/radar/knowledge", params={"q": "交付延迟"})
    assert 'data-testid="search-citations"' in search.text and f'data-id="qa-{entry_id}"' in search.text
    entry = client.get(f"/radar/knowledge/{entry_id}")
    assert entry.status_code == 200 and 'data-testid="edit-form"' not in entry.text


def test_manager_adds_edits_and_archives_in_english(
    client: TestClient, world: RadarWorld, session: Session
) -> None:
    token = sign_in(client, "manager@example.com")
    page = client.get("/radar/knowledge")
    assert page.status_code == 200 and "Knowledge base" in page.text
    assert 'data-testid="knowledge-empty"' in page.text

    bad = client.post("/radar/knowledge", data={"csrf_token": token, "question": "  ", "answer": ANSWER})
    assert bad.status_code == 422
    assert 'data-testid="add-error-question"' in bad.text and ANSWER in bad.text
    too_long = client.post(
        "/radar/knowledge", data={"csrf_token": token, "question": "q", "answer": "a", "source": "s" * 201}
    )
    assert too_long.status_code == 422 and 'data-testid="add-error-source"' in too_long.text

    added = client.post(
        "/radar/knowledge",
        data={"csrf_token": token, "question": QUESTION, "answer": ANSWER, "source": ""},
        follow_redirects=False,
    )
    assert added.status_code == 303
    entry_id = session.scalar(select(m.Knowledge.id).where(m.Knowledge.question == QUESTION))
    session.commit()
    assert entry_id is not None
    listed = client.get("/radar/knowledge?done=added")
    assert "The Q&amp;A pair was added." in listed.text and f'data-id="{entry_id}"' in listed.text

    edit = client.get(f"/radar/knowledge/{entry_id}")
    assert 'data-testid="edit-form"' in edit.text
    refused = client.post(
        f"/radar/knowledge/{entry_id}", data={"csrf_token": token, "question": QUESTION, "answer": ""}
    )
    assert refused.status_code == 422 and 'data-testid="edit-error-answer"' in refused.text
    saved = client.post(
        f"/radar/knowledge/{entry_id}",
        data={"csrf_token": token, "question": QUESTION, "answer": "补偿两个月维保。", "source": "FAQ"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert "补偿两个月维保。" in client.get(saved.headers["location"]).text

    archived = client.post(
        f"/radar/knowledge/{entry_id}/archive", data={"csrf_token": token}, follow_redirects=False
    )
    assert archived.status_code == 303
    assert 'data-testid="knowledge-empty"' in client.get("/radar/knowledge").text
    assert f'data-id="{entry_id}"' in client.get("/radar/knowledge?archived=1").text


def test_member_is_refused(client: TestClient, world: RadarWorld) -> None:
    sign_in(client, "member@example.com")
    assert client.get("/radar/knowledge").status_code == 403
    assert client.get(f"/radar/signals/{world.complaint_id}/faq-panel").status_code == 403


def test_faq_panel_empty_state_then_a_cited_draft(
    client: TestClient, world: RadarWorld, session: Session
) -> None:
    sign_in(client, "rep@example.com")
    signal_page = client.get(f"/radar/signals/{world.complaint_id}")
    assert f'hx-get="/radar/signals/{world.complaint_id}/faq-panel"' in signal_page.text
    empty = client.get(f"/radar/signals/{world.complaint_id}/faq-panel")
    assert empty.status_code == 200
    assert 'id="radar-faq-panel"' in empty.text and 'data-testid="faq-empty"' in empty.text
    assert 'href="/radar/knowledge"' in empty.text

    entry_id = _add(session)
    panel = client.get(f"/radar/signals/{world.complaint_id}/faq-panel")
    assert panel.status_code == 200
    assert 'data-testid="draft-badge"' in panel.text and "草稿" in panel.text
    draft = re.search(r'data-testid="faq-draft">(.*?)</textarea>', panel.text, re.S)
    assert draft is not None and ANSWER in draft.group(1) and "【草稿" in draft.group(1)
    assert f'href="/radar/knowledge/{entry_id}"' in panel.text
    assert 'data-testid="faq-confidence"' in panel.text and "置信度" in panel.text

    sign_in(client, "manager@example.com")
    english = client.get(f"/radar/signals/{world.complaint_id}/faq-panel")
    assert "FAQ draft" in english.text and "Confidence" in english.text

    sign_in(client, "west@example.com")
    assert client.get(f"/radar/signals/{world.complaint_id}/faq-panel").status_code == 404


def test_a_rep_records_and_shares_the_reply_they_sent(
    client: TestClient, world: RadarWorld, session: Session
) -> None:
    _add(session)
    token = sign_in(client, "rep@example.com")
    url = f"/radar/signals/{world.complaint_id}/replies"
    empty = client.post(url, data={"csrf_token": token, "text": " "}, headers={"HX-Request": "true"})
    assert empty.status_code == 422 and 'data-testid="reply-error"' in empty.text

    shared = client.post(
        url,
        data={"csrf_token": token, "text": "已补偿一个月维保。", "share": "1"},
        headers={"HX-Request": "true"},
    )
    assert shared.status_code == 200
    assert 'data-testid="reply-saved"' in shared.text and 'id="radar-faq-panel"' in shared.text
    entry = session.scalar(select(m.Knowledge).where(m.Knowledge.kind == "reply"))
    session.commit()
    assert entry is not None and entry.answer == "已补偿一个月维保。" and entry.item_id == world.complaint_id

    plain = client.post(url, data={"csrf_token": token, "text": "电话沟通过了。"}, follow_redirects=False)
    assert plain.status_code == 303
    assert plain.headers["location"] == f"/radar/signals/{world.complaint_id}#radar-faq-panel"
    assert session.scalar(select(m.Knowledge.id).where(m.Knowledge.answer == "电话沟通过了。")) is None
    session.commit()  # end the read: SQLite's write lock must not outlive it

    no_token = client.post(url, data={"text": "x"}, follow_redirects=False)
    assert no_token.status_code in (400, 403)

    west_token = sign_in(client, "west@example.com")
    hidden = client.post(url, data={"csrf_token": west_token, "text": "x"}, follow_redirects=False)
    assert hidden.status_code == 404
