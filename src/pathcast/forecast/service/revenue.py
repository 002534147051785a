"""Revenue per period as a distribution (P10/P50/P90): periods, scopes and who may see
them, the slip model, each deal's contribution and the Monte Carlo.

"What moved it", the forecast page's overview and the stored period forecasts (with their
``forecast.period_changed`` events) live in :mod:`pathcast.forecast.service.revenue_moved`,
which builds on this module. Everything reads the pipeline through the as-of snapshots
(``pathcast.forecast.snapshot``), so a forecast at a past moment and "what moved it"
between two moments are computed the same way as today's.

How a period's revenue is simulated
-----------------------------------
Each open deal in scope wins with its probability (the active model's score, else the
stage's configured probability; ``source`` says which) and closes on its expected close
date plus a slip drawn from history (:func:`slip_model`). Win and slip are independent,
so a deal lands in the period with probability ``p_win × p_in_period``, where
``p_in_period`` is the exact share of the learned slips that put its close inside the
period (conditioned on closing no earlier than today: an open deal cannot close in the
past). The Monte Carlo then draws each deal as a Bernoulli of that probability, vectorised
in blocks of draws; revenue already won in the period is added to every draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role, Team, User
from pathcast.auth.permissions import Actor, may
from pathcast.crm import models as m
from pathcast.crm.service import SPECS, readable_query
from pathcast.db import utcnow
from pathcast.errors import InvalidInput, PermissionDenied
from pathcast.forecast.models import PeriodKind
from pathcast.forecast.service import annotations as deal_annotations
from pathcast.forecast.service import scoring
from pathcast.forecast.snapshot import DealSnapshot, pipeline_as_of

PERIOD_KINDS = tuple(kind.value for kind in PeriodKind)
SLIP_LOOKBACK_MONTHS = 12
MIN_SLIP_OBSERVATIONS = 10
# Without a learned time to close, a deal with no expected close is spread over this many days.
UNDATED_SPREAD_DAYS = 90
TOP_DRIVERS = 3
BLOCK_CELLS = 2_000_000  # draws × deals per block: bounded memory whatever the pipeline's size
SYSTEM = Actor.system("forecast")


# --- periods and scopes -------------------------------------------------------------------


def period_start_of(kind: str, day: date) -> date:
    """The first day of the calendar month or quarter (UTC) that contains ``day``."""
    if kind not in PERIOD_KINDS:
        raise InvalidInput.single("period", "forecast_bad_period", value=kind)
    month = day.month if kind == "month" else 3 * ((day.month - 1) // 3) + 1
    return date(day.year, month, 1)


def period_end(kind: str, start: date) -> date:
    """The first day after the period that starts at ``start``."""
    months = 1 if kind == "month" else 3
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1)


@dataclass(frozen=True)
class Scope:
    """Whose deals: the company, a team or a rep."""

    kind: str  # "company", "team" or "rep"
    id: int | None = None

    @property
    def text(self) -> str:
        return self.kind if self.id is None else f"{self.kind}:{self.id}"

    def holds(self, deal: DealSnapshot) -> bool:
        """Whether the deal (as it stood then) belongs to this scope."""
        if self.kind == "team":
            return deal.team_id == self.id
        if self.kind == "rep":
            return deal.owner_id == self.id
        return True


def parse_scope(text: str) -> Scope:
    """``company``, ``team:<id>`` or ``rep:<user id>``; anything else names the parameter."""
    value = (text or "").strip()
    if value == "company":
        return Scope("company")
    kind, _, number = value.partition(":")
    if kind in ("team", "rep") and number.isdigit():
        return Scope(kind, int(number))
    raise InvalidInput.single("scope", "forecast_bad_scope", value=text)


def _team_members(session: Session, team_id: int) -> list[int]:
    return list(session.scalars(select(User.id).where(User.team_id == team_id)))


def check_scope(session: Session, actor: Actor | None, scope: Scope) -> None:
    """Refuse a scope the caller may not see: a rep sees only themself, a manager their
    team and its people, an admin (or the system, ``actor=None``) everything."""
    if actor is None:
        return
    if not may(actor, "forecast", "read"):
        raise PermissionDenied("forbidden_model", entity="forecast")
    if actor.role is Role.admin:
        return
    allowed = False
    if scope.kind == "rep":
        allowed = scope.id == actor.user_id or (
            actor.role is Role.manager
            and actor.team_id is not None
            and scope.id in _team_members(session, actor.team_id)
        )
    elif scope.kind == "team":
        allowed = actor.role is Role.manager and scope.id is not None and scope.id == actor.team_id
    if not allowed:
        raise PermissionDenied("forecast_scope_forbidden", scope=scope.text)


def visible_scopes(session: Session, actor: Actor) -> list[tuple[str, str]]:
    """The scopes the actor may choose, as (scope, label): company, teams, people."""
    if not may(actor, "forecast", "read"):
        raise PermissionDenied("forbidden_model", entity="forecast")
    sellers = select(User).where(User.role.in_([Role.manager.value, Role.rep.value])).order_by(User.name)
    if actor.role is Role.admin:
        teams = list(session.scalars(select(Team).order_by(Team.name)))
        people = list(session.scalars(sellers))
        return (
            [("company", "company")]
            + [(f"team:{team.id}", team.name) for team in teams]
            + [(f"rep:{person.id}", person.name) for person in people]
        )
    if actor.role is Role.manager and actor.team_id is not None:
        team = session.get(Team, actor.team_id)
        people = list(session.scalars(sellers.where(User.team_id == actor.team_id)))
        return [(f"team:{actor.team_id}", team.name if team else str(actor.team_id))] + [
            (f"rep:{person.id}", person.name) for person in people
        ]
    me = session.get(User, actor.user_id) if actor.user_id is not None else None
    return [(f"rep:{actor.user_id}", me.name if me else str(actor.user_id))]


def default_scope(actor: Actor) -> str:
    """Where a person starts: admins the company, managers their team, reps themselves."""
    if actor.role is Role.admin:
        return "company"
    if actor.role is Role.manager and actor.team_id is not None:
        return f"team:{actor.team_id}"
    return f"rep:{actor.user_id}"


def _aware(at: datetime | None) -> datetime:
    if at is None:
        return utcnow()
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


# --- slip learned from history --------------------------------------------------------------


@dataclass(frozen=True)
class SlipModel:
    """How won deals' actual close compared with the close date they were expected at earlier."""

    as_of: datetime
    slips: np.ndarray  # sorted days: actual close − expected close, one per (snapshot, deal)
    remaining: np.ndarray  # sorted days from a snapshot where the deal was open to its close
    observations: int
    no_expected_share: float
    notes: tuple[str, ...] = ()

    @property
    def learned(self) -> bool:
        return len(self.slips) >= MIN_SLIP_OBSERVATIONS

    @property
    def timed(self) -> bool:
        return len(self.remaining) >= MIN_SLIP_OBSERVATIONS

    def summary(self) -> dict[str, Any]:
        """Quantiles for people: median slip, P10/P90, how much history taught it."""

        def quantiles(values: np.ndarray) -> dict[str, float] | None:
            if not len(values):
                return None
            p10, p50, p90 = np.percentile(values, [10, 50, 90])
            return {"p10": float(p10), "p50": float(p50), "p90": float(p90)}

        return {
            "observations": self.observations,
            "learned": self.learned,
            "slip_days": quantiles(self.slips),
            "days_to_close": quantiles(self.remaining),
            "no_expected_close_share": round(self.no_expected_share, 4),
        }


def _month_starts(before: datetime, months: int) -> list[datetime]:
    first = datetime(before.year, before.month, 1, tzinfo=UTC)
    starts = []
    for back in range(months, -1, -1):
        index = first.year * 12 + first.month - 1 - back
        start = datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
        if start < before:
            starts.append(start)
    return starts


def slip_model(
    session: Session, at: datetime | None = None, *, months: int = SLIP_LOOKBACK_MONTHS
) -> SlipModel:
    """Learn close-date slip as of ``at`` from deals won by then: at each month start of the
    last ``months`` months, every deal open then that later won gives (its close − the close
    date expected then) and (its close − that month start). Few data: no slip, and ``notes``
    says so."""
    at = _aware(at)
    won = {
        deal.opportunity_id: deal.entered_stage_at.date()
        for deal in pipeline_as_of(session, at)
        if deal.stage_status == m.StageClass.won.value
    }
    slips: list[int] = []
    remaining: list[int] = []
    undated = 0
    for start in _month_starts(at, months) if won else []:
        for deal in pipeline_as_of(session, start):
            closed = won.get(deal.opportunity_id)
            if not deal.is_open or closed is None:
                continue
            remaining.append((closed - start.date()).days)
            if deal.expected_close_date is None:
                undated += 1
            else:
                slips.append((closed - deal.expected_close_date).days)
    seen = len(slips) + undated
    notes: list[str] = []
    if len(slips) < MIN_SLIP_OBSERVATIONS:
        notes.append(
            f"only {len(slips)} won deals' expected close dates in the history: no slip assumed "
            "(a deal closes on its expected date, or today when that date has passed)"
        )
    if len(remaining) < MIN_SLIP_OBSERVATIONS:
        notes.append(
            f"too little history of time to close: deals without an expected close date are spread "
            f"evenly over the next {UNDATED_SPREAD_DAYS} days"
        )
    return SlipModel(
        as_of=at,
        slips=np.sort(np.asarray(slips, dtype=np.int64)),
        remaining=np.sort(np.asarray(remaining, dtype=np.int64)),
        observations=seen,
        no_expected_share=undated / seen if seen else 0.0,
        notes=tuple(notes),
    )


def _share_between(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """For each row, the share of sorted ``values`` in [low, high) (0 when empty)."""
    if not len(values):
        return np.zeros(len(low))
    count = np.searchsorted(values, high, side="left") - np.searchsorted(values, low, side="left")
    return np.clip(count, 0, None) / len(values)


def in_period_probabilities(
    slip: SlipModel, expected: Sequence[date | None], today: date, start: date, end: date
) -> np.ndarray:
    """For each open deal, the probability that it closes in [start, end), given that it
    closes on or after ``today``: its expected close plus a learned slip, or (no expected
    close) today plus a learned time to close."""
    n = len(expected)
    result = np.zeros(n)
    lo_day, hi_day = (start - today).days, (end - today).days
    dated = np.array([value is not None for value in expected], dtype=bool)
    offsets = np.array(
        [(value - today).days if value is not None else 0 for value in expected], dtype=np.int64
    )
    # undated deals, and dated deals overdue beyond every slip seen: today + time to close
    from_today = np.zeros(n, dtype=float)
    if slip.timed:
        from_today[:] = _share_between(slip.remaining, np.full(n, lo_day), np.full(n, hi_day))[:n]
    else:
        overlap = max(0, min(hi_day, UNDATED_SPREAD_DAYS) - max(lo_day, 0))
        from_today[:] = overlap / UNDATED_SPREAD_DAYS
    result[~dated] = from_today[~dated]
    if not dated.any():
        return result
    if not slip.learned:
        close = np.maximum(offsets, 0)  # no slip; an overdue deal closes today at the earliest
        hit = (close >= lo_day) & (close < hi_day)
        result[dated] = hit[dated].astype(float)
        return result
    values = slip.slips
    floor = -offsets  # a slip that would close the deal before today is impossible now
    allowed = len(values) - np.searchsorted(values, floor, side="left")
    low = np.maximum(lo_day - offsets, floor)
    high = hi_day - offsets
    inside = np.clip(
        np.searchsorted(values, high, side="left") - np.searchsorted(values, low, side="left"), 0, None
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(allowed > 0, inside / np.maximum(allowed, 1), from_today)
    result[dated] = share[dated]
    return result


# --- inputs: probabilities and overrides ------------------------------------------------------


@dataclass(frozen=True)
class _Score:
    probability: float
    drivers: list[dict[str, Any]]
    model_version: int | None


def _model_scores(session: Session, ids: list[int], at: datetime | None) -> dict[int, _Score]:
    """The win model's scores with their drivers: the latest when live (``at`` None), else
    the newest scored by ``at``."""
    if not ids:
        return {}
    rows = scoring.latest_scores(session, ids) if at is None else scoring.scores_as_of(session, at, ids)
    return {
        deal_id: _Score(score.probability, list(score.drivers or []), score.model_version)
        for deal_id, score in rows.items()
    }


@dataclass(frozen=True)
class _Override:
    probability: float | None
    category: str | None
    author: str | None
    note: str | None


def _overrides(session: Session, ids: list[int], at: datetime | None) -> dict[int, _Override]:
    """Reps' effective overrides known at ``at`` (now when None)."""
    if not ids:
        return {}
    return {
        deal_id: _Override(item.probability, item.category, item.author_label, item.note)
        for deal_id, item in deal_annotations.effective_overrides(session, ids, at=at).items()
    }


# --- the world at one moment ------------------------------------------------------------------


@dataclass
class _World:
    """Everything a period forecast reads at one moment, loaded once for every scope."""

    at: datetime
    deals: list[DealSnapshot]
    scores: dict[int, _Score]
    overrides: dict[int, _Override]
    slip: SlipModel
    readable: set[int] | None
    names: dict[int, str] = field(default_factory=dict)
    owners: dict[int, str] = field(default_factory=dict)


def _load_world(
    session: Session, actor: Actor | None, at: datetime | None, slip: SlipModel | None = None
) -> _World:
    moment = _aware(at)
    deals = pipeline_as_of(session, moment)
    readable: set[int] | None = None
    if actor is not None and not actor.is_admin:
        query = readable_query(actor, SPECS["opportunity"]).with_only_columns(m.Opportunity.id)
        readable = set(session.scalars(query))
        deals = [deal for deal in deals if deal.opportunity_id in readable]
    open_ids = [deal.opportunity_id for deal in deals if deal.is_open]
    # names as they are now (a snapshot carries no name); one query each, not one per deal
    rows = session.execute(
        readable_query(actor or SYSTEM, SPECS["opportunity"]).with_only_columns(
            m.Opportunity.id, m.Opportunity.name
        )
    )
    owners = session.execute(select(User.id, User.name))
    return _World(
        at=moment,
        deals=deals,
        scores=_model_scores(session, open_ids, at),
        overrides=_overrides(session, open_ids, at),
        slip=slip if slip is not None else slip_model(session, moment),
        readable=readable,
        names={int(row[0]): str(row[1]) for row in rows},
        owners={int(row[0]): str(row[1]) for row in owners},
    )


# --- the distribution -------------------------------------------------------------------------


@dataclass
class DealContribution:
    """One open deal's part of a period forecast."""

    id: int
    name: str
    owner_id: int | None
    owner: str | None
    stage_id: int
    stage_key: str
    amount: float | None
    expected_close_date: date | None
    p_win: float
    p_in_period: float
    expected_value: float
    source: str  # "model" or "stage"
    model_version: int | None
    drivers: list[dict[str, Any]]
    override_probability: float | None = None
    override_category: str | None = None
    override_by: str | None = None
    override_note: str | None = None

    @property
    def expected_with_override(self) -> float:
        p = self.p_win if self.override_probability is None else self.override_probability
        return (self.amount or 0.0) * p * self.p_in_period

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["expected_close_date"] = (
            self.expected_close_date.isoformat() if self.expected_close_date else None
        )
        data["expected_with_override"] = round(self.expected_with_override, 2)
        return data


@dataclass
class PeriodDistribution:
    """Revenue of one period and scope as a distribution, with the deals behind it."""

    period_kind: str
    period_start: date
    period_end: date
    scope: str
    at: datetime
    draws: int
    seed: int
    p10: float
    p50: float
    p90: float
    expected: float
    expected_with_overrides: float
    won_so_far: float
    won_deals: int
    deals: list[DealContribution]
    sources: dict[str, int]
    model_version: int | None
    slip: dict[str, Any]
    notes: list[str]

    def as_dict(self) -> dict[str, Any]:
        """The JSON document of the API and the CLI (a public interface: keep its shape)."""
        return {
            "period_kind": self.period_kind,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "scope": self.scope,
            "at": self.at.isoformat(),
            "draws": self.draws,
            "seed": self.seed,
            "p10": round(self.p10, 2),
            "p50": round(self.p50, 2),
            "p90": round(self.p90, 2),
            "expected": round(self.expected, 2),
            "expected_with_overrides": round(self.expected_with_overrides, 2),
            "won_so_far": round(self.won_so_far, 2),
            "won_deals": self.won_deals,
            "open_deals": len(self.deals),
            "sources": self.sources,
            "model_version": self.model_version,
            "slip": self.slip,
            "notes": self.notes,
            "deals": [deal.as_dict() for deal in self.deals],
        }


def _won_in(deal: DealSnapshot, start: date, end: date) -> bool:
    closed = deal.closed_at
    return (
        deal.stage_status == m.StageClass.won.value
        and closed is not None
        and start <= closed.astimezone(UTC).date() < end
    )


def _contributions(world: _World, scope: Scope, kind: str, start: date) -> list[DealContribution]:
    end = period_end(kind, start)
    open_deals = [deal for deal in world.deals if deal.is_open and scope.holds(deal)]
    shares = in_period_probabilities(
        world.slip, [deal.expected_close_date for deal in open_deals], world.at.date(), start, end
    )
    result = []
    for deal, share in zip(open_deals, shares, strict=True):
        score = world.scores.get(deal.opportunity_id)
        p_win = score.probability if score is not None else deal.stage_probability / 100.0
        override = world.overrides.get(deal.opportunity_id)
        result.append(
            DealContribution(
                id=deal.opportunity_id,
                name=world.names.get(deal.opportunity_id, f"#{deal.opportunity_id}"),
                owner_id=deal.owner_id,
                owner=world.owners.get(deal.owner_id) if deal.owner_id is not None else None,
                stage_id=deal.stage_id,
                stage_key=deal.stage_key,
                amount=deal.amount,
                expected_close_date=deal.expected_close_date,
                p_win=float(p_win),
                p_in_period=float(share),
                expected_value=float((deal.amount or 0.0) * p_win * share),
                source="model" if score is not None else "stage",
                model_version=score.model_version if score is not None else None,
                drivers=(score.drivers if score is not None else [])[:TOP_DRIVERS],
                override_probability=override.probability if override else None,
                override_category=override.category if override else None,
                override_by=override.author if override else None,
                override_note=override.note if override else None,
            )
        )
    result.sort(key=lambda item: (-item.expected_value, item.id))
    return result


def simulate(amounts: np.ndarray, probabilities: np.ndarray, *, draws: int, seed: int) -> np.ndarray:
    """``draws`` totals of independent Bernoulli deals: Σ amount × (u < p), in blocks."""
    rng = np.random.default_rng(seed)
    totals = np.zeros(draws)
    live = probabilities > 0
    amounts, probabilities = amounts[live], probabilities[live]
    if not len(amounts):
        return totals
    block = max(1, BLOCK_CELLS // len(amounts))
    for first in range(0, draws, block):
        rows = min(block, draws - first)
        wins = rng.random((rows, len(amounts))) < probabilities
        totals[first : first + rows] = wins @ amounts
    return totals


def _distribution(
    world: _World, scope: Scope, kind: str, start: date, *, draws: int, seed: int
) -> PeriodDistribution:
    end = period_end(kind, start)
    # Deals that cannot close inside the period are left out of the list (not of what-moved).
    everyone = _contributions(world, scope, kind, start)
    deals = [deal for deal in everyone if deal.p_in_period > 0]
    won = [deal for deal in world.deals if scope.holds(deal) and _won_in(deal, start, end)]
    won_so_far = float(sum(deal.amount or 0.0 for deal in won))
    amounts = np.array([deal.amount or 0.0 for deal in deals], dtype=float)
    chances = np.array([deal.p_win * deal.p_in_period for deal in deals], dtype=float)
    totals = simulate(amounts, chances, draws=draws, seed=seed) + won_so_far
    p10, p50, p90 = (float(value) for value in np.percentile(totals, [10, 50, 90]))
    sources = {
        "model": sum(d.source == "model" for d in deals),
        "stage": sum(d.source == "stage" for d in deals),
    }
    versions = sorted({d.model_version for d in deals if d.model_version is not None})
    notes = list(world.slip.notes)
    if deals and not sources["model"]:
        notes.append("no model scores yet: every deal uses its stage's configured probability")
    elif sources["stage"]:
        notes.append(f"{sources['stage']} deals have no model score: their stage's probability is used")
    unpriced = sum(d.amount is None for d in deals)
    if unpriced:
        notes.append(f"{unpriced} open deals have no amount and count as 0")
    if len(everyone) > len(deals):
        notes.append(
            f"{len(everyone) - len(deals)} open deals in scope are not expected to close in this period"
        )
    if not deals:
        notes.append("no open deals expected to close in this period in this scope")
    return PeriodDistribution(
        period_kind=kind,
        period_start=start,
        period_end=end,
        scope=scope.text,
        at=world.at,
        draws=draws,
        seed=seed,
        p10=p10,
        p50=p50,
        p90=p90,
        expected=won_so_far + float(amounts @ chances) if len(deals) else won_so_far,
        expected_with_overrides=won_so_far + sum(d.expected_with_override for d in deals),
        won_so_far=won_so_far,
        won_deals=len(won),
        deals=deals,
        sources=sources,
        model_version=versions[-1] if versions else None,
        slip=world.slip.summary(),
        notes=notes,
    )


def period_distribution(
    session: Session,
    *,
    actor: Actor | None,
    period_kind: str,
    period_start: date,
    scope: str = "company",
    at: datetime | None = None,
    draws: int = 5000,
    seed: int = 7,
) -> PeriodDistribution:
    """Revenue of the period containing ``period_start`` for ``scope`` as seen at ``at``
    (default now): P10/P50/P90 by Monte Carlo, expected value (model and with reps'
    overrides), revenue won so far and each open deal's contribution. Same seed, same numbers."""
    start = period_start_of(period_kind, period_start)
    target = parse_scope(scope)
    check_scope(session, actor, target)
    if draws < 100 or draws > 100_000:
        raise InvalidInput.single("draws", "forecast_bad_draws", min=100, max=100_000)
    world = _load_world(session, actor, at)
    return _distribution(world, target, period_kind, start, draws=draws, seed=seed)


__all__ = [
    "BLOCK_CELLS",
    "MIN_SLIP_OBSERVATIONS",
    "PERIOD_KINDS",
    "SLIP_LOOKBACK_MONTHS",
    "SYSTEM",
    "TOP_DRIVERS",
    "UNDATED_SPREAD_DAYS",
    "DealContribution",
    "PeriodDistribution",
    "Scope",
    "SlipModel",
    "check_scope",
    "default_scope",
    "in_period_probabilities",
    "parse_scope",
    "period_distribution",
    "period_end",
    "period_start_of",
    "simulate",
    "slip_model",
    "visible_scopes",
]
