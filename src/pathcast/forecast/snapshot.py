"""The pipeline as it stood at a past moment, rebuilt from the event log alone.

Every model and backtest reads deals through :func:`pipeline_as_of`, never through the
current ``opportunities`` columns: a deal won after the cutoff is open in the snapshot, an
amount changed after the cutoff shows its old value.

Which clock
-----------
Each event carries two stamps: ``occurred_at`` (when it happened in the business) and
``recorded_at`` (when Pathcast wrote it down).

* ``clock="occurred"`` (the default) replays what had *happened* by the cutoff. Imported
  history (Maven, CSV) is written today with its historical ``occurred_at``: the importer
  creates each deal at its engage date and moves it to won/lost (and sets the final
  amount) at its close date. Its ``recorded_at`` is the import time, so on the recorded
  clock every imported deal would be invisible before the import day. Backtests over
  imported history therefore use this clock; the guard is that nothing whose
  ``occurred_at`` is after the cutoff is read.
* ``clock="recorded"`` replays what the system *knew*: an event counts only when both
  its ``recorded_at`` and its ``occurred_at`` are at or before the cutoff (a backdated
  entry typed in later is not known yet; a fact dated in the future is not yet true).
  Use it to audit live forecasts.

The log is used rather than the ``opportunity_stage_changes`` / ``opportunity_field_changes``
tables because it carries both clocks and every field (owner, account, lines); those tables
hold the same moves, stamped with ``occurred_at`` only.

Taken as they are now (documented simplifications): a stage's key, probability and
open/won/lost class (pipeline configuration), a product's code, and a rep's team.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from pathcast.auth.models import User
from pathcast.crm import models as m
from pathcast.events import Clock, Event

DEAL_ENTITIES = ("opportunity", "opportunity_line")


@dataclass(frozen=True)
class DealSnapshot:
    """One deal as known at ``as_of``."""

    opportunity_id: int
    as_of: datetime
    # ownership
    account_id: int | None
    owner_id: int | None
    team_id: int | None
    product_codes: tuple[str, ...]
    # pipeline
    pipeline_id: int | None
    stage_id: int
    stage_key: str
    stage_status: str  # "open", "won" or "lost" as of ``as_of``
    stage_probability: int
    stage_position: int
    # money and dates
    amount: float | None
    expected_close_date: date | None
    # history
    created_at: datetime
    entered_stage_at: datetime
    stage_changes_so_far: int  # moves after creation
    last_changed_at: datetime
    # the rep's own call (pipeline, best_case, commit, omitted; closed once closed)
    forecast_category: str | None = None

    @property
    def is_open(self) -> bool:
        return self.stage_status == m.StageClass.open.value

    @property
    def closed_at(self) -> datetime | None:
        """When the deal closed, if it was closed at ``as_of``."""
        return None if self.is_open else self.entered_stage_at


@dataclass
class _Deal:
    """A deal's state while the log is being replayed."""

    state: dict[str, Any]
    created_at: datetime
    entered_stage_at: datetime
    last_changed_at: datetime
    stage_changes: int = 0


def known_by(at: datetime, clock: Clock) -> ColumnElement[bool]:
    """The condition for an event to count as known at ``at`` on ``clock``."""
    if clock == "occurred":
        return Event.occurred_at <= at
    if clock == "recorded":
        return and_(Event.recorded_at <= at, Event.occurred_at <= at)
    raise ValueError(f"unknown clock {clock!r}")


def _replay(
    session: Session, at: datetime, clock: Clock
) -> tuple[dict[int, _Deal], dict[int, dict[str, Any]]]:
    """Fold every deal and deal-line event known at ``at``: one query, in clock order."""
    stamp = Event.occurred_at if clock == "occurred" else Event.recorded_at
    rows = session.execute(
        select(Event.entity, Event.entity_id, Event.occurred_at, Event.payload)
        .where(Event.entity.in_(DEAL_ENTITIES), known_by(at, clock))
        .order_by(stamp, Event.id)
    )
    deals: dict[int, _Deal] = {}
    lines: dict[int, dict[str, Any]] = {}
    for entity, entity_id, occurred_at, payload in rows:
        key = int(entity_id)
        payload = payload or {}
        after = payload.get("after")
        if entity == "opportunity_line":
            if payload.get("deleted"):
                lines.pop(key, None)
            elif after is not None:
                lines[key] = {**lines.get(key, {}), **after}
            continue
        if payload.get("deleted"):
            deals.pop(key, None)
            continue
        if after is None:
            continue
        deal = deals.get(key)
        if deal is None:
            deals[key] = _Deal(
                state=dict(after),
                created_at=occurred_at,
                entered_stage_at=occurred_at,
                last_changed_at=occurred_at,
            )
            continue
        moved = "stage_id" in after and after["stage_id"] != deal.state.get("stage_id")
        deal.state.update(after)
        deal.last_changed_at = occurred_at
        if moved:
            deal.stage_changes += 1
            deal.entered_stage_at = occurred_at
    return deals, lines


def _amount(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(Decimal(str(value)))


def _date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _product_codes(session: Session, lines: Iterable[dict[str, Any]]) -> dict[int, tuple[str, ...]]:
    codes = {product_id: code for product_id, code in session.execute(select(m.Product.id, m.Product.code))}
    by_deal: dict[int, set[str]] = {}
    for line in lines:
        deal_id, product_id = _int(line.get("opportunity_id")), _int(line.get("product_id"))
        if deal_id is None or product_id is None or product_id not in codes:
            continue
        by_deal.setdefault(deal_id, set()).add(codes[product_id])
    return {deal_id: tuple(sorted(found)) for deal_id, found in by_deal.items()}


def pipeline_as_of(session: Session, at: datetime, *, clock: Clock = "occurred") -> list[DealSnapshot]:
    """Every deal that existed at ``at`` (open, won or lost), with its state then.

    Four queries whatever the pipeline's size: the deal events, stages, products, teams.
    Deals are returned by id.
    """
    if at.tzinfo is None:
        raise ValueError("the cutoff must be timezone-aware")
    deals, lines = _replay(session, at, clock)
    stages = {stage.id: stage for stage in session.scalars(select(m.Stage))}
    teams = {user_id: team_id for user_id, team_id in session.execute(select(User.id, User.team_id))}
    products = _product_codes(session, lines.values())
    snapshots: list[DealSnapshot] = []
    for deal_id in sorted(deals):
        deal = deals[deal_id]
        state = deal.state
        stage = stages.get(int(state["stage_id"]))
        if stage is None:
            continue  # a stage since removed: nothing honest to say about the deal
        owner_id = _int(state.get("owner_id"))
        snapshots.append(
            DealSnapshot(
                opportunity_id=deal_id,
                as_of=at,
                account_id=_int(state.get("account_id")),
                owner_id=owner_id,
                team_id=teams.get(owner_id) if owner_id is not None else None,
                product_codes=products.get(deal_id, ()),
                pipeline_id=_int(state.get("pipeline_id")),
                stage_id=stage.id,
                stage_key=stage.key,
                stage_status=stage.status_class,
                stage_probability=stage.probability,
                stage_position=stage.position,
                amount=_amount(state.get("amount")),
                expected_close_date=_date(state.get("expected_close_date")),
                created_at=deal.created_at,
                entered_stage_at=deal.entered_stage_at,
                stage_changes_so_far=deal.stage_changes,
                last_changed_at=deal.last_changed_at,
                forecast_category=state.get("forecast_category"),
            )
        )
    return snapshots


def open_pipeline_as_of(session: Session, at: datetime, *, clock: Clock = "occurred") -> list[DealSnapshot]:
    """The deals that were open at ``at``."""
    return [deal for deal in pipeline_as_of(session, at, clock=clock) if deal.is_open]
