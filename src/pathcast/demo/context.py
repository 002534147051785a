"""The state a demo build carries from one step to the next, and its clock.

Everything random comes from one ``random.Random(seed)`` and is drawn in a fixed
order, so the same seed and the same ``today`` give the same company. History lives
in Beijing office hours (01:00-10:30 UTC) on working days, and never later than the
working day before ``today``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.orm import Session

from pathcast.auth.models import User
from pathcast.auth.permissions import Actor
from pathcast.crm import models as m
from pathcast.demo.vocabulary import ProductPlan, TeamPlan

HISTORY_DAYS = 800  # a little over two years
CENT = Decimal("0.01")


def money(value: Decimal | int | float) -> Decimal:
    """A money amount rounded to cents."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Seller:
    """A rep (or manager) and the actors that write on their behalf."""

    user: User
    actor: Actor
    team: TeamPlan
    manager: Actor


@dataclass
class AccountInfo:
    """An account plus what the generator needs to know about it."""

    account: m.Account
    industry: str
    owner: Seller
    code: str
    created_at: datetime
    city_en: str
    currency: str = "CNY"
    is_distributor: bool = False
    is_outlet: bool = False
    showcase: bool = False  # the first customer of its industry: its deals cover every outcome
    contacts: list[m.Contact] = field(default_factory=list)
    won: list[m.Opportunity] = field(default_factory=list)
    first_win: datetime | None = None


@dataclass
class Demo:
    """One demo build in progress."""

    session: Session
    rng: random.Random
    today: date
    system: Actor
    stages: dict[str, m.Stage] = field(default_factory=dict)
    admin: Actor | None = None
    sellers: dict[str, list[Seller]] = field(default_factory=dict)
    members: dict[str, Actor] = field(default_factory=dict)
    products: dict[str, m.Product] = field(default_factory=dict)
    plans: dict[str, ProductPlan] = field(default_factory=dict)
    accounts: list[AccountInfo] = field(default_factory=list)
    logins: list[dict[str, str]] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)

    @property
    def horizon(self) -> datetime:
        """The last instant history may use: the close of the previous working day."""
        day = self.today - timedelta(days=1)
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        return datetime.combine(day, time(10, 30), UTC)

    @property
    def start(self) -> datetime:
        """Where the history begins."""
        return datetime.combine(self.today - timedelta(days=HISTORY_DAYS), time(2, 0), UTC)

    def at_work(self, day: date) -> datetime:
        """A random office-hours moment on ``day`` (moved to Monday from a weekend)."""
        while day.weekday() >= 5:
            day += timedelta(days=1)
        minutes = self.rng.randrange(60, 10 * 60 + 30)
        return datetime.combine(day, time(0), UTC) + timedelta(minutes=minutes)

    def after(self, moment: datetime, low: float, high: float) -> datetime:
        """An office-hours moment between ``low`` and ``high`` days after ``moment``."""
        day = (moment + timedelta(days=self.rng.uniform(low, high))).date()
        candidate = self.at_work(day)
        if candidate <= moment:
            candidate = moment + timedelta(minutes=self.rng.randrange(20, 180))
        return candidate

    def between(self, first: datetime, last: datetime) -> datetime:
        """An office-hours moment in ``[first, last]`` (``first`` itself if the span is short)."""
        if last <= first:
            return first
        span = (last - first).total_seconds()
        candidate = self.at_work((first + timedelta(seconds=self.rng.uniform(0, span))).date())
        return min(max(candidate, first), last)

    def number(self, prefix: str, year: int) -> str:
        """The next document number of a series, e.g. ``Q2025-00012``."""
        key = f"{prefix}{year}"
        self.counters[key] = self.counters.get(key, 0) + 1
        width = 5 if prefix == "Q" else 4
        return f"{prefix}{year}-{self.counters[key]:0{width}d}"

    def codes_of(self, lines: list[m.OpportunityLine]) -> list[str]:
        """The product codes of stored lines."""
        return [self.plan_of(line.product_id).code for line in lines]

    def plan_of(self, product_id: int) -> ProductPlan:
        """The catalogue entry of a stored product."""
        for code, product in self.products.items():
            if product.id == product_id:
                return self.plans[code]
        raise KeyError(product_id)


@dataclass
class DealSpec:
    """A deal to simulate."""

    info: AccountInfo
    owner: Seller
    created_at: datetime
    theme: str
    codes: tuple[str, ...]
    lead_source: str
    renewal_of: m.Contract | None = None
    fate: str | None = None  # "won", "lost" or "open" for showcase deals; None: left to chance


@dataclass
class DealResult:
    """What happened to a simulated deal."""

    spec: DealSpec
    opportunity: m.Opportunity
    stages: list[tuple[str, datetime]]
    lines: list[m.OpportunityLine] = field(default_factory=list)
    quote: m.Quote | None = None
    document: m.Document | None = None
    loss_reason: str | None = None

    @property
    def closed_at(self) -> datetime | None:
        return self.opportunity.closed_at
