"""Build the whole demo company inside one session, through the services only.

``load_demo`` never commits: the caller's unit of work does, so the data and every
event land together or not at all.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.auth.models import Team, User
from pathcast.auth.permissions import Actor
from pathcast.auth.service import get_user_by_email
from pathcast.crm import models as m
from pathcast.crm.service import ensure_default_pipeline, stages_of
from pathcast.demo.activities import deal_activities
from pathcast.demo.aftersales import account_tickets, create_contract, create_library
from pathcast.demo.annotations import deal_annotations
from pathcast.demo.behaviour import create_behaviour
from pathcast.demo.catalog import PRODUCTS, create_catalog
from pathcast.demo.company import create_accounts
from pathcast.demo.context import DealSpec, Demo
from pathcast.demo.deals import plan_deals, renewal_spec, run_deal
from pathcast.demo.hives import create_hive_demo
from pathcast.demo.people import ADMIN_EMAIL, create_account_teams, create_customer_login, create_staff
from pathcast.demo.portal import seed_portal
from pathcast.demo.radar import create_radar
from pathcast.demo.rules import create_rules
from pathcast.errors import Conflict, InvalidInput
from pathcast.events import Event, flush_events
from pathcast.signals import models as signal_models

DEFAULT_ACCOUNTS = 60
DEFAULT_SEED = 7
REQUIRED_STAGES = ("lead", "qualified", "discovery", "solution", "proposal", "negotiation", "won", "lost")

# label -> table, in the order a summary lists them
COUNTED: tuple[tuple[str, Any], ...] = (
    ("users", User),
    ("teams", Team),
    ("accounts", m.Account),
    ("contacts", m.Contact),
    ("products", m.Product),
    ("price_lists", m.PriceList),
    ("price_list_items", m.PriceListItem),
    ("opportunities", m.Opportunity),
    ("opportunity_lines", m.OpportunityLine),
    ("stage_changes", m.OpportunityStageChange),
    ("field_changes", m.OpportunityFieldChange),
    ("quotes", m.Quote),
    ("quote_lines", m.QuoteLine),
    ("activities", m.Activity),
    ("contracts", m.Contract),
    ("subscriptions", m.Subscription),
    ("tickets", m.Ticket),
    ("documents", m.Document),
    ("document_versions", m.DocumentVersion),
    ("signal_views", signal_models.View),
    ("identity_links", signal_models.IdentityLink),
    ("events", Event),
)


@dataclass
class DemoResult:
    """What a demo load produced."""

    counts: dict[str, int]
    logins: list[dict[str, str]]
    seed: int
    today: date
    extra: dict[str, Any] = field(default_factory=dict)


def demo_exists(session: Session) -> bool:
    """Whether the demo was already loaded here (its admin login exists)."""
    return get_user_by_email(session, ADMIN_EMAIL) is not None


def database_is_empty(session: Session) -> bool:
    """No accounts and no users yet."""
    accounts = session.scalar(select(func.count()).select_from(m.Account)) or 0
    users = session.scalar(select(func.count()).select_from(User)) or 0
    return accounts == 0 and users == 0


def count_rows(session: Session) -> dict[str, int]:
    """Rows per demo entity kind, plus deals by status."""
    flush_events(session)  # events held for a batch count too
    counts = {
        label: int(session.scalar(select(func.count()).select_from(model)) or 0) for label, model in COUNTED
    }
    for status in m.StageClass:
        counts[f"opportunities_{status.value}"] = int(
            session.scalar(
                select(func.count()).select_from(m.Opportunity).where(m.Opportunity.status == status.value)
            )
            or 0
        )
    return counts


def load_demo(
    session: Session,
    *,
    accounts: int = DEFAULT_ACCOUNTS,
    seed: int = DEFAULT_SEED,
    today: date | None = None,
) -> DemoResult:
    """Create the demo company; same ``seed`` and ``today`` give the same data.

    The session is flushed and expunged after each account, so ORM objects loaded
    into it before the call come back detached.
    """
    if accounts < 3:
        raise InvalidInput.single("accounts", "too_small", min=3)
    if demo_exists(session):
        raise Conflict("demo_exists", email=ADMIN_EMAIL)
    taken = session.scalars(
        select(m.Product.code).where(m.Product.code.in_([p.code for p in PRODUCTS]))
    ).all()
    if taken:
        raise Conflict("demo_products_exist", codes=sorted(taken))
    demo = Demo(
        session=session,
        rng=random.Random(seed),
        today=today or date.today(),
        system=Actor.system("demo"),
    )
    pipeline = ensure_default_pipeline(session, actor=demo.system)
    demo.stages = {stage.key: stage for stage in stages_of(session, pipeline.id)}
    missing = [key for key in REQUIRED_STAGES if key not in demo.stages]
    if missing:
        raise InvalidInput.single("pipeline", "demo_needs_default_stages", missing=missing)

    create_staff(demo)
    create_catalog(demo)
    create_library(demo)
    create_accounts(demo, accounts)
    for info in list(demo.accounts):
        queue: list[DealSpec] = plan_deals(demo, info)
        number = 0
        while queue:
            spec = queue.pop(0)
            number += 1
            result = run_deal(demo, spec, number)
            deal_activities(demo, result)
            deal_annotations(demo, result)
            contract = create_contract(demo, result)
            follow_up = renewal_spec(demo, result, contract) if contract is not None else None
            if follow_up is not None:
                queue.append(follow_up)
        account_tickets(demo, info)
        # Flushed rows need not stay in the identity map: dropping them keeps each
        # later flush and event append as cheap as the first.
        session.flush()
        session.expunge_all()
    create_account_teams(demo)
    create_customer_login(demo)
    create_behaviour(demo)
    create_rules(demo)
    create_radar(demo)
    create_hive_demo(demo)
    seed_portal(demo)
    session.flush()
    return DemoResult(counts=count_rows(session), logins=demo.logins, seed=seed, today=demo.today)
