"""The pipeline board: per-stage totals and per-column pages of deal cards.

Every query starts from ``readable_query(actor, opportunity)``, so a board counts and
shows exactly the deals its viewer may read. Totals are SQL aggregates (count, and a
sum per currency); cards come one page per column, ordered by expected close date
(soonest first in open stages, latest first in won/lost stages, undated last) and
continued with a keyset cursor.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role, Team, User
from pathcast.auth.permissions import Actor
from pathcast.crm import models as m
from pathcast.crm.auth import team_user_ids
from pathcast.crm.service.pipelines import default_pipeline
from pathcast.crm.service.records import readable_query
from pathcast.crm.service.registry import SPECS
from pathcast.errors import FieldError, InvalidInput

OPPORTUNITY = SPECS["opportunity"]
BOARD_PAGE = 30
MAX_BOARD_PAGE = 100
SELLER_ROLES = (Role.admin.value, Role.manager.value, Role.rep.value)
QUARTER = re.compile(r"^\s*(\d{4})\s*-?\s*Q([1-4])\s*$", re.IGNORECASE)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class BoardFilters:
    """What narrows the board; ``None`` means no restriction."""

    owner_id: int | None = None
    team_id: int | None = None
    product_id: int | None = None
    quarter: tuple[int, int] | None = None  # (year, 1..4)

    @property
    def quarter_text(self) -> str:
        return format_quarter(*self.quarter) if self.quarter else ""


@dataclass
class StageTotal:
    """One column header: how many deals, and their amounts summed per currency."""

    stage_id: int
    count: int = 0
    amounts: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class ColumnPage:
    """One page of a column's cards and the cursor of the next page (None at the end)."""

    stage: m.Stage
    items: list[m.Opportunity]
    next_cursor: str | None


# --- input --------------------------------------------------------------------------


def format_quarter(year: int, quarter: int) -> str:
    return f"{year:04d}-Q{quarter}"


def parse_quarter(text: str) -> tuple[int, int]:
    """``2026-Q4`` (also ``2026Q4``, ``2026-q4``) as ``(2026, 4)``; ValueError otherwise."""
    found = QUARTER.match(text)
    if not found:
        raise ValueError(text)
    return int(found.group(1)), int(found.group(2))


def quarter_dates(year: int, quarter: int) -> tuple[date, date]:
    """The first day of the quarter and the first day of the next one."""
    start = date(year, 3 * (quarter - 1) + 1, 1)
    end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return start, end


def parse_filters(
    *,
    owner: str | None = None,
    team: str | None = None,
    product: str | None = None,
    quarter: str | None = None,
) -> BoardFilters:
    """Board filters from query-string values; names every bad one at once."""
    errors: list[FieldError] = []
    ids: dict[str, int | None] = {}
    for name, raw in (("owner", owner), ("team", team), ("product", product)):
        text = (raw or "").strip()
        ids[name] = None
        if not text:
            continue
        if not (text.isascii() and text.isdigit()) or len(text) > 18:
            errors.append(FieldError(name, "board_choice", {"value": text[:40]}))
            continue
        ids[name] = int(text)
    period = None
    if quarter and quarter.strip():
        try:
            period = parse_quarter(quarter)
        except ValueError:
            errors.append(FieldError("quarter", "bad_quarter", {"value": quarter.strip()[:40]}))
    if errors:
        raise InvalidInput(errors)
    return BoardFilters(owner_id=ids["owner"], team_id=ids["team"], product_id=ids["product"], quarter=period)


# --- choices for the filter form ----------------------------------------------------


def board_pipelines(session: Session) -> list[m.Pipeline]:
    """Every pipeline, the default first."""
    return list(session.scalars(select(m.Pipeline).order_by(m.Pipeline.is_default.desc(), m.Pipeline.name)))


def board_pipeline(session: Session, pipeline_id: int | None) -> m.Pipeline:
    """The pipeline with this id, or the default one when the id is None or unknown."""
    if pipeline_id is not None:
        found = session.get(m.Pipeline, pipeline_id)
        if found is not None:
            return found
    return default_pipeline(session)


def owner_choices(session: Session, actor: Actor) -> list[User]:
    """The active sellers whose deals the actor may see: everyone's for an admin,
    the team's otherwise."""
    query = select(User).where(User.is_active.is_(True), User.role.in_(SELLER_ROLES))
    if actor.role is not Role.admin:
        query = query.where(User.id.in_(team_user_ids(actor)))
    return list(session.scalars(query.order_by(User.name, User.id)))


def team_choices(session: Session, actor: Actor) -> list[Team]:
    """Every team for an admin; the actor's own team otherwise."""
    query = select(Team).order_by(Team.name)
    if actor.role is not Role.admin:
        query = query.where(Team.id == (actor.team_id or -1))
    return list(session.scalars(query))


def product_choices(session: Session) -> list[m.Product]:
    """Active products, by name (products are readable by every seller)."""
    return list(
        session.scalars(
            select(m.Product).where(m.Product.is_active.is_(True)).order_by(m.Product.name, m.Product.id)
        )
    )


# --- queries ------------------------------------------------------------------------


def _filter_clauses(filters: BoardFilters) -> list[ColumnElement[bool]]:
    deal = m.Opportunity
    clauses: list[ColumnElement[bool]] = []
    if filters.owner_id is not None:
        clauses.append(deal.owner_id == filters.owner_id)
    if filters.team_id is not None:
        clauses.append(deal.owner_id.in_(select(User.id).where(User.team_id == filters.team_id)))
    if filters.product_id is not None:
        line = m.OpportunityLine
        clauses.append(exists().where(line.opportunity_id == deal.id, line.product_id == filters.product_id))
    if filters.quarter is not None:
        start, end = quarter_dates(*filters.quarter)
        clauses.append(and_(deal.expected_close_date >= start, deal.expected_close_date < end))
    return clauses


def board_query(actor: Actor, *, pipeline_id: int, filters: BoardFilters) -> Select[Any]:
    """The deals of one pipeline the actor may read, narrowed by ``filters``."""
    return readable_query(actor, OPPORTUNITY).where(
        m.Opportunity.pipeline_id == pipeline_id, *_filter_clauses(filters)
    )


def stage_totals(
    session: Session, actor: Actor, *, pipeline_id: int, filters: BoardFilters
) -> dict[int, StageTotal]:
    """``{stage id: StageTotal}`` for the stages that hold any matching deal."""
    deal = m.Opportunity
    query = (
        board_query(actor, pipeline_id=pipeline_id, filters=filters)
        .with_only_columns(deal.stage_id, deal.currency, func.count(), func.sum(deal.amount))
        .group_by(deal.stage_id, deal.currency)
    )
    totals: dict[int, StageTotal] = {}
    for stage_id, currency, count, amount in session.execute(query):
        total = totals.setdefault(int(stage_id), StageTotal(int(stage_id)))
        total.count += int(count)
        if amount is not None:
            key = str(currency or "")
            total.amounts[key] = total.amounts.get(key, Decimal(0)) + Decimal(str(amount)).quantize(CENT)
    return totals


def _descending(stage: m.Stage) -> bool:
    """Closed columns show the latest closes first; open ones the soonest."""
    return stage.status_class != m.StageClass.open.value


def _encode_cursor(stage_id: int, close: date | None, deal_id: int) -> str:
    document = json.dumps([stage_id, close.isoformat() if close else None, deal_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, stage_id: int) -> tuple[date | None, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        cursor_stage, raw_close, deal_id = json.loads(base64.urlsafe_b64decode(padded))
        if int(cursor_stage) != stage_id:
            raise ValueError("cursor of another column")
        close = None if raw_close is None else date.fromisoformat(str(raw_close))
        return close, int(deal_id)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidInput.single("cursor", "bad_cursor") from None


def _after(close: date | None, deal_id: int, descending: bool) -> ColumnElement[bool]:
    """Rows after ``(close, id)`` in the order (undated last, close date, id)."""
    column, ident = m.Opportunity.expected_close_date, m.Opportunity.id
    later_id = ident < deal_id if descending else ident > deal_id
    if close is None:
        return and_(column.is_(None), later_id)
    beyond = column < close if descending else column > close
    return or_(column.is_(None), beyond, and_(column == close, later_id))


def column_page(
    session: Session,
    actor: Actor,
    *,
    stage: m.Stage,
    filters: BoardFilters,
    cursor: str | None = None,
    limit: int = BOARD_PAGE,
) -> ColumnPage:
    """One page of the cards in ``stage``'s column."""
    limit = max(1, min(limit, MAX_BOARD_PAGE))
    deal = m.Opportunity
    descending = _descending(stage)
    query = board_query(actor, pipeline_id=stage.pipeline_id, filters=filters).where(
        deal.stage_id == stage.id
    )
    if cursor:
        query = query.where(_after(*_decode_cursor(cursor, stage.id), descending))
    close = deal.expected_close_date
    ordering = (
        (close.is_(None), close.desc(), deal.id.desc()) if descending else (close.is_(None), close, deal.id)
    )
    items = list(session.scalars(query.order_by(*ordering).limit(limit + 1)))
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        next_cursor = _encode_cursor(stage.id, last.expected_close_date, last.id)
    return ColumnPage(stage=stage, items=items, next_cursor=next_cursor)


def board_columns(
    session: Session,
    actor: Actor,
    *,
    stages: Sequence[m.Stage],
    filters: BoardFilters,
    limit: int = BOARD_PAGE,
) -> list[ColumnPage]:
    """The first page of every column."""
    return [column_page(session, actor, stage=stage, filters=filters, limit=limit) for stage in stages]
