"""Pages: AI suggestions on a deal (risk flags, next steps, the account's renewal risk) and
their verification.

``opportunities/detail.html`` loads the panel after the page with htmx (``outerHTML``). The
panel is always a 200 fragment for a deal its viewer may read and a 404 for one they may
not. Each insight is marked "AI suggestion"; its owner (or their manager) may verify it with
a written note or dismiss it, through ``forecast.service.guardrail`` (each one an event). A
refused verification comes back as the panel with the message beside the note (422).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy.orm import Session

from pathcast.auth.permissions import may
from pathcast.crm import models as m
from pathcast.deps import DbSession
from pathcast.errors import InvalidInput, NotFound
from pathcast.events import events_savepoint
from pathcast.forecast.models import Insight
from pathcast.forecast.service import guardrail
from pathcast.web.activities import load_anchor
from pathcast.web.forms import PostedForm, message
from pathcast.web.panels import DealPanel
from pathcast.web.rendering import PageContext
from pathcast.web.security import FormPage, Page

router = APIRouter(include_in_schema=False)


@dataclass
class VerifyForm:
    """The note typed for one insight and the message beside it."""

    insight_id: int | None = None
    note: str = ""
    error: str | None = None


def _load_deal(session: Session, page: PageContext, opportunity_id: int) -> m.Opportunity:
    deal: m.Opportunity = load_anchor(session, page, "opportunity", opportunity_id).record
    return deal


def _deal_insights(session: Session, page: PageContext, deal: m.Opportunity) -> list[Insight]:
    """The deal's own insights, then its account's (a renewal risk concerns the deal too)."""
    if not may(page.actor, "forecast", "read"):
        return []
    own = guardrail.list_insights(session, actor=page.actor, opportunity_id=deal.id)
    account = [
        insight
        for insight in guardrail.list_insights(session, actor=page.actor, account_id=deal.account_id)
        if insight.opportunity_id is None
    ]
    return own + account


def panel_context(
    session: Session, page: PageContext, deal: m.Opportunity, form: VerifyForm | None = None
) -> dict[str, Any]:
    """What the panel shows, in the viewer's language."""
    insights = _deal_insights(session, page, deal)
    zh = page.locale == "zh-CN"
    items = [
        {
            "insight": insight,
            "text": insight.text_zh if zh else insight.text_en,
            "status": guardrail.insight_status(insight),
            "can_act": guardrail.insight_status(insight) == "open"
            and guardrail.may_vouch(session, page.actor, insight),
        }
        for insight in insights
    ]
    return {
        "deal": deal,
        "items": items,
        "required": guardrail.verification_required(session),
        "form": form or VerifyForm(),
        "action": f"/opportunities/{deal.id}/insights-panel",
        "min_note": guardrail.MIN_NOTE_LENGTH,
    }


PANEL = DealPanel("opportunities/insights_panel.html", "insights-panel", panel_context)


@router.get("/opportunities/{opportunity_id}/insights-panel")
def insights_panel(page: Page, session: DbSession, opportunity_id: int) -> Response:
    """The AI suggestions of a deal, as an HTML fragment."""
    deal = _load_deal(session, page, opportunity_id)
    return PANEL.render(session, page, deal)


def _insight_of(session: Session, page: PageContext, deal: m.Opportunity, insight_id: int) -> Insight:
    for insight in _deal_insights(session, page, deal):
        if insight.id == insight_id:
            return insight
    raise NotFound(entity="insight", id=insight_id)


@router.post("/opportunities/{opportunity_id}/insights-panel/{insight_id}/verify")
def verify(
    page: FormPage, session: DbSession, form: PostedForm, opportunity_id: int, insight_id: int
) -> Response:
    """Verify a suggestion with a written note and show the panel again."""
    deal = _load_deal(session, page, opportunity_id)
    insight = _insight_of(session, page, deal, insight_id)
    note = (form.get("note") or "").strip()
    try:
        with events_savepoint(session):
            guardrail.verify_insight(session, actor=page.actor, insight_id=insight.id, note=note)
    except InvalidInput as refused:
        text = message(refused.errors[0], page.locale) if refused.errors else ""
        return PANEL.render(
            session, page, deal, VerifyForm(insight_id=insight.id, note=note, error=text), status=422
        )
    return PANEL.done(session, page, deal)


@router.post("/opportunities/{opportunity_id}/insights-panel/{insight_id}/dismiss")
def dismiss(
    page: FormPage, session: DbSession, form: PostedForm, opportunity_id: int, insight_id: int
) -> Response:
    """Dismiss a suggestion and show the panel again."""
    deal = _load_deal(session, page, opportunity_id)
    insight = _insight_of(session, page, deal, insight_id)
    guardrail.dismiss_insight(session, actor=page.actor, insight_id=insight.id, note=form.get("note") or None)
    return PANEL.done(session, page, deal)
