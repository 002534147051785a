"""Opportunity and account pages: searchable lists and detail pages.

Every read goes through ``list_records`` / ``get_readable`` with the viewer's Actor,
so the pages show exactly what the API would; a record the viewer may not see is a
404 page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy.orm import Session

from pathcast.auth.permissions import may
from pathcast.crm import models as m
from pathcast.crm.service import SPECS, EntitySpec, get_readable, list_records, stage_history
from pathcast.deps import DbSession
from pathcast.errors import InvalidInput, NotFound
from pathcast.web.lookups import account_names, stages_by_id, user_names
from pathcast.web.rendering import PageContext, render
from pathcast.web.security import Page
from pathcast.web.timeline import record_timeline

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
MAX_QUERY = 200
OPPORTUNITY = SPECS["opportunity"]
ACCOUNT = SPECS["account"]
CONTACT = SPECS["contact"]

OPPORTUNITY_SORTS = {
    "-updated_at": "list.sort.recent",
    "expected_close_date": "list.sort.close_date",
    "-amount": "list.sort.amount_desc",
    "name": "list.sort.name",
    "-created_at": "list.sort.newest",
}
ACCOUNT_SORTS = {
    "name": "list.sort.name",
    "-updated_at": "list.sort.recent",
    "-annual_revenue": "list.sort.revenue_desc",
    "-employees": "list.sort.employees_desc",
}
OPPORTUNITY_STATUSES = ("", "open", "won", "lost")


@dataclass
class ListView:
    """One page of a list, with what the form and the pager need."""

    items: list[Any]
    total: int
    next_url: str | None
    first_url: str | None
    q: str
    sort: str
    params: dict[str, str]
    errors: list[str] = field(default_factory=list)


def _query_string(params: dict[str, str], **extra: str) -> str:
    values = {key: value for key, value in {**params, **extra}.items() if value}
    return urlencode(values)


def list_view(
    session: Session,
    page: PageContext,
    spec: EntitySpec,
    *,
    path: str,
    q: str | None,
    sort: str | None,
    sorts: dict[str, str],
    cursor: str | None,
    filters: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> ListView:
    """Run a scoped list query; input the service refuses becomes messages on the page."""
    text = (q or "").strip()[:MAX_QUERY]
    chosen = sort if sort in sorts else next(iter(sorts))
    errors: list[str] = []
    if sort and sort not in sorts:
        errors.append(page.t("list.unknown_sort"))
    form = {"q": text, "sort": chosen, **(params or {})}
    items: list[Any] = []
    total = 0
    next_cursor = None
    try:
        items, next_cursor, total = list_records(
            session,
            page.actor,
            spec,
            filters=filters,
            search=text or None,
            sort=chosen,
            cursor=cursor or None,
            limit=PAGE_SIZE,
        )
    except InvalidInput as error:
        errors.extend(page.t(f"errors.field.{item.code}", **item.params) for item in error.errors)
    return ListView(
        items=items,
        total=total,
        next_url=f"{path}?{_query_string(form, cursor=next_cursor)}" if next_cursor else None,
        first_url=f"{path}?{_query_string(form)}" if cursor else None,
        q=text,
        sort=chosen,
        params=form,
        errors=errors,
    )


@router.get("/opportunities")
def opportunities(
    page: Page,
    session: DbSession,
    q: str | None = None,
    sort: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
) -> Response:
    """Deals the viewer may see: search, sort, filter by status, page by cursor."""
    chosen_status = status or ""
    status_error = chosen_status not in OPPORTUNITY_STATUSES
    if status_error:
        chosen_status = ""
    view = list_view(
        session,
        page,
        OPPORTUNITY,
        path="/opportunities",
        q=q,
        sort=sort,
        sorts=OPPORTUNITY_SORTS,
        cursor=cursor,
        filters={"status": chosen_status} if chosen_status else None,
        params={"status": chosen_status},
    )
    if status_error:
        view.errors.insert(0, page.t("list.unknown_status"))
    deals = view.items
    context = {
        "view": view,
        "sorts": OPPORTUNITY_SORTS,
        "statuses": OPPORTUNITY_STATUSES,
        "status": chosen_status,
        "stages": stages_by_id(session, [deal.stage_id for deal in deals]),
        "account_names": account_names(session, page.actor, [deal.account_id for deal in deals]),
        "owner_names": user_names(session, [deal.owner_id for deal in deals]),
    }
    return render(page, "opportunities/list.html", context, status_code=400 if view.errors else 200)


@router.get("/opportunities/{opportunity_id}")
def opportunity_detail(page: Page, session: DbSession, opportunity_id: int) -> Response:
    """A deal's fields, its stage history and its timeline, newest first."""
    actor = page.actor
    deal: m.Opportunity = get_readable(session, actor, OPPORTUNITY, opportunity_id)
    history = stage_history(session, deal.id)
    stage_ids = (
        [deal.stage_id] + [row.from_stage_id for row in history] + [row.to_stage_id for row in history]
    )
    people = user_names(session, [deal.owner_id] + [row.changed_by_id for row in history])
    contact = None
    if deal.contact_id is not None and may(actor, "contact", "read"):
        try:
            contact = get_readable(session, actor, CONTACT, deal.contact_id)
        except NotFound:
            contact = None
    context = {
        "deal": deal,
        "stages": stages_by_id(session, stage_ids),
        "account_names": account_names(session, actor, [deal.account_id]),
        "people": people,
        "contact": contact,
        "history": history,
        "timeline": record_timeline(session, actor, page.fmt, OPPORTUNITY, deal.id),
    }
    return render(page, "opportunities/detail.html", context)


@router.get("/accounts")
def accounts(
    page: Page,
    session: DbSession,
    q: str | None = None,
    sort: str | None = None,
    cursor: str | None = None,
) -> Response:
    """Accounts the viewer may see: search, sort, page by cursor."""
    view = list_view(
        session, page, ACCOUNT, path="/accounts", q=q, sort=sort, sorts=ACCOUNT_SORTS, cursor=cursor
    )
    context = {
        "view": view,
        "sorts": ACCOUNT_SORTS,
        "owner_names": user_names(session, [account.owner_id for account in view.items]),
    }
    return render(page, "accounts/list.html", context, status_code=400 if view.errors else 200)


@router.get("/accounts/{account_id}")
def account_detail(page: Page, session: DbSession, account_id: int) -> Response:
    """An account's fields, its contacts and its opportunities."""
    actor = page.actor
    account: m.Account = get_readable(session, actor, ACCOUNT, account_id)
    contacts: list[Any] = []
    if may(actor, "contact", "read"):
        contacts, _cursor, _total = list_records(
            session, actor, CONTACT, filters={"account_id": str(account.id)}, sort="name", limit=100
        )
    deals: list[Any] = []
    can_see_deals = may(actor, "opportunity", "read")
    if can_see_deals:
        deals, _cursor, _total = list_records(
            session,
            actor,
            OPPORTUNITY,
            filters={"account_id": str(account.id)},
            sort="-updated_at",
            limit=100,
        )
    context = {
        "account": account,
        "contacts": contacts,
        "deals": deals,
        "can_see_deals": can_see_deals,
        "stages": stages_by_id(session, [deal.stage_id for deal in deals]),
        "people": user_names(session, [account.owner_id] + [deal.owner_id for deal in deals]),
        "parent_names": account_names(session, actor, [account.parent_id]),
    }
    return render(page, "accounts/detail.html", context)
