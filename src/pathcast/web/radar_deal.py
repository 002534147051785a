"""The deal page's response toolbox (``/opportunities/{id}/toolbox-panel``): a cited FAQ
draft for the customer's question, and the competitor-matrix rows for the competitors the
deal's description and recent notes name. (Similar won deals are the cases panel.)

The question box is a GET form that htmx re-submits into the same panel, so nothing is
written: drafts are never stored or sent. The deal is read through crm's scoping
(``won_deals.deal_facts``): a deal the viewer may not read is a 404, like a missing one.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from pathcast.crm.service import won_deals
from pathcast.deps import DbSession
from pathcast.radar.service import knowledge, knowledge_index
from pathcast.radar.service import matrix as matrix_service
from pathcast.web.radar import RadarPage
from pathcast.web.radar_knowledge import draft_view
from pathcast.web.radar_matrix import may_edit
from pathcast.web.rendering import render

router = APIRouter(include_in_schema=False)

QUESTION_MAX = 2000


@router.get("/opportunities/{opportunity_id}/toolbox-panel")
def deal_toolbox_panel(page: RadarPage, session: DbSession, opportunity_id: int, q: str = "") -> Response:
    """The toolbox for one deal: a draft for ``q`` (when asked) and the matrix rows that matter."""
    deal = won_deals.deal_facts(session, page.actor, opportunity_id)
    deal_text = "\n".join(part for part in (deal.name, deal.description, deal.notes) if part)
    found = matrix_service.text_matrix(session, page.actor, deal_text)
    groups: dict[str, list[Any]] = {name: [] for name in found.competitors}
    for row in found.rows:
        groups.setdefault(row.competitor, []).append(row)
    question = q.strip()[:QUESTION_MAX]
    draft = None
    empty = False
    if question:
        index = knowledge_index.knowledge_index(session)
        empty = len(index) == 0
        draft = draft_view(page, knowledge_index.draft_for_text(session, page.actor, question, index=index))
    context = {
        "deal_id": opportunity_id,
        "question": question,
        "draft": draft,
        "empty": empty,
        "found": found,
        "groups": groups,
        "can_edit": may_edit(page.actor),
        "can_edit_knowledge": knowledge.may_edit_knowledge(page.actor),
        "lang": "zh" if page.locale == "zh-CN" else "en",
    }
    return render(page, "radar/_deal_toolbox_panel.html", context)
