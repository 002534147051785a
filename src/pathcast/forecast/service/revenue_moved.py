"""What moved a period's expected revenue between two moments, the forecast page's overview,
and the stored period forecasts with their ``forecast.period_changed`` events.

The only writer of ``PeriodForecast`` rows. Both moments are replayed through
:mod:`pathcast.forecast.service.revenue` (the same as-of snapshots and per-deal
contributions as the distribution), so "what moved it" adds up to the change of the
expected revenue exactly. This module imports from ``revenue``, never the other way round;
``revenue`` re-exports the public names below for older imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role, Team
from pathcast.auth.permissions import Actor
from pathcast.errors import InvalidInput, PermissionDenied
from pathcast.events import append_event
from pathcast.forecast.models import PeriodForecast
from pathcast.forecast.service.revenue import (
    DealContribution,
    PeriodDistribution,
    Scope,
    _aware,
    _contributions,
    _distribution,
    _load_world,
    _won_in,
    _World,
    check_scope,
    parse_scope,
    period_end,
    period_start_of,
)

MOVE_SHARE = 0.05
BUCKETS = ("new", "stage", "slip", "win", "loss", "probability", "amount", "other")

__all__ = [
    "BUCKETS",
    "MOVE_SHARE",
    "Bucket",
    "MovedDeal",
    "Overview",
    "WhatMoved",
    "current_periods",
    "latest_recorded",
    "period_overview",
    "record_periods",
    "what_moved",
]


# --- what moved it ----------------------------------------------------------------------------


@dataclass
class MovedDeal:
    id: int
    name: str
    before: float
    after: float

    @property
    def delta(self) -> float:
        return self.after - self.before


@dataclass
class Bucket:
    key: str
    deals: list[MovedDeal] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(deal.delta for deal in self.deals)


@dataclass
class WhatMoved:
    """The change of a period's expected revenue between two moments, by cause."""

    period_kind: str
    period_start: date
    scope: str
    since: datetime
    until: datetime
    before: float
    after: float
    buckets: list[Bucket]
    notes: list[str]

    @property
    def delta(self) -> float:
        return self.after - self.before

    def moved(self) -> dict[str, float]:
        """Bucket → amount (the ``moved`` of ``forecast.period_changed``)."""
        return {bucket.key: round(bucket.total, 2) for bucket in self.buckets}

    def as_dict(self) -> dict[str, Any]:
        return {
            "period_kind": self.period_kind,
            "period_start": self.period_start.isoformat(),
            "scope": self.scope,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "before": round(self.before, 2),
            "after": round(self.after, 2),
            "delta": round(self.delta, 2),
            "buckets": [
                {
                    "key": bucket.key,
                    "total": round(bucket.total, 2),
                    "deals": [
                        {
                            "id": d.id,
                            "name": d.name,
                            "before": round(d.before, 2),
                            "after": round(d.after, 2),
                            "delta": round(d.delta, 2),
                        }
                        for d in sorted(bucket.deals, key=lambda d: (-abs(d.delta), d.id))
                    ],
                }
                for bucket in self.buckets
            ],
            "notes": self.notes,
        }


@dataclass(frozen=True)
class _Value:
    """One deal's part of a period's expected revenue at one moment."""

    ev: float
    amount: float
    p_win: float
    p_in: float
    status: str
    stage_id: int
    in_scope: bool


def _values(world: _World, scope: Scope, kind: str, start: date) -> dict[int, _Value]:
    end = period_end(kind, start)
    contributions = {c.id: c for c in _contributions(world, Scope("company"), kind, start)}
    values = {}
    for deal in world.deals:
        amount = deal.amount or 0.0
        c = contributions.get(deal.opportunity_id)
        if c is not None:
            ev, p_win, p_in = c.expected_value, c.p_win, c.p_in_period
        else:
            won = _won_in(deal, start, end)
            ev, p_win, p_in = (amount if won else 0.0), 1.0 if deal.stage_status == "won" else 0.0, float(won)
        values[deal.opportunity_id] = _Value(
            ev, amount, p_win, p_in, deal.stage_status, deal.stage_id, scope.holds(deal)
        )
    return values


def _attribute(before: dict[int, _Value], after: dict[int, _Value], names: dict[int, str]) -> list[Bucket]:
    """Split each deal's change into buckets that add up to it exactly: amount first, then
    the win probability (a stage move, or the model's score for an unmoved deal), then the
    chance of closing inside the period (slips)."""
    buckets = {key: Bucket(key) for key in BUCKETS}

    def add(key: str, deal_id: int, old: float, new: float) -> None:
        if abs(new - old) > 1e-6:
            buckets[key].deals.append(MovedDeal(deal_id, names.get(deal_id, f"#{deal_id}"), old, new))

    for deal_id in sorted(set(before) | set(after)):
        old, new = before.get(deal_id), after.get(deal_id)
        old_ev = old.ev if old is not None and old.in_scope else 0.0
        new_ev = new.ev if new is not None and new.in_scope else 0.0
        if old is None:
            add("new", deal_id, 0.0, new_ev)
        elif new is None or not (old.in_scope and new.in_scope):
            add("other", deal_id, old_ev, new_ev)  # deleted, or moved to another owner or team
        elif new.status == "won" and old.status != "won":
            add("win", deal_id, old_ev, new_ev)
        elif new.status == "lost" and old.status != "lost":
            add("loss", deal_id, old_ev, new_ev)
        elif new.status != "open" or old.status != "open":
            # closed on both sides (or reopened): only the amount can move it
            add("amount" if new.status == old.status else "other", deal_id, old_ev, new_ev)
        else:
            step1 = new.amount * old.p_win * old.p_in
            step2 = new.amount * new.p_win * old.p_in
            add("amount", deal_id, old_ev, step1)
            add("stage" if new.stage_id != old.stage_id else "probability", deal_id, step1, step2)
            add("slip", deal_id, step2, new_ev)
    return [buckets[key] for key in BUCKETS]


def _what_moved(before_world: _World, after_world: _World, scope: Scope, kind: str, start: date) -> WhatMoved:
    before = _values(before_world, scope, kind, start)
    after = _values(after_world, scope, kind, start)
    names = {**before_world.names, **after_world.names}
    notes = [
        "expected revenue (Σ amount × win probability × chance of closing in the period, plus "
        "revenue won in it); both moments use the same slip history, so a slip is a change of the deal"
    ]
    return WhatMoved(
        period_kind=kind,
        period_start=start,
        scope=scope.text,
        since=before_world.at,
        until=after_world.at,
        before=sum(v.ev for v in before.values() if v.in_scope),
        after=sum(v.ev for v in after.values() if v.in_scope),
        buckets=_attribute(before, after, names),
        notes=notes,
    )


def what_moved(
    session: Session,
    *,
    actor: Actor | None,
    period_kind: str,
    period_start: date,
    scope: str = "company",
    since: datetime | None = None,
    until: datetime | None = None,
) -> WhatMoved:
    """What changed the period's expected revenue between ``since`` (default a week before
    ``until``) and ``until`` (default now): new deals, stage moves, slips, wins, losses,
    probability changes, amount changes (and "other": reassigned or deleted deals)."""
    start = period_start_of(period_kind, period_start)
    target = parse_scope(scope)
    check_scope(session, actor, target)
    end_moment = _aware(until)
    begin = _aware(since) if since is not None else end_moment - timedelta(days=7)
    if begin >= end_moment:
        raise InvalidInput.single("since", "forecast_since_after_until")
    after_world = _load_world(session, actor, until)
    before_world = _load_world(session, actor, begin, slip=after_world.slip)
    return _what_moved(before_world, after_world, target, period_kind, start)


@dataclass
class Overview:
    """What the forecast page shows: the chosen scope's distribution, one row per visible
    scope for the chart, and what moved the chosen scope since ``since``."""

    selected: PeriodDistribution
    rows: list[PeriodDistribution]
    moved: WhatMoved


def period_overview(
    session: Session,
    *,
    actor: Actor,
    period_kind: str,
    period_start: date,
    scope: str,
    scopes: Sequence[str],
    since: datetime | None = None,
    draws: int = 5000,
    seed: int = 7,
) -> Overview:
    """The chosen scope's distribution, every scope in ``scopes`` for comparison and what
    moved it since ``since`` (default a week ago); the pipeline is replayed once per moment."""
    start = period_start_of(period_kind, period_start)
    chosen = parse_scope(scope)
    targets = [parse_scope(text) for text in scopes]
    for target in [chosen, *targets]:
        check_scope(session, actor, target)
    world = _load_world(session, actor, None)
    begin = _aware(since) if since is not None else world.at - timedelta(days=7)
    before = _load_world(session, actor, begin, slip=world.slip)
    return Overview(
        selected=_distribution(world, chosen, period_kind, start, draws=draws, seed=seed),
        rows=[_distribution(world, target, period_kind, start, draws=draws, seed=seed) for target in targets],
        moved=_what_moved(before, world, chosen, period_kind, start),
    )


# --- stored forecasts and their events --------------------------------------------------------


def current_periods(at: datetime) -> list[tuple[str, date]]:
    """This and next month, this and next quarter."""
    today = at.date()
    periods = []
    for kind in ("month", "quarter"):
        start = period_start_of(kind, today)
        periods += [(kind, start), (kind, period_end(kind, start))]
    return periods


def _recorded_scopes(session: Session, actor: Actor, world: _World) -> list[Scope]:
    owners = sorted({d.owner_id for d in world.deals if d.is_open and d.owner_id is not None})
    teams = sorted({team_id for (team_id,) in session.execute(select(Team.id))})
    scopes = [Scope("company")] + [Scope("team", t) for t in teams] + [Scope("rep", o) for o in owners]
    visible = []
    for scope in scopes:
        try:
            check_scope(session, actor, scope)
        except PermissionDenied:
            continue
        visible.append(scope)
    return visible


def _one_deal(deals: Iterable[DealContribution]) -> float:
    amounts = sorted(d.amount for d in deals if d.amount)
    return float(amounts[len(amounts) // 2]) if amounts else 0.0


def latest_recorded(
    session: Session, period_kind: str, period_start: date, scope: str
) -> PeriodForecast | None:
    """The newest stored forecast of this period and scope."""
    return session.scalars(
        select(PeriodForecast)
        .where(
            PeriodForecast.period_kind == period_kind,
            PeriodForecast.period_start == period_start,
            PeriodForecast.scope == scope,
        )
        .order_by(PeriodForecast.computed_at.desc(), PeriodForecast.id.desc())
        .limit(1)
    ).first()


def record_periods(
    session: Session, *, actor: Actor, at: datetime | None = None, draws: int = 5000, seed: int = 7
) -> list[PeriodForecast]:
    """Store the distribution of this and next month and quarter for the company, every team
    and every rep with open deals (as far as ``actor`` may see), with one
    ``forecast.periods_recorded`` event; a scope whose P50 moved by ≥ 5 % or by a typical
    deal's amount since its previous row also gets ``forecast.period_changed``."""
    if actor.role not in (Role.admin, Role.manager):
        raise PermissionDenied("forecast_record_forbidden")
    world = _load_world(session, actor, at)
    scopes = _recorded_scopes(session, actor, world)
    rows: list[PeriodForecast] = []
    before_worlds: dict[datetime, _World] = {}
    for kind, start in current_periods(world.at):
        for scope in scopes:
            result = _distribution(world, scope, kind, start, draws=draws, seed=seed)
            previous = latest_recorded(session, kind, start, scope.text)
            row = PeriodForecast(
                computed_at=world.at,
                period_kind=kind,
                period_start=start,
                scope=scope.text,
                model_version=result.model_version,
                p10=result.p10,
                p50=result.p50,
                p90=result.p90,
                expected=result.expected,
                won_so_far=result.won_so_far,
                deals=[
                    {
                        "id": d.id,
                        "amount": d.amount,
                        "p_win": round(d.p_win, 6),
                        "p_in_period": round(d.p_in_period, 6),
                        "source": d.source,
                        "stage": d.stage_key,
                        "expected_close_date": d.expected_close_date.isoformat()
                        if d.expected_close_date
                        else None,
                    }
                    for d in result.deals
                ],
            )
            session.add(row)
            rows.append(row)
            if previous is None or previous.computed_at >= world.at:
                continue
            change = result.p50 - previous.p50
            threshold = min(
                MOVE_SHARE * abs(previous.p50) if previous.p50 else float("inf"),
                _one_deal(result.deals) or float("inf"),
            )
            if change == 0 or abs(change) < threshold:
                continue
            then = previous.computed_at
            if then not in before_worlds:
                before_worlds[then] = _load_world(session, actor, then, slip=world.slip)
            moved = _what_moved(before_worlds[then], world, scope, kind, start).moved()
            append_event(
                session,
                type="forecast.period_changed",
                entity="period",
                entity_id=f"{kind}:{start.isoformat()}:{scope.text}",
                actor=actor.label,
                payload={
                    "metric": "p50",
                    "entity": "period",
                    "scope": scope.text,
                    "period_kind": kind,
                    "period_start": start.isoformat(),
                    "value": round(result.p50, 2),
                    "previous": round(previous.p50, 2),
                    "p10": round(result.p10, 2),
                    "p90": round(result.p90, 2),
                    "moved": moved,
                },
                occurred_at=world.at,
            )
    session.flush()
    append_event(
        session,
        type="forecast.periods_recorded",
        entity="period",
        entity_id=f"record:{world.at.isoformat()}",
        actor=actor.label,
        payload={
            "computed_at": world.at.isoformat(),
            "periods": [f"{kind}:{start.isoformat()}" for kind, start in current_periods(world.at)],
            "scopes": [scope.text for scope in scopes],
            "rows": len(rows),
        },
        occurred_at=world.at,
    )
    return rows
