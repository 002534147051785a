"""Hive pages, the message archive: the hive page's ``archive-panel``.

- ``GET /hives/{id}/archive-panel?q=``: the hive's messages newest first (channel, sender,
  time, subject, a snippet, attachment names, why each was filed here), or those matching
  the search box (Chinese or English) with the matched words highlighted;
- ``POST /hives/{id}/archive-panel/move``: move a misfiled message to another hive the
  viewer may read (the filer learns from it).

Everything goes through ``hives.service.archive`` / ``archive_search`` with the viewer's
Actor: a hive the viewer may not read is a 404, customer contacts get 403. A refused move
comes back as the panel (422) with the message beside that message's form and the choice
kept; an accepted one returns the panel for htmx, or 303 back to ``/hives/{id}#archive-panel``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from pathcast.auth.permissions import may
from pathcast.deps import DbSession
from pathcast.errors import FieldError, InvalidInput, PermissionDenied
from pathcast.hives import models as m
from pathcast.hives.service import archive, archive_search
from pathcast.hives.service.access import get_hive, readable_hives
from pathcast.web.forms import PostedForm, is_htmx
from pathcast.web.rendering import PageContext, render
from pathcast.web.security import FormPage, Page

router = APIRouter(include_in_schema=False)

PANEL_LIMIT = 50
MOVE_CHOICES = 200
BODY_PREVIEW = 160
CHANNELS = ("email", "wecom", "dingtalk", "webhook", "csv", "message")


def archive_page(page: Page) -> PageContext:
    """The panel: refused (403) to roles without the ``hive`` right (customer contacts)."""
    if not may(page.actor, "hive", "read"):
        raise PermissionDenied("forbidden_model", entity="hive")
    return page


def archive_form_page(page: FormPage) -> PageContext:
    """A posted move: CSRF checked by ``FormPage``, then the ``hive`` right."""
    if not may(page.actor, "hive", "read"):
        raise PermissionDenied("forbidden_model", entity="hive")
    return page


ArchivePage = Annotated[PageContext, Depends(archive_page)]
ArchiveFormPage = Annotated[PageContext, Depends(archive_form_page)]


def _int(raw: str | None) -> int | None:
    text = (raw or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


def _reason_lines(page: PageContext, message: m.Message) -> list[dict[str, Any]]:
    lang = "zh" if page.locale == "zh-CN" else "en"
    return [
        {
            "kind": reason.get("kind", ""),
            "text": reason.get(lang) or reason.get("en") or "",
            "weight": reason.get("weight", 0),
        }
        for reason in message.reasons or []
    ]


def _preview(message: m.Message) -> str:
    flat = " ".join((message.body or "").split())
    return flat if len(flat) <= BODY_PREVIEW else flat[:BODY_PREVIEW] + "…"


def _move_choices(session: Session, page: PageContext, hive: m.Hive) -> list[tuple[int, str]]:
    """The other hives the viewer may read, open ones first."""
    hives = list(
        session.scalars(
            readable_hives(page.actor).where(m.Hive.id != hive.id).order_by(m.Hive.name).limit(MOVE_CHOICES)
        )
    )
    hives.sort(key=lambda other: other.status not in archive.OPEN_STATUSES)
    return [(other.id, other.name) for other in hives]


def _panel(
    session: Session,
    page: PageContext,
    hive_id: int,
    *,
    q: str = "",
    errors: dict[int, str] | None = None,
    chosen: dict[int, str] | None = None,
    status_code: int = 200,
) -> Response:
    actor = page.actor
    hive = get_hive(session, actor, hive_id)
    query = q.strip()
    search_error = ""
    rows: list[dict[str, Any]] = []
    found: list[tuple[m.Message, Any]] = []
    if query:
        try:
            found = [
                (hit.message, hit.snippet_html)
                for hit in archive_search.search(session, actor, q=query, hive_id=hive.id, limit=PANEL_LIMIT)
            ]
        except InvalidInput:
            search_error = page.t("hives_archive.search.too_long", max=archive_search.QUERY_MAX)
    else:
        found = [
            (message, _preview(message))
            for message in archive_search.hive_messages(session, actor, hive_id=hive.id, limit=PANEL_LIMIT)
        ]
    for message, snippet in found:
        rows.append(
            {
                "message": message,
                "channel": message.channel if message.channel in CHANNELS else "message",
                "snippet": snippet,
                "reasons": _reason_lines(page, message),
                "attachments": [str(item.get("name", "")) for item in message.attachments or []],
            }
        )
    may_move = may(actor, "hive", "update")
    context = {
        "hive": hive,
        "rows": rows,
        "q": query,
        "search_error": search_error,
        "may_move": may_move,
        "choices": _move_choices(session, page, hive) if may_move and rows else [],
        "errors": errors or {},
        "chosen": chosen or {},
    }
    return render(page, "hives/_archive_panel.html", context, status_code=status_code)


@router.get("/hives/{hive_id}/archive-panel")
def archive_panel(page: ArchivePage, session: DbSession, hive_id: int, q: str = "") -> Response:
    """The hive's message archive (or the search box's hits) as an htmx fragment."""
    return _panel(session, page, hive_id, q=q[: archive_search.QUERY_MAX * 2])


def _move_error(page: PageContext, error: FieldError) -> str:
    key = f"hives_archive.errors.{error.code}"
    return page.fmt.label(key, page.t("hives_archive.errors.invalid"))


@router.post("/hives/{hive_id}/archive-panel/move")
def archive_move(page: ArchiveFormPage, session: DbSession, form: PostedForm, hive_id: int) -> Response:
    """Move one of the hive's messages to another hive; the panel again (or 303 back)."""
    hive = get_hive(session, page.actor, hive_id)
    message = archive_search.message_in_hive(
        session, page.actor, hive_id=hive.id, message_id=_int(form.get("message_id"))
    )
    target = _int(form.get("to_hive_id"))
    try:
        if target is None:
            raise InvalidInput.single("to_hive_id", "missing")
        archive.move_message(session, page.actor, message_id=message.id, to_hive_id=target)
    except InvalidInput as refused:
        return _panel(
            session,
            page,
            hive.id,
            errors={message.id: _move_error(page, refused.errors[0])},
            chosen={message.id: form.get("to_hive_id", "")},
            status_code=422,
        )
    if not is_htmx(page.request):
        return RedirectResponse(f"/hives/{hive.id}#archive-panel", status_code=303)
    return _panel(session, page, hive.id)
