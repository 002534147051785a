"""The contact record page: fields edited in place, the account, the deals the contact
is on, behaviour (``signals.py``), activities and the timeline. (The contact list
belongs to ``lists.py``.)"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from pathcast.crm import models as m
from pathcast.deps import DbSession
from pathcast.web.activities import load_anchor
from pathcast.web.lookups import stages_by_id, user_names
from pathcast.web.records import base_context, related
from pathcast.web.rendering import render
from pathcast.web.security import Page
from pathcast.web.signals import contact_behaviour

router = APIRouter(include_in_schema=False)


@router.get("/contacts/{contact_id}")
def contact_detail(page: Page, session: DbSession, contact_id: int) -> Response:
    """A contact the viewer may see (404 otherwise)."""
    anchor = load_anchor(session, page, "contact", contact_id)
    contact: m.Contact = anchor.record
    deals = related(session, page.actor, "opportunity", {"contact_id": str(contact.id)}, "-updated_at")
    context = {
        **base_context(session, page, anchor),
        "contact": contact,
        "deals": deals,
        "stages": stages_by_id(session, [deal.stage_id for deal in deals]),
        "people": user_names(session, [deal.owner_id for deal in deals]),
        "behaviour": contact_behaviour(session, page, contact.id),
    }
    return render(page, "contacts/detail.html", context)
