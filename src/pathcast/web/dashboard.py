"""The home page: a rep's own work; a manager's team pipeline, quarter and slipped deals.

Every figure starts from the CRM service's scoped queries with the viewer's Actor,
so a manager sees the team's deals and an admin everyone's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor, may
from pathcast.crm import models as m
from pathcast.crm.service import SPECS, default_pipeline, list_records, stages_of
from pathcast.crm.service.records import readable_query
from pathcast.db import utcnow
from pathcast.deps import DbSession
from pathcast.errors import InvalidInput
from pathcast.web.lookups import account_names, stages_by_id, user_names
from pathcast.web.rendering import Formatter, render
from pathcast.web.security import Page

router = APIRouter(include_in_schema=False)
HOME_LIST_LIMIT = 20
SLIP_WINDOW_DAYS = 90
SLIP_LIMIT = 20
CLOSE_DATE_FIELD = "expected_close_date"
OPPORTUNITY = SPECS["opportunity"]
ACTIVITY = SPECS["activity"]


@dataclass
class StageBar:
    """One bar of the pipeline chart: a stage with its open deals."""

    stage: m.Stage
    label: str
    count: int
    amount: Decimal


@dataclass
class ClosedSummary:
    won_count: int = 0
    won_amount: Decimal = Decimal(0)
    lost_count: int = 0
    lost_amount: Decimal = Decimal(0)


@dataclass
class Slip:
    """One move of a deal's expected close date to a later day."""

    deal: m.Opportunity
    owner: str | None
    old: date
    new: date
    changed_at: datetime

    @property
    def days(self) -> int:
        return (self.new - self.old).days


@dataclass
class Slips:
    rows: list[Slip]
    total: int
    days: int = SLIP_WINDOW_DAYS


def quarter_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The start of ``now``'s calendar quarter (UTC) and of the next one."""
    first_month = 3 * ((now.month - 1) // 3) + 1
    start = datetime(now.year, first_month, 1, tzinfo=UTC)
    end = (
        datetime(now.year + 1, 1, 1, tzinfo=UTC)
        if first_month == 10
        else datetime(now.year, first_month + 3, 1, tzinfo=UTC)
    )
    return start, end


def my_open_deals(session: Session, actor: Actor) -> list[m.Opportunity]:
    """The actor's open deals, soonest expected close first."""
    items, _cursor, _total = list_records(
        session,
        actor,
        OPPORTUNITY,
        filters={"owner_id": str(actor.user_id), "status": "open"},
        sort="expected_close_date",
        limit=HOME_LIST_LIMIT,
    )
    return items


def overdue_tasks(session: Session, actor: Actor, now: datetime) -> list[m.Activity]:
    """The actor's tasks past their due time and not done, oldest first."""
    items, _cursor, _total = list_records(
        session,
        actor,
        ACTIVITY,
        filters={
            "kind": "task",
            "owner_id": str(actor.user_id),
            "due_at__lt": now.isoformat(),
            "done_at__isnull": "true",
        },
        sort="due_at",
        limit=HOME_LIST_LIMIT,
    )
    return items


def pipeline_by_stage(session: Session, actor: Actor, fmt: Formatter) -> list[StageBar] | None:
    """Open deals the actor may read, counted and summed per stage of the default
    pipeline; None when no pipeline exists yet."""
    try:
        pipeline = default_pipeline(session)
    except InvalidInput:
        return None
    deals = (
        readable_query(actor, OPPORTUNITY)
        .where(m.Opportunity.pipeline_id == pipeline.id, m.Opportunity.status == m.StageClass.open.value)
        .subquery()
    )
    rows = session.execute(
        select(deals.c.stage_id, func.count(), func.coalesce(func.sum(deals.c.amount), 0)).group_by(
            deals.c.stage_id
        )
    )
    totals = {int(stage_id): (int(count), Decimal(str(amount))) for stage_id, count, amount in rows}
    return [
        StageBar(stage, fmt.stage(stage), *totals.get(stage.id, (0, Decimal(0))))
        for stage in stages_of(session, pipeline.id)
        if stage.status_class == m.StageClass.open.value
    ]


def closed_this_quarter(session: Session, actor: Actor, now: datetime) -> ClosedSummary:
    """Deals the actor may read that were won or lost in the current quarter."""
    start, end = quarter_bounds(now)
    deals = (
        readable_query(actor, OPPORTUNITY)
        .where(
            m.Opportunity.closed_at >= start,
            m.Opportunity.closed_at < end,
            m.Opportunity.status.in_([m.StageClass.won.value, m.StageClass.lost.value]),
        )
        .subquery()
    )
    rows = session.execute(
        select(deals.c.status, func.count(), func.coalesce(func.sum(deals.c.amount), 0)).group_by(
            deals.c.status
        )
    )
    summary = ClosedSummary()
    for status, count, amount in rows:
        if status == m.StageClass.won.value:
            summary.won_count, summary.won_amount = int(count), Decimal(str(amount))
        else:
            summary.lost_count, summary.lost_amount = int(count), Decimal(str(amount))
    return summary


def _iso_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def slipped_deals(session: Session, actor: Actor, now: datetime) -> Slips:
    """Open deals the actor may read whose expected close date moved later in the last
    ``SLIP_WINDOW_DAYS`` days: one row per move, newest first."""
    change = m.OpportunityFieldChange
    query = (
        readable_query(actor, OPPORTUNITY)
        .add_columns(change.old_value, change.new_value, change.changed_at)
        .join(change, change.opportunity_id == m.Opportunity.id)
        .where(
            change.field == CLOSE_DATE_FIELD,
            change.changed_at >= now - timedelta(days=SLIP_WINDOW_DAYS),
            change.old_value.is_not(None),
            change.new_value.is_not(None),
            m.Opportunity.status == m.StageClass.open.value,
        )
        .order_by(change.changed_at.desc(), change.id.desc())
    )
    moves = []
    for deal, old_value, new_value, changed_at in session.execute(query):
        old, new = _iso_day(old_value), _iso_day(new_value)
        if old is not None and new is not None and new > old:
            moves.append((deal, old, new, changed_at))
    shown = moves[:SLIP_LIMIT]
    owners = user_names(session, [deal.owner_id for deal, *_rest in shown])
    rows = [
        Slip(deal, owners.get(deal.owner_id) if deal.owner_id else None, old, new, changed_at)
        for deal, old, new, changed_at in shown
    ]
    return Slips(rows=rows, total=len(moves))


def chart_data(bars: list[StageBar], fmt: Formatter) -> dict[str, Any]:
    """The JSON the ECharts bar chart reads from the page."""
    return {
        "categories": [bar.label for bar in bars],
        "counts": [bar.count for bar in bars],
        "amounts": [float(bar.amount) for bar in bars],
        "labels": {"count": fmt.t("home.deal_count"), "amount": fmt.t("home.amount")},
    }


def _home_context(session: Session, actor: Actor, fmt: Formatter) -> dict[str, Any]:
    now = utcnow()
    context: dict[str, Any] = {"role": actor.role.value, "now": now}
    if actor.role is Role.rep:
        deals = my_open_deals(session, actor)
        tasks = overdue_tasks(session, actor, now)
        context.update(
            deals=deals,
            tasks=tasks,
            account_names=account_names(
                session, actor, [deal.account_id for deal in deals] + [task.account_id for task in tasks]
            ),
            stages=stages_by_id(session, [deal.stage_id for deal in deals]),
        )
    elif actor.role in (Role.manager, Role.admin) and may(actor, "opportunity", "read"):
        bars = pipeline_by_stage(session, actor, fmt)
        context.update(
            bars=bars,
            chart=chart_data(bars, fmt) if bars is not None else None,
            closed=closed_this_quarter(session, actor, now),
            quarter=quarter_bounds(now),
            slips=slipped_deals(session, actor, now),
        )
    return context


@router.get("/")
def home(page: Page, session: DbSession) -> Response:
    """What needs attention now, by role."""
    return render(page, "home.html", _home_context(session, page.actor, page.fmt))
