"""Point-in-time deal features: everything a forecast model may know about a deal at T.

Every aggregate counts only facts dated at or before the cutoff on the chosen clock (see
:mod:`pathcast.forecast.snapshot`), and win histories count only deals *closed* by then,
never the deal being described. Missing values are NaN, never a guess.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from pathcast.crm import models as m
from pathcast.events import Clock
from pathcast.forecast.snapshot import DealSnapshot, pipeline_as_of
from pathcast.signals import models as signal_models
from pathcast.signals.service.features import account_features

DAY = 86400.0
NAN = math.nan

COLUMNS: tuple[str, ...] = (
    "stage_position",
    "stage_probability",
    "days_in_stage",
    "stage_changes",
    "days_since_created",
    "stage_changes_per_30d",
    "log_amount",
    "amount_vs_account_won_mean",
    "account_closed_deals",
    "account_win_rate",
    "owner_win_rate",
    "team_win_rate",
    "product_win_rate",
    "days_since_last_activity",
    "activities_30d",
    "activities_90d",
    "days_to_expected_close",
    "signal_views_30d",
    "signal_qualifying_views_30d",
)


@dataclass(frozen=True)
class FeatureMatrix:
    """One row per deal, one float column per feature (NaN when unknown)."""

    columns: tuple[str, ...]
    values: npt.NDArray[np.float64]
    opportunity_ids: tuple[int, ...]

    def column(self, name: str) -> npt.NDArray[np.float64]:
        return self.values[:, self.columns.index(name)]

    def row(self, opportunity_id: int) -> dict[str, float]:
        index = self.opportunity_ids.index(opportunity_id)
        return {name: float(value) for name, value in zip(self.columns, self.values[index], strict=True)}


# --- win history ----------------------------------------------------------------------


class WinHistory:
    """Won and closed counts per key among deals closed by the cutoff."""

    def __init__(self) -> None:
        self.won: dict[Hashable, int] = defaultdict(int)
        self.closed: dict[Hashable, int] = defaultdict(int)

    def add(self, key: Hashable, won: bool) -> None:
        self.closed[key] += 1
        self.won[key] += int(won)

    def rate(self, key: Hashable, *, exclude_won: bool | None = None) -> float:
        """Laplace-smoothed win rate, (won + 1) / (closed + 2); ``exclude_won`` removes
        the described deal's own outcome when it is itself closed."""
        won, closed = self.won.get(key, 0), self.closed.get(key, 0)
        if exclude_won is not None:
            won, closed = won - int(exclude_won), closed - 1
        return (won + 1) / (closed + 2)


def _closed(history: Iterable[DealSnapshot], at: datetime) -> list[DealSnapshot]:
    return [
        deal for deal in history if not deal.is_open and deal.closed_at is not None and deal.closed_at <= at
    ]


def _own_outcome(deal: DealSnapshot, at: datetime) -> bool | None:
    """The deal's own outcome when it is already counted in the history, else None."""
    if deal.is_open or deal.closed_at is None or deal.closed_at > at:
        return None
    return deal.stage_status == m.StageClass.won.value


# --- activities -----------------------------------------------------------------------


def activity_times(session: Session, at: datetime, *, clock: Clock = "occurred") -> dict[int, list[datetime]]:
    """When each deal's activities happened, for those known at ``at``.

    An activity happened at ``occurred_at``, else ``done_at``, else (a note typed in)
    ``created_at``. On the recorded clock it must also have been created by ``at``.
    """
    a = m.Activity
    rows = session.execute(
        select(a.opportunity_id, a.occurred_at, a.done_at, a.created_at).where(
            a.opportunity_id.is_not(None),
            or_(a.occurred_at <= at, a.done_at <= at, a.created_at <= at),
        )
    )
    times: dict[int, list[datetime]] = defaultdict(list)
    for deal_id, occurred_at, done_at, created_at in rows:
        happened = occurred_at or done_at or created_at
        if deal_id is None or happened > at or (clock == "recorded" and created_at > at):
            continue
        times[deal_id].append(happened)
    return times


# --- behaviour signals ----------------------------------------------------------------


def signal_views(
    session: Session, account_ids: Iterable[int], at: datetime
) -> dict[int, tuple[float, float]]:
    """30-day views and qualifying views per account as received by ``at`` (one
    ``account_features`` call per account; none when no hit was ever received)."""
    if session.scalar(select(signal_models.Hit.id).limit(1)) is None:
        return {}
    found: dict[int, tuple[float, float]] = {}
    for account_id in sorted(set(account_ids)):
        window = account_features(session, account_id=account_id, as_of=at).windows["30d"]
        found[account_id] = (float(window.views), float(window.qualifying_views))
    return found


# --- the matrix -----------------------------------------------------------------------


def _days(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / DAY


def deal_features(
    session: Session,
    snapshots: Sequence[DealSnapshot],
    at: datetime,
    *,
    clock: Clock = "occurred",
    history: Sequence[DealSnapshot] | None = None,
) -> FeatureMatrix:
    """The feature matrix for ``snapshots`` (taken at ``at``), in their order.

    ``history`` is the whole pipeline at ``at`` (every deal, closed ones included) from
    which win histories are drawn; it is rebuilt when not given.
    """
    if any(deal.as_of > at for deal in snapshots):
        raise ValueError("a snapshot is later than the cutoff")
    if history is None:
        history = pipeline_as_of(session, at, clock=clock)
    closed = _closed(history, at)
    by_account, by_owner, by_team, by_product = WinHistory(), WinHistory(), WinHistory(), WinHistory()
    won_amounts: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for deal in closed:
        won = deal.stage_status == m.StageClass.won.value
        if deal.account_id is not None:
            by_account.add(deal.account_id, won)
            if won and deal.amount is not None:
                won_amounts[deal.account_id].append((deal.opportunity_id, deal.amount))
        if deal.owner_id is not None:
            by_owner.add(deal.owner_id, won)
        if deal.team_id is not None:
            by_team.add(deal.team_id, won)
        for code in deal.product_codes:
            by_product.add(code, won)

    activities = activity_times(session, at, clock=clock)
    signals = signal_views(session, (d.account_id for d in snapshots if d.account_id is not None), at)
    values = np.full((len(snapshots), len(COLUMNS)), NAN, dtype=np.float64)
    for index, deal in enumerate(snapshots):
        own = _own_outcome(deal, at)
        age = _days(at, deal.created_at)
        row: dict[str, float] = {
            "stage_position": float(deal.stage_position),
            "stage_probability": deal.stage_probability / 100.0,
            "days_in_stage": _days(at, deal.entered_stage_at),
            "stage_changes": float(deal.stage_changes_so_far),
            "days_since_created": age,
            "stage_changes_per_30d": deal.stage_changes_so_far / max(age, 1.0) * 30.0,
            "log_amount": math.log1p(deal.amount) if deal.amount is not None else NAN,
            "owner_win_rate": by_owner.rate(deal.owner_id, exclude_won=own) if deal.owner_id else NAN,
            "team_win_rate": by_team.rate(deal.team_id, exclude_won=own) if deal.team_id else NAN,
        }
        if deal.account_id is not None:
            others = [
                amount for deal_id, amount in won_amounts[deal.account_id] if deal_id != deal.opportunity_id
            ]
            mean_won = sum(others) / len(others) if others else NAN
            row["amount_vs_account_won_mean"] = (
                deal.amount / mean_won if deal.amount is not None and others and mean_won > 0 else NAN
            )
            row["account_closed_deals"] = float(by_account.closed.get(deal.account_id, 0) - (own is not None))
            row["account_win_rate"] = by_account.rate(deal.account_id, exclude_won=own)
            views = signals.get(deal.account_id, (0.0, 0.0))
            row["signal_views_30d"], row["signal_qualifying_views_30d"] = views
        if deal.product_codes:
            rates = [by_product.rate(code, exclude_won=own) for code in deal.product_codes]
            row["product_win_rate"] = sum(rates) / len(rates)
        times = activities.get(deal.opportunity_id, [])
        if times:
            row["days_since_last_activity"] = _days(at, max(times))
        row["activities_30d"] = float(sum(1 for t in times if t > at - timedelta(days=30)))
        row["activities_90d"] = float(sum(1 for t in times if t > at - timedelta(days=90)))
        if deal.expected_close_date is not None:
            row["days_to_expected_close"] = float((deal.expected_close_date - at.date()).days)
        for name, value in row.items():
            values[index, COLUMNS.index(name)] = value
    return FeatureMatrix(
        columns=COLUMNS,
        values=values,
        opportunity_ids=tuple(deal.opportunity_id for deal in snapshots),
    )
