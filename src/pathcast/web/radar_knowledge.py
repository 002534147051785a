"""Radar pages, response toolbox: the knowledge base and the signal page's FAQ panel.

``/radar/knowledge`` lists the Q&A pairs and shared replies, with a search box that shows
what a draft would cite for a question; managers and admins add, edit and archive
entries there (reps read). ``/radar/knowledge/{id}`` shows one entry (a citation's link)
with its edit form.

The signal page loads ``/radar/signals/{id}/faq-panel`` after the page (htmx, outerHTML):
the cited draft in an editable textarea marked as a draft, its numbered citations, the
confidence with its reasons, and a form to record the reply the rep sent (optionally
shared as knowledge). Nothing is sent from here. A refused form comes back with the
message beside its field and the text kept (422); a plain browser post is redirected
back (303).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from pathcast.deps import DbSession
from pathcast.errors import FieldError, InvalidInput
from pathcast.events import events_savepoint
from pathcast.radar import models as m
from pathcast.radar.service import knowledge, knowledge_index
from pathcast.radar.toolbox.faq import Draft
from pathcast.web.forms import PostedForm, is_htmx, message
from pathcast.web.radar import RadarFormPage, RadarPage
from pathcast.web.rendering import PageContext, render

router = APIRouter(include_in_schema=False)

PANEL_ID = "radar-faq-panel"
FORM_FIELDS = ("question", "answer", "source")


@dataclass
class EntryForm:
    """What was typed into a Q&A form and the messages beside its fields."""

    question: str = ""
    answer: str = ""
    source: str = ""
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class ReplyForm:
    """The reply typed into the FAQ panel, whether to share it, and its message."""

    text: str = ""
    share: bool = False
    error: str | None = None
    saved: bool = False
    shared_id: int | None = None


def _typed(form: dict[str, str]) -> EntryForm:
    """The Q&A form's fields as typed (kept to show again beside a message)."""
    return EntryForm(
        question=form.get("question", ""), answer=form.get("answer", ""), source=form.get("source", "")
    )


def _lang(page: PageContext) -> str:
    return "zh" if page.locale == "zh-CN" else "en"


def _errors(page: PageContext, error: InvalidInput, names: tuple[str, ...]) -> dict[str, str]:
    """``{field: sentence}``; a problem with no field of the form goes under ``""``."""
    found: dict[str, str] = {}
    for problem in error.errors:
        key = problem.field if problem.field in names else ""
        found.setdefault(key, message(problem, page.locale))
    return found


def _citations(draft: Draft) -> list[dict[str, Any]]:
    return [
        {
            "number": number,
            "id": citation.id,
            "kind": citation.kind,
            "source": citation.source,
            "snippet": citation.snippet,
            "score": citation.score,
            "link": knowledge_index.citation_link(citation.id),
        }
        for number, citation in enumerate(draft.citations, 1)
    ]


def draft_view(page: PageContext, draft: Draft) -> dict[str, Any]:
    """A draft as a page shows it: the text in the page's language where the draft has
    it (a Chinese question keeps the Chinese draft), citations, confidence, reasons."""
    lang = _lang(page)
    return {
        "text": draft.text_en if lang == "en" and draft.text_en else draft.text_zh,
        "citations": _citations(draft),
        "confidence": round(draft.confidence * 100),
        "reasons": [reason.get(lang) or reason.get("en", "") for reason in draft.reasons],
    }


# --- the knowledge page ---------------------------------------------------------------------


def _knowledge_page(
    page: PageContext,
    session: Session,
    *,
    q: str = "",
    archived: bool = False,
    entry: m.Knowledge | None = None,
    form: EntryForm | None = None,
    edit: EntryForm | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    actor = page.actor
    entries = knowledge.list_knowledge(session, actor, include_archived=archived)
    query = q.strip()
    index = knowledge_index.knowledge_index(session)
    preview = None
    if query:
        preview = draft_view(page, knowledge_index.draft_for_text(session, actor, query, index=index))
    if entry is not None and edit is None:
        edit = EntryForm(question=entry.question or "", answer=entry.answer, source=entry.source)
    context = {
        "entries": entries,
        "q": query,
        "archived": archived,
        "preview": preview,
        "can_edit": knowledge.may_edit_knowledge(actor),
        "form": form or EntryForm(),
        "entry": entry,
        "edit": edit,
        "notice": notice,
        "indexed": len(index),
    }
    return render(page, "radar/knowledge.html", context, status_code=status_code)


@router.get("/radar/knowledge")
def knowledge_list(
    page: RadarPage, session: DbSession, q: str = "", archived: str | None = None, done: str | None = None
) -> Response:
    """The knowledge base: search preview, entries, and the add form for editors."""
    knowledge.require_toolbox(page.actor, "read")
    notice = page.t(f"radar_knowledge.notice.{done}") if done in ("added", "archived") else None
    return _knowledge_page(page, session, q=q[:2000], archived=archived == "1", notice=notice)


@router.post("/radar/knowledge")
def knowledge_add(page: RadarFormPage, session: DbSession, form: PostedForm) -> Response:
    """Add a Q&A pair (managers and admins); a refused one comes back with its values (422)."""
    knowledge.require_toolbox(page.actor, "create")
    typed = _typed(form)
    try:
        with events_savepoint(session):
            knowledge.add_qa(
                session, page.actor, question=typed.question, answer=typed.answer, source=typed.source or None
            )
    except InvalidInput as error:
        typed.errors = _errors(page, error, FORM_FIELDS)
        return _knowledge_page(page, session, form=typed, status_code=422)
    return RedirectResponse("/radar/knowledge?done=added", status_code=303)


@router.get("/radar/knowledge/{knowledge_id}")
def knowledge_entry(
    page: RadarPage, session: DbSession, knowledge_id: int, saved: str | None = None
) -> Response:
    """One entry (where a citation leads), with its edit form for editors."""
    entry = knowledge.get_knowledge(session, page.actor, knowledge_id)
    notice = page.t("radar_knowledge.notice.saved") if saved == "1" else None
    return _knowledge_page(page, session, entry=entry, archived=entry.archived, notice=notice)


@router.post("/radar/knowledge/{knowledge_id}")
def knowledge_edit(page: RadarFormPage, session: DbSession, form: PostedForm, knowledge_id: int) -> Response:
    """Save an entry's question, answer and source (managers and admins)."""
    knowledge.require_toolbox(page.actor, "update")
    entry = knowledge.get_knowledge(session, page.actor, knowledge_id)
    typed = _typed(form)
    try:
        with events_savepoint(session):
            knowledge.update_qa(
                session,
                page.actor,
                knowledge_id,
                # A shared reply has no question: its form has no such field.
                question=typed.question if entry.kind == "qa" else None,
                answer=typed.answer,
                source=typed.source,
            )
    except InvalidInput as error:
        typed.errors = _errors(page, error, FORM_FIELDS)
        session.refresh(entry)
        return _knowledge_page(page, session, entry=entry, edit=typed, status_code=422)
    return RedirectResponse(f"/radar/knowledge/{knowledge_id}?saved=1", status_code=303)


@router.post("/radar/knowledge/{knowledge_id}/archive")
def knowledge_archive(page: RadarFormPage, session: DbSession, knowledge_id: int) -> Response:
    """Archive an entry: drafts stop citing it (managers and admins)."""
    knowledge.archive_knowledge(session, page.actor, knowledge_id)
    return RedirectResponse("/radar/knowledge?done=archived", status_code=303)


# --- the FAQ panel of a signal --------------------------------------------------------------


def _render_panel(
    page: PageContext,
    session: Session,
    item_id: int,
    reply: ReplyForm | None = None,
    *,
    status_code: int = 200,
) -> Response:
    index = knowledge_index.knowledge_index(session)
    draft = knowledge_index.draft_for_signal(session, page.actor, item_id, index=index)
    context = {
        "item_id": item_id,
        "panel_id": PANEL_ID,
        "empty": len(index) == 0,
        "draft": draft_view(page, draft),
        "reply": reply or ReplyForm(),
        "can_edit": knowledge.may_edit_knowledge(page.actor),
    }
    return render(page, "radar/_faq_panel.html", context, status_code=status_code)


@router.get("/radar/signals/{item_id}/faq-panel")
def faq_panel(page: RadarPage, session: DbSession, item_id: int) -> Response:
    """The cited draft reply of a signal, as an HTML fragment (404 for a hidden signal)."""
    return _render_panel(page, session, item_id)


@router.post("/radar/signals/{item_id}/replies")
def save_reply(page: RadarFormPage, session: DbSession, form: PostedForm, item_id: int) -> Response:
    """Record the reply the rep sent (optionally shared as knowledge); the panel again for
    htmx, else back to the signal page (303)."""
    reply = ReplyForm(text=form.get("text", ""), share=form.get("share") in ("1", "on", "true"))
    try:
        with events_savepoint(session):
            saved = knowledge.save_reply(session, page.actor, item_id, reply.text, share=reply.share)
    except InvalidInput as error:
        first: FieldError | None = error.errors[0] if error.errors else None
        reply.error = (
            message(first, page.locale) if first is not None else page.t("radar_knowledge.panel.refused")
        )
        return _render_panel(page, session, item_id, reply, status_code=422)
    if not is_htmx(page.request):
        return RedirectResponse(f"/radar/signals/{item_id}#{PANEL_ID}", status_code=303)
    done = ReplyForm(saved=True, shared_id=saved.knowledge.id if saved.knowledge is not None else None)
    return _render_panel(page, session, item_id, done)
