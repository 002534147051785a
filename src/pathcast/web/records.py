"""Record pages for opportunities and accounts (contacts: ``contacts.py``), with their
fields edited in place.

Every read goes through ``get_readable`` / ``list_records`` with the viewer's Actor, so
a page shows exactly what the API would; a record the viewer may not see is a 404 page.
A field shows an edit control only when ``get_writable`` lets the viewer change the
record, and the save handler asks ``get_writable`` again, so a forged post is refused
(403) all the same. Saved input is validated by the entity's ``Update`` schema, then by
the service; every problem is shown beside its field in the viewer's language.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor, may
from pathcast.crm import models as m
from pathcast.crm.service import (
    SPECS,
    EntitySpec,
    get_writable,
    list_records,
    stage_history,
    stages_of,
    update_opportunity,
    update_record,
)
from pathcast.crm.service.quotes import line_total
from pathcast.db import utcnow
from pathcast.deps import DbSession
from pathcast.errors import InvalidInput, NotFound, PermissionDenied
from pathcast.events import events_savepoint
from pathcast.schemas import ExportClass, fields_of_class
from pathcast.web.activities import Anchor, activity_panel, anchor_timeline, load_anchor
from pathcast.web.forms import FormField, PostedForm, editable_field, is_htmx, messages, parse_form
from pathcast.web.lookups import account_names, contact_names, product_names, stages_by_id, user_names
from pathcast.web.rendering import Formatter, PageContext, render
from pathcast.web.security import FormPage, Page
from pathcast.web.signals import account_behaviour

router = APIRouter(include_in_schema=False)
RELATED_LIMIT = 100
OPEN_FORECASTS = ("pipeline", "best_case", "commit", "omitted")


def can_edit(session: Session, actor: Actor, spec: EntitySpec, record_id: int) -> bool:
    """Whether ``actor`` may change the record (the save handler checks again)."""
    try:
        get_writable(session, actor, spec, record_id)
    except (PermissionDenied, NotFound):
        return False
    return True


def related(session: Session, actor: Actor, entity: str, filters: dict[str, str], sort: str) -> list[Any]:
    """Up to ``RELATED_LIMIT`` readable records of ``entity`` (none if the role may not read them)."""
    if not may(actor, entity, "read"):
        return []
    items, _cursor, _total = list_records(
        session, actor, SPECS[entity], filters=filters, sort=sort, limit=RELATED_LIMIT
    )
    return items


# --- fields -----------------------------------------------------------------------------


@dataclass
class FieldForm:
    """The small form that edits one field in place."""

    spec: FormField
    action: str
    cancel_url: str
    cancel_href: str
    value: str
    choices: list[tuple[str, str]]
    hint: str | None = None
    error: str | None = None


@dataclass
class FieldRow:
    """One field of a record page: its label, its value shown, and how to edit it."""

    name: str
    label: str
    text: str
    value: str = ""
    href: str | None = None
    multiline: bool = False
    external: bool = False
    edit_url: str | None = None
    form: FieldForm | None = None


def _plain(value: Any) -> str:
    """A value as an input shows it."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _row(fmt: Formatter, name: str, text: str | None, value: Any = None, **extra: Any) -> FieldRow:
    return FieldRow(
        name, fmt.t(f"fields.{name}"), text if text not in (None, "") else "—", _plain(value), **extra
    )


def _web_link(url: str | None) -> str | None:
    return url if url and url.startswith(("https://", "http://")) else None


def opportunity_rows(session: Session, page: PageContext, deal: m.Opportunity) -> list[FieldRow]:
    fmt, actor = page.fmt, page.actor
    accounts = account_names(session, actor, [deal.account_id])
    contacts = contact_names(session, actor, [deal.contact_id])
    stage = stages_by_id(session, [deal.stage_id]).get(deal.stage_id)
    owner = user_names(session, [deal.owner_id]).get(deal.owner_id or 0)
    forecast = fmt.label(f"fields.forecast.{deal.forecast_category}", deal.forecast_category)
    return [
        _row(fmt, "name", deal.name, deal.name),
        _row(
            fmt,
            "account_id",
            accounts.get(deal.account_id or 0),
            href=f"/accounts/{deal.account_id}" if deal.account_id in accounts else None,
        ),
        _row(
            fmt,
            "contact_id",
            contacts.get(deal.contact_id or 0),
            href=f"/contacts/{deal.contact_id}" if deal.contact_id in contacts else None,
        ),
        _row(fmt, "stage_id", fmt.stage(stage), deal.stage_id),
        _row(fmt, "amount", fmt.money(deal.amount, deal.currency), deal.amount),
        _row(fmt, "currency", deal.currency, deal.currency),
        _row(fmt, "expected_close_date", fmt.date(deal.expected_close_date), deal.expected_close_date),
        _row(fmt, "forecast_category", forecast, deal.forecast_category),
        _row(fmt, "owner_id", owner),
        _row(fmt, "lead_source", deal.lead_source, deal.lead_source),
        _row(fmt, "opened_at", fmt.datetime(deal.opened_at)),
        _row(fmt, "closed_at", fmt.datetime(deal.closed_at)),
        _row(fmt, "description", deal.description, deal.description, multiline=True),
    ]


def account_rows(session: Session, page: PageContext, account: m.Account) -> list[FieldRow]:
    fmt, actor = page.fmt, page.actor
    parents = account_names(session, actor, [account.parent_id])
    owner = user_names(session, [account.owner_id]).get(account.owner_id or 0, fmt.t("account.shared"))
    tier = fmt.label(f"fields.tiers.{account.tier}", account.tier)
    return [
        _row(fmt, "name", account.name, account.name),
        _row(fmt, "industry", account.industry, account.industry),
        _row(fmt, "tier", tier, account.tier),
        _row(fmt, "region", account.region, account.region),
        _row(fmt, "country", account.country, account.country),
        _row(fmt, "city", account.city, account.city),
        _row(fmt, "employees", fmt.number(account.employees), account.employees),
        _row(fmt, "annual_revenue", fmt.number(account.annual_revenue, 2), account.annual_revenue),
        _row(fmt, "year_established", _plain(account.year_established), account.year_established),
        _row(
            fmt, "website", account.website, account.website, href=_web_link(account.website), external=True
        ),
        _row(
            fmt,
            "parent_id",
            parents.get(account.parent_id or 0),
            href=f"/accounts/{account.parent_id}" if account.parent_id in parents else None,
        ),
        _row(fmt, "owner_id", owner),
        _row(fmt, "notes", account.notes, account.notes, multiline=True),
    ]


def contact_rows(session: Session, page: PageContext, contact: m.Contact) -> list[FieldRow]:
    fmt, actor = page.fmt, page.actor
    accounts = account_names(session, actor, [contact.account_id])
    owner = user_names(session, [contact.owner_id]).get(contact.owner_id or 0)
    return [
        _row(fmt, "name", contact.name, contact.name),
        _row(
            fmt,
            "account_id",
            accounts.get(contact.account_id or 0),
            href=f"/accounts/{contact.account_id}" if contact.account_id in accounts else None,
        ),
        _row(fmt, "title", contact.title, contact.title),
        _row(fmt, "department", contact.department, contact.department),
        _row(
            fmt,
            "email",
            contact.email,
            contact.email,
            href=f"mailto:{contact.email}" if contact.email else None,
        ),
        _row(fmt, "phone", contact.phone, contact.phone),
        _row(fmt, "owner_id", owner),
        _row(fmt, "notes", contact.notes, contact.notes, multiline=True),
    ]


ROWS: dict[str, Callable[[Session, PageContext, Any], list[FieldRow]]] = {
    "opportunity": opportunity_rows,
    "account": account_rows,
    "contact": contact_rows,
}


def field_choices(session: Session, page: PageContext, anchor: Anchor, name: str) -> list[tuple[str, str]]:
    """``(value, label)`` pairs of a select field."""
    fmt, record = page.fmt, anchor.record
    if name == "stage_id":
        return [(str(stage.id), fmt.stage(stage)) for stage in stages_of(session, record.pipeline_id)]
    if name == "forecast_category":
        values = [
            *OPEN_FORECASTS,
            *([record.forecast_category] if record.forecast_category not in OPEN_FORECASTS else []),
        ]
        return [(value, fmt.label(f"fields.forecast.{value}", value)) for value in values]
    if name == "tier":
        return [(tier.value, fmt.label(f"fields.tiers.{tier.value}", tier.value)) for tier in m.Tier]
    return []


def record_rows(session: Session, page: PageContext, anchor: Anchor, *, editable: bool) -> list[FieldRow]:
    """Every field row of the record, with edit links on the fields the viewer may edit.
    A customer's own contact sees no field whose export class is internal."""
    rows = ROWS[anchor.kind.entity](session, page, anchor.record)
    if is_customer(page.actor):
        internal = set(fields_of_class(anchor.kind.spec.read_schema, ExportClass.internal))
        rows = [row for row in rows if row.name not in internal]
    if editable:
        for row in rows:
            if editable_field(anchor.kind.entity, row.name) is not None:
                row.edit_url = f"{anchor.base}/fields/{row.name}/edit"
    return rows


def _one_row(session: Session, page: PageContext, anchor: Anchor, name: str, *, editable: bool) -> FieldRow:
    row = next(
        (row for row in record_rows(session, page, anchor, editable=editable) if row.name == name), None
    )
    if row is None:
        raise NotFound("route_not_found")
    return row


def _form_row(
    session: Session, page: PageContext, anchor: Anchor, spec: FormField, value: str, error: str | None = None
) -> FieldRow:
    row = _one_row(session, page, anchor, spec.name, editable=True)
    row.form = FieldForm(
        spec=spec,
        action=f"{anchor.base}/fields/{spec.name}",
        cancel_url=f"{anchor.base}/fields/{spec.name}",
        cancel_href=f"{anchor.url}#field-{spec.name}",
        value=value,
        choices=field_choices(session, page, anchor, spec.name),
        hint=page.t(spec.hint_key) if spec.hint_key else None,
        error=error,
    )
    return row


def _field_answer(page: PageContext, anchor: Anchor, row: FieldRow, *, status_code: int = 200) -> Response:
    if is_htmx(page.request):
        return render(page, "partials/field_row.html", {"row": row}, status_code=status_code)
    context = {"row": row, "anchor": anchor, "title": anchor.record.name}
    return render(page, "partials/field_page.html", context, status_code=status_code)


def _editable(
    session: Session, page: PageContext, entity: str, record_id: int, name: str
) -> tuple[Anchor, FormField]:
    """The record (which the viewer must be allowed to change) and the field's spec."""
    anchor = load_anchor(session, page, entity, record_id)
    spec = editable_field(entity, name)
    if spec is None:
        raise NotFound("route_not_found")
    get_writable(session, page.actor, anchor.kind.spec, record_id)
    return anchor, spec


@router.get("/records/{entity}/{record_id}/fields/{name}")
def field_display(page: Page, session: DbSession, entity: str, record_id: int, name: str) -> Response:
    """A field as shown on the record page (htmx swaps it back in on cancel)."""
    anchor = load_anchor(session, page, entity, record_id)
    if not is_htmx(page.request):
        return RedirectResponse(f"{anchor.url}#field-{name}", status_code=303)
    editable = can_edit(session, page.actor, anchor.kind.spec, record_id)
    return render(
        page, "partials/field_row.html", {"row": _one_row(session, page, anchor, name, editable=editable)}
    )


@router.get("/records/{entity}/{record_id}/fields/{name}/edit")
def field_edit(page: Page, session: DbSession, entity: str, record_id: int, name: str) -> Response:
    """The small form that edits one field (403 if the viewer may not change the record)."""
    anchor, spec = _editable(session, page, entity, record_id, name)
    row = _one_row(session, page, anchor, name, editable=True)
    return _field_answer(page, anchor, _form_row(session, page, anchor, spec, row.value))


def _apply(session: Session, page: PageContext, anchor: Anchor, values: dict[str, Any]) -> None:
    if anchor.kind.entity == "opportunity":
        update_opportunity(session, actor=page.actor, opportunity=anchor.record, changes=values)
    else:
        update_record(session, actor=page.actor, spec=anchor.kind.spec, record=anchor.record, changes=values)


@router.post("/records/{entity}/{record_id}/fields/{name}")
def field_save(
    page: FormPage, session: DbSession, form: PostedForm, entity: str, record_id: int, name: str
) -> Response:
    """Validate and save one field; on a problem show the form again with the message (422)."""
    anchor, spec = _editable(session, page, entity, record_id, name)
    choices = (
        [value for value, _label in field_choices(session, page, anchor, name)]
        if spec.kind == "select"
        else None
    )
    result = parse_form(
        (spec,), form, schema=anchor.kind.spec.update_schema, choices={name: choices} if choices else None
    )
    if result.ok:
        try:
            with events_savepoint(session):
                _apply(session, page, anchor, result.values)
        except InvalidInput as refused:
            session.expire(anchor.record)
            result.add(refused.errors, [name])
    if not result.ok:
        found = messages(result, page.locale)
        row = _form_row(
            session, page, anchor, spec, result.raw.get(name, ""), found.get(name) or found.get("")
        )
        return _field_answer(page, anchor, row, status_code=422)
    if not is_htmx(page.request):
        return RedirectResponse(f"{anchor.url}#field-{name}", status_code=303)
    context: dict[str, Any] = {
        "row": _one_row(session, page, anchor, name, editable=True),
        "header": record_header(page, anchor),
        "timeline": anchor_timeline(session, page, anchor),
        "oob": True,
    }
    if anchor.kind.entity == "opportunity":
        context["stage_panel"] = stage_panel(session, page, anchor.record)
    return render(page, "partials/field_saved.html", context)


# --- page parts ----------------------------------------------------------------------------


def record_header(page: PageContext, anchor: Anchor) -> dict[str, Any]:
    """What the page heading shows: the name and, for deals, the status."""
    record = anchor.record
    status = getattr(record, "status", None) if anchor.kind.entity == "opportunity" else None
    return {
        "name": record.name,
        "status": status,
        "status_label": page.fmt.status(status) if status else None,
        "back_href": anchor.kind.path,
        "back_label": page.t(f"records.back.{anchor.kind.entity}"),
    }


def stage_panel(session: Session, page: PageContext, deal: m.Opportunity) -> dict[str, Any]:
    """The stage history of a deal: the table and the data of its step chart."""
    fmt = page.fmt
    history = stage_history(session, deal.id)
    pipeline = stages_of(session, deal.pipeline_id)
    stages = {stage.id: stage for stage in pipeline}
    stages.update(
        stages_by_id(session, [row.from_stage_id for row in history] + [row.to_stage_id for row in history])
    )
    order = {stage.id: index for index, stage in enumerate(pipeline)}
    moves = [
        (row.changed_at, order[row.to_stage_id], row.to_stage_id)
        for row in history
        if row.to_stage_id in order
    ]
    end = deal.closed_at or utcnow()
    if moves and end > moves[-1][0] and deal.stage_id in order:
        # carry the current stage on to today (or to the close)
        moves.append((end, order[deal.stage_id], deal.stage_id))
    points = [
        {
            "value": [int(moment.timestamp() * 1000), position],
            "tip": f"{fmt.stage(stages.get(stage_id))} · {fmt.datetime(moment)}",
        }
        for moment, position, stage_id in moves
    ]
    chart = {
        "stages": [fmt.stage(stage) for stage in pipeline],
        "points": points,
        "locale": "ZH" if page.locale == "zh-CN" else "EN",
        "labels": {"series": fmt.t("fields.stage_id")},
    }
    return {
        "history": list(reversed(history)),
        "stages": stages,
        "people": user_names(session, [row.changed_by_id for row in history]),
        "chart": chart if len(points) > 1 else None,
    }


def is_customer(actor: Actor) -> bool:
    """A customer's own contact: shown the record, not its internal fields or history."""
    return actor.role is Role.customer_contact


def base_context(session: Session, page: PageContext, anchor: Anchor) -> dict[str, Any]:
    editable = can_edit(session, page.actor, anchor.kind.spec, anchor.record.id)
    return {
        "anchor": anchor,
        "header": record_header(page, anchor),
        "rows": record_rows(session, page, anchor, editable=editable),
        "can_edit": editable,
        "panel": activity_panel(session, page, anchor),
        # The log carries internal fields and colleagues' names: staff only.
        "timeline": [] if is_customer(page.actor) else anchor_timeline(session, page, anchor),
        "show_timeline": not is_customer(page.actor),
        "oob": False,
    }


@router.get("/opportunities/{opportunity_id}")
def opportunity_detail(page: Page, session: DbSession, opportunity_id: int) -> Response:
    """A deal: its fields (editable in place), stage history chart, products, quotes,
    activities and timeline."""
    anchor = load_anchor(session, page, "opportunity", opportunity_id)
    deal: m.Opportunity = anchor.record
    actor = page.actor
    lines = related(session, actor, "opportunity_line", {"opportunity_id": str(deal.id)}, "id")
    context = {
        **base_context(session, page, anchor),
        "deal": deal,
        "stage_panel": stage_panel(session, page, deal),
        "lines": [(line, line_total(line.quantity, line.unit_price, line.discount_pct)) for line in lines],
        "products": product_names(session, actor, [line.product_id for line in lines]),
        "quotes": related(session, actor, "quote", {"opportunity_id": str(deal.id)}, "-created_at"),
        "can_see_lines": may(actor, "opportunity_line", "read"),
        "can_see_quotes": may(actor, "quote", "read"),
        "may_forecast": may(actor, "forecast", "read"),
    }
    return render(page, "opportunities/detail.html", context)


@router.get("/accounts/{account_id}")
def account_detail(page: Page, session: DbSession, account_id: int) -> Response:
    """An account: its fields (editable in place), contacts, opportunities, tickets,
    anonymous behaviour, activities and timeline."""
    anchor = load_anchor(session, page, "account", account_id)
    account: m.Account = anchor.record
    actor = page.actor
    scope = {"account_id": str(account.id)}
    deals = related(session, actor, "opportunity", scope, "-updated_at")
    tickets = related(session, actor, "ticket", scope, "-opened_at")
    context = {
        **base_context(session, page, anchor),
        "account": account,
        "contacts": related(session, actor, "contact", scope, "name"),
        "deals": deals,
        "can_see_deals": may(actor, "opportunity", "read"),
        "tickets": tickets,
        "can_see_tickets": may(actor, "ticket", "read"),
        "stages": stages_by_id(session, [deal.stage_id for deal in deals]),
        "people": user_names(
            session, [deal.owner_id for deal in deals] + [ticket.owner_id for ticket in tickets]
        ),
        "behaviour": account_behaviour(session, page, account.id),
    }
    return render(page, "accounts/detail.html", context)
