"""List pages for accounts, contacts, opportunities and activities.

Each list reads its query string once (``read_query``): text search, a sort from the
clickable column headers, the list's own filters and a cursor. The page and its CSV
export (``web.export``) share that reading, so an export holds exactly the rows the
list shows. Every read goes through ``list_records`` with the viewer's Actor; input
the page or the service refuses becomes a message above the results, never a 500.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role, User
from pathcast.auth.permissions import Actor, may
from pathcast.crm import models as m
from pathcast.crm.service import SPECS, EntitySpec, list_records
from pathcast.crm.service.records import readable_query
from pathcast.db import utcnow
from pathcast.deps import DbSession
from pathcast.errors import InvalidInput
from pathcast.web.lookups import account_names, stages_by_id, user_names
from pathcast.web.rendering import PageContext, render
from pathcast.web.security import Page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
MAX_QUERY = 200
MAX_OPTIONS = 500
QUARTERS_AROUND = 4  # quarters offered before and after the current one
ID_PATTERN = re.compile(r"[0-9]{1,12}")
QUARTER_PATTERN = re.compile(r"([0-9]{4})-?Q([1-4])", re.IGNORECASE)
OPPORTUNITY_STATUSES = tuple(status.value for status in m.StageClass)
TIERS = tuple(tier.value for tier in m.Tier)
ACTIVITY_KINDS = tuple(kind.value for kind in m.ActivityKind)
ACTIVITY_STATES = ("open", "done")
TASK = m.ActivityKind.task.value


@dataclass(frozen=True)
class Column:
    """A column of a list table: its header message and the field it sorts by, if any."""

    label: str
    sort: str | None = None
    numeric: bool = False


@dataclass
class Filters:
    """What a list's own filters asked for: service filters, form values, messages."""

    filters: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


FilterReader = Callable[[PageContext, Mapping[str, str], datetime], Filters]


@dataclass(frozen=True)
class ListKind:
    """One list page: which records, which columns, how its filters read."""

    name: str
    spec: EntitySpec
    columns: tuple[Column, ...]
    default_sort: str
    read_filters: FilterReader

    @property
    def path(self) -> str:
        return f"/{self.name}"

    @property
    def template(self) -> str:
        return f"{self.name}/list.html"

    @property
    def sorts(self) -> frozenset[str]:
        fields = [column.sort for column in self.columns if column.sort]
        return frozenset([*fields, *(f"-{name}" for name in fields), self.default_sort])


@dataclass
class ListQuery:
    """A list request, read and checked: the same for the page and its export."""

    q: str
    sort: str
    cursor: str | None
    filters: dict[str, str]
    form: dict[str, str]
    errors: list[str]
    default_sort: str = ""

    def params(self, **extra: str | None) -> dict[str, str]:
        """The query-string values that reproduce this list (without the cursor); the
        default sort goes without saying."""
        values = {"q": self.q, **self.form, "sort": self.sort, **extra}
        if values["sort"] == self.default_sort:
            del values["sort"]
        return {key: value for key, value in values.items() if value}


@dataclass
class HeaderCell:
    label: str
    url: str | None
    direction: str | None
    numeric: bool


@dataclass
class ListView:
    """One page of a list, with what the form, the headers and the pager need."""

    kind: ListKind
    query: ListQuery
    items: list[Any]
    total: int
    next_url: str | None
    first_url: str | None
    export_url: str
    headers: list[HeaderCell]

    @property
    def q(self) -> str:
        return self.query.q

    @property
    def sort(self) -> str:
        return self.query.sort

    @property
    def form(self) -> dict[str, str]:
        return self.query.form

    @property
    def errors(self) -> list[str]:
        return self.query.errors


# --- reading the query string --------------------------------------------------------


def _value(params: Mapping[str, str], name: str, limit: int = MAX_QUERY) -> str:
    return (params.get(name) or "").strip()[:limit]


def quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def quarter_key(year: int, number: int) -> str:
    return f"{year}-Q{number}"


def quarter_range(year: int, number: int) -> tuple[date, date]:
    """The first day of a quarter and of the next one."""
    start = date(year, 3 * (number - 1) + 1, 1)
    end = date(year + 1, 1, 1) if number == 4 else date(year, 3 * number + 1, 1)
    return start, end


def parse_quarter(value: str) -> tuple[int, int] | None:
    found = QUARTER_PATTERN.fullmatch(value.strip())
    if found is None or not 1900 <= int(found.group(1)) <= 2200:
        return None
    return int(found.group(1)), int(found.group(2))


def _opportunity_filters(page: PageContext, params: Mapping[str, str], now: datetime) -> Filters:
    result = Filters()
    status = _value(params, "status")
    if status in OPPORTUNITY_STATUSES:
        result.filters["status"] = result.form["status"] = status
    elif status:
        result.errors.append(page.t("list.unknown_status"))
    owner = _value(params, "owner")
    if ID_PATTERN.fullmatch(owner):
        result.filters["owner_id"] = result.form["owner"] = owner
    elif owner:
        result.errors.append(page.t("lists.errors.owner"))
    quarter = _value(params, "quarter")
    parsed = parse_quarter(quarter) if quarter else None
    if parsed is not None:
        start, end = quarter_range(*parsed)
        result.filters["expected_close_date__gte"] = start.isoformat()
        result.filters["expected_close_date__lt"] = end.isoformat()
        result.form["quarter"] = quarter_key(*parsed)
    elif quarter:
        result.errors.append(page.t("lists.errors.quarter", value=quarter))
    return result


def _account_filters(page: PageContext, params: Mapping[str, str], now: datetime) -> Filters:
    result = Filters()
    industry = _value(params, "industry", 120)
    if industry:
        result.filters["industry"] = result.form["industry"] = industry
    tier = _value(params, "tier")
    if tier in TIERS:
        result.filters["tier"] = result.form["tier"] = tier
    elif tier:
        result.errors.append(page.t("lists.errors.tier"))
    return result


def _contact_filters(page: PageContext, params: Mapping[str, str], now: datetime) -> Filters:
    result = Filters()
    account = _value(params, "account")
    if ID_PATTERN.fullmatch(account):
        result.filters["account_id"] = result.form["account"] = account
    elif account:
        result.errors.append(page.t("lists.errors.account"))
    return result


def _activity_filters(page: PageContext, params: Mapping[str, str], now: datetime) -> Filters:
    result = Filters()
    kind = _value(params, "kind")
    if kind in ACTIVITY_KINDS:
        result.filters["kind"] = result.form["kind"] = kind
    elif kind:
        result.errors.append(page.t("lists.errors.kind"))
    state = _value(params, "state")
    if state in ACTIVITY_STATES and result.form.get("kind", TASK) != TASK:
        result.errors.append(page.t("lists.errors.state_kind"))
    elif state in ACTIVITY_STATES:
        # Open or done is a task's state (as on the record pages); other kinds just happen.
        result.filters["kind"] = TASK
        result.filters["done_at__isnull"] = "true" if state == "open" else "false"
        result.form["state"] = state
    elif state:
        result.errors.append(page.t("lists.errors.state"))
    overdue = _value(params, "overdue").lower()
    if overdue in ("1", "true", "on", "yes"):
        if result.form.get("state") == "done":
            result.errors.append(page.t("lists.errors.overdue_done"))
        else:
            result.filters["due_at__lt"] = now.isoformat()
            result.filters["done_at__isnull"] = "true"
            result.form["overdue"] = "1"
    elif overdue not in ("", "0", "false", "off", "no"):
        result.errors.append(page.t("lists.errors.overdue"))
    return result


OPPORTUNITIES = ListKind(
    "opportunities",
    SPECS["opportunity"],
    (
        Column("fields.name", "name"),
        Column("fields.account_id"),
        Column("fields.stage_id"),
        Column("fields.amount", "amount", numeric=True),
        Column("fields.expected_close_date", "expected_close_date"),
        Column("fields.owner_id"),
        Column("fields.status"),
        Column("lists.columns.updated_at", "updated_at"),
    ),
    "-updated_at",
    _opportunity_filters,
)
ACCOUNTS = ListKind(
    "accounts",
    SPECS["account"],
    (
        Column("fields.name", "name"),
        Column("fields.industry", "industry"),
        Column("fields.tier", "tier"),
        Column("fields.city"),
        Column("fields.employees", "employees", numeric=True),
        Column("fields.annual_revenue", "annual_revenue", numeric=True),
        Column("fields.owner_id"),
    ),
    "name",
    _account_filters,
)
CONTACTS = ListKind(
    "contacts",
    SPECS["contact"],
    (
        Column("fields.name", "name"),
        Column("fields.title"),
        Column("fields.account_id"),
        Column("fields.email", "email"),
        Column("fields.phone"),
        Column("fields.owner_id"),
    ),
    "name",
    _contact_filters,
)
ACTIVITIES = ListKind(
    "activities",
    SPECS["activity"],
    (
        Column("fields.kind"),
        Column("fields.subject"),
        Column("fields.account_id"),
        Column("fields.opportunity_id"),
        Column("fields.owner_id"),
        Column("fields.occurred_at", "occurred_at"),
        Column("fields.due_at", "due_at"),
        Column("fields.done_at", "done_at"),
    ),
    "-occurred_at",
    _activity_filters,
)
KINDS = {kind.name: kind for kind in (OPPORTUNITIES, ACCOUNTS, CONTACTS, ACTIVITIES)}


def read_query(page: PageContext, kind: ListKind, params: Mapping[str, str], now: datetime) -> ListQuery:
    """Read a list's query string; what cannot be used becomes a message, not an error."""
    chosen = _value(params, "sort")
    errors: list[str] = []
    if chosen and chosen not in kind.sorts:
        errors.append(page.t("list.unknown_sort"))
    sort = chosen if chosen in kind.sorts else kind.default_sort
    read = kind.read_filters(page, params, now)
    cursor = (params.get("cursor") or "").strip()[:1000] or None
    return ListQuery(
        q=_value(params, "q"),
        sort=sort,
        cursor=cursor,
        filters=read.filters,
        form=read.form,
        errors=errors + read.errors,
        default_sort=kind.default_sort,
    )


def service_messages(page: PageContext, error: InvalidInput) -> list[str]:
    """The service's field errors as sentences in the viewer's language."""
    return [page.t(f"errors.field.{item.code}", **item.params) for item in error.errors]


# --- running a list --------------------------------------------------------------------


def _url(path: str, values: Mapping[str, str]) -> str:
    query = urlencode(values)
    return f"{path}?{query}" if query else path


def _headers(kind: ListKind, query: ListQuery) -> list[HeaderCell]:
    cells = []
    for column in kind.columns:
        url = direction = None
        if column.sort:
            if query.sort == column.sort:
                direction, target = "ascending", f"-{column.sort}"
            elif query.sort == f"-{column.sort}":
                direction, target = "descending", column.sort
            else:
                target = column.sort
            url = _url(kind.path, query.params(sort=target))
        cells.append(HeaderCell(column.label, url, direction, column.numeric))
    return cells


def run_list(session: Session, page: PageContext, kind: ListKind, query: ListQuery) -> ListView:
    """One page of the list the query asks for, scoped to the viewer."""
    items: list[Any] = []
    total = 0
    next_cursor = None
    try:
        items, next_cursor, total = list_records(
            session,
            page.actor,
            kind.spec,
            filters=query.filters,
            search=query.q or None,
            sort=query.sort,
            cursor=query.cursor,
            limit=PAGE_SIZE,
        )
    except InvalidInput as error:
        query.errors.extend(service_messages(page, error))
    params = query.params()
    return ListView(
        kind=kind,
        query=query,
        items=items,
        total=total,
        next_url=_url(kind.path, {**params, "cursor": next_cursor}) if next_cursor else None,
        first_url=_url(kind.path, params) if query.cursor else None,
        export_url=_url(f"{kind.path}/export.csv", params),
        headers=_headers(kind, query),
    )


def has_page(request: Request, prefix: str) -> bool:
    """Whether the application serves a record page under ``prefix`` (``/contacts/``)."""
    return any(getattr(route, "path", "").startswith(prefix + "{") for route in request.app.router.routes)


def render_list(page: PageContext, kind: ListKind, view: ListView, context: Mapping[str, Any]) -> Response:
    """Render a list; refused input answers 400, except to htmx, which swaps only 2xx."""
    is_htmx = page.request.headers.get("HX-Request") == "true"
    status = 400 if view.errors and not is_htmx else 200
    links = {name: has_page(page.request, f"/{name}/") for name in KINDS}
    return render(page, kind.template, {"view": view, "links": links, **context}, status_code=status)


# --- names and choices beside the rows -------------------------------------------------


def record_names(
    session: Session, actor: Actor, spec: EntitySpec, ids: Iterable[Any], attribute: str = "name"
) -> dict[int, str]:
    """``{id: name}`` for the records among ``ids`` that ``actor`` may read."""
    wanted = {int(value) for value in ids if value is not None}
    if not wanted or not may(actor, spec.name, "read"):
        return {}
    query = readable_query(actor, spec).where(spec.model.id.in_(wanted))
    return {int(record.id): str(getattr(record, attribute)) for record in session.scalars(query)}


def owner_choices(session: Session, actor: Actor) -> list[tuple[int, str]]:
    """The staff whose deals the actor may see: the team, or everyone for an admin."""
    query = select(User.id, User.name).where(
        User.is_active.is_(True), User.role != Role.customer_contact.value
    )
    if actor.role is not Role.admin:
        query = (
            query.where(User.team_id == actor.team_id)
            if actor.team_id is not None
            else query.where(User.id == (actor.user_id or -1))
        )
    rows = session.execute(query.order_by(User.name, User.id).limit(MAX_OPTIONS))
    return [(int(row.id), str(row.name)) for row in rows]


def industry_choices(session: Session, actor: Actor) -> list[str]:
    """The industries of the accounts the actor may read."""
    accounts = readable_query(actor, ACCOUNTS.spec).subquery()
    rows = session.scalars(
        select(accounts.c.industry)
        .where(accounts.c.industry.is_not(None))
        .distinct()
        .order_by(accounts.c.industry)
        .limit(MAX_OPTIONS)
    )
    return [str(value) for value in rows]


def account_choices(session: Session, actor: Actor, chosen: str | None) -> list[tuple[int, str]]:
    """Accounts the actor may read, by name, with the chosen one always among them."""
    model = m.Account
    query = readable_query(actor, ACCOUNTS.spec).order_by(model.name, model.id).limit(MAX_OPTIONS)
    choices = [(int(account.id), str(account.name)) for account in session.scalars(query)]
    if chosen and int(chosen) not in {account_id for account_id, _ in choices}:
        name = account_names(session, actor, [chosen]).get(int(chosen), f"#{chosen}")
        choices.insert(0, (int(chosen), name))
    return choices


def quarter_choices(now: datetime, chosen: str | None) -> list[str]:
    """Quarters around now, oldest first, plus the chosen one."""
    year, number = quarter_of(now.date())
    index = year * 4 + number - 1
    keys = [quarter_key(value // 4, value % 4 + 1) for value in range(index - QUARTERS_AROUND, index + 5)]
    if chosen and chosen not in keys:
        keys.append(chosen)
        keys.sort()
    return keys


def quarter_label(page: PageContext, key: str) -> str:
    parsed = parse_quarter(key)
    if parsed is None:
        return key
    return page.t("lists.quarter", year=parsed[0], number=parsed[1])


# --- pages -------------------------------------------------------------------------------


def _opportunity_context(session: Session, page: PageContext, view: ListView) -> dict[str, Any]:
    deals, actor = view.items, page.actor
    quarters = quarter_choices(utcnow(), view.form.get("quarter"))
    return {
        "statuses": OPPORTUNITY_STATUSES,
        "owners": owner_choices(session, actor),
        "quarters": [(key, quarter_label(page, key)) for key in quarters],
        "stages": stages_by_id(session, [deal.stage_id for deal in deals]),
        "account_names": account_names(session, actor, [deal.account_id for deal in deals]),
        "owner_names": user_names(session, [deal.owner_id for deal in deals]),
    }


def _account_context(session: Session, page: PageContext, view: ListView) -> dict[str, Any]:
    return {
        "industries": industry_choices(session, page.actor),
        "tiers": TIERS,
        "owner_names": user_names(session, [account.owner_id for account in view.items]),
    }


def _contact_context(session: Session, page: PageContext, view: ListView) -> dict[str, Any]:
    items, actor = view.items, page.actor
    return {
        "accounts": account_choices(session, actor, view.form.get("account")),
        "account_names": account_names(session, actor, [contact.account_id for contact in items]),
        "owner_names": user_names(session, [contact.owner_id for contact in items]),
    }


def _activity_context(session: Session, page: PageContext, view: ListView) -> dict[str, Any]:
    items, actor = view.items, page.actor
    return {
        "kinds": ACTIVITY_KINDS,
        "states": ACTIVITY_STATES,
        "now": utcnow(),
        "account_names": account_names(session, actor, [item.account_id for item in items]),
        "deal_names": record_names(
            session, actor, OPPORTUNITIES.spec, [item.opportunity_id for item in items]
        ),
        "owner_names": user_names(session, [item.owner_id for item in items]),
    }


_CONTEXTS: dict[str, Callable[[Session, PageContext, ListView], dict[str, Any]]] = {
    OPPORTUNITIES.name: _opportunity_context,
    ACCOUNTS.name: _account_context,
    CONTACTS.name: _contact_context,
    ACTIVITIES.name: _activity_context,
}


def page_context(session: Session, page: PageContext, kind: ListKind, view: ListView) -> dict[str, Any]:
    """What a list's template shows beside the rows: filter choices and names."""
    return _CONTEXTS[kind.name](session, page, view)


def show_list(session: Session, page: PageContext, kind: ListKind) -> Response:
    query = read_query(page, kind, page.request.query_params, utcnow())
    view = run_list(session, page, kind, query)
    return render_list(page, kind, view, page_context(session, page, kind, view))


@router.get("/opportunities")
def opportunities(page: Page, session: DbSession) -> Response:
    """Deals the viewer may see: search, sort, filter by status, owner and close quarter."""
    return show_list(session, page, OPPORTUNITIES)


@router.get("/accounts")
def accounts(page: Page, session: DbSession) -> Response:
    """Accounts the viewer may see: search, sort, filter by industry and tier."""
    return show_list(session, page, ACCOUNTS)


@router.get("/contacts")
def contacts(page: Page, session: DbSession) -> Response:
    """Contacts the viewer may see: search, sort, filter by account."""
    return show_list(session, page, CONTACTS)


@router.get("/activities")
def activities(page: Page, session: DbSession) -> Response:
    """Calls, e-mails, meetings, notes and tasks: filter by kind, open or done, overdue."""
    return show_list(session, page, ACTIVITIES)
