"""Revenue per period as a distribution (P10/P50/P90), "what moved it", and the stored
period forecasts with their ``forecast.period_changed`` events.

The only writer of ``PeriodForecast`` rows. Everything reads the pipeline through the
as-of snapshots (``pathcast.forecast.snapshot``), so a forecast at a past moment and
"what moved it" between two moments are computed the same way as today's.

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

import importlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
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
from pathcast.events import append_event
from pathcast.forecast.models import Annotation, DealScore, PeriodForecast, PeriodKind
from pathcast.forecast.snapshot import DealSnapshot, pipeline_as_of

PERIOD_KINDS = tuple(kind.value for kind in PeriodKind)
SLIP_LOOKBACK_MONTHS = 12
MIN_SLIP_OBSERVATIONS = 10
# Without a learned time to close, a deal with no expected close is spread over this many days.
UNDATED_SPREAD_DAYS = 90
MOVE_SHARE = 0.05
TOP_DRIVERS = 3
BLOCK_CELLS = 2_000_000  # draws × deals per block: bounded memory whatever the pipeline's size
BUCKETS = ("new", "stage", "slip", "win", "loss", "probability", "amount", "other")
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


def _stored_scores(session: Session, ids: list[int], at: datetime | None) -> dict[int, _Score]:
    """Scores from the table this package owns: the latest row per deal, or the newest one
    scored by ``at``; each with its drivers and model version."""
    query = select(DealScore).where(DealScore.opportunity_id.in_(ids))
    if at is None:
        query = query.where(DealScore.is_latest.is_(True))
    else:
        query = query.where(DealScore.scored_at <= at)
    found: dict[int, DealScore] = {}
    for score in session.scalars(query.order_by(DealScore.scored_at, DealScore.id)):
        found[score.opportunity_id] = score  # later rows win
    return {
        deal_id: _Score(score.probability, list(score.drivers or []), score.model_version)
        for deal_id, score in found.items()
    }


def _model_scores(session: Session, ids: list[int], at: datetime | None) -> dict[int, _Score]:
    """The win model's probabilities: latest when live (``at`` None), else as of ``at``.

    The probability comes from ``pathcast.forecast.service.scoring`` when it is there
    (``latest_scores`` / ``probabilities_as_of``); drivers and versions, and everything
    until that module exists, from the score table."""
    if not ids:
        return {}
    stored = _stored_scores(session, ids, at)
    try:
        scoring = importlib.import_module("pathcast.forecast.service.scoring")
        if at is None:
            latest = scoring.latest_scores(session, ids)
            return {
                int(deal_id): _Score(
                    float(score.probability),
                    list(getattr(score, "drivers", None) or []),
                    getattr(score, "model_version", None),
                )
                for deal_id, score in latest.items()
            }
        as_of = scoring.probabilities_as_of(session, at, ids)
    except (ImportError, AttributeError):
        return stored
    result = {}
    for deal_id, probability in as_of.items():
        known = stored.get(int(deal_id))
        result[int(deal_id)] = _Score(
            float(probability), known.drivers if known else [], known.model_version if known else None
        )
    return result


@dataclass(frozen=True)
class _Override:
    probability: float | None
    category: str | None
    author: str | None
    note: str | None


def _overrides(session: Session, ids: list[int], at: datetime | None) -> dict[int, _Override]:
    """Reps' effective overrides, through ``service.annotations`` when it is there."""
    if not ids:
        return {}
    try:
        annotations = importlib.import_module("pathcast.forecast.service.annotations")

        found = annotations.effective_overrides(session, ids, at=at)
        return {
            int(deal_id): _Override(
                getattr(item, "probability", None),
                getattr(item, "category", None),
                getattr(item, "author_label", None) or getattr(item, "author", None),
                getattr(item, "note", None),
            )
            for deal_id, item in found.items()
        }
    except (ImportError, AttributeError):
        pass
    moment = _aware(at)
    query = (
        select(Annotation)
        .where(Annotation.opportunity_id.in_(ids), Annotation.created_at <= moment)
        .where((Annotation.override_probability.is_not(None)) | (Annotation.override_category.is_not(None)))
        .order_by(Annotation.created_at, Annotation.id)
    )
    result: dict[int, _Override] = {}
    for row in session.scalars(query):
        if row.withdrawn_at is not None and row.withdrawn_at <= moment:
            continue
        result[row.opportunity_id] = _Override(
            row.override_probability, row.override_category, row.author_label, row.note
        )
    return result


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
