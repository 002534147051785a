"""Demo hives: the shipped "产线升级 / line upgrade" template, the rule that opens a hive when a
deal is won (「商机赢单后，按“产线升级”模板创建任务蜂巢，并邀请交付经理和物流加入」, enabled,
so winning a deal in the demo creates one), and three hives for recent won deals of the
industrial-automation customers, created through the services at demo time:

- one on track (planning done, manufacturing under way),
- one late on its promise (production planning finished five days late, so manufacturing and
  everything after it slipped past the promised date: a ``hive.risk_alert``, at risk),
- one just started (kick-off done).

Members come from the template's roles (the demo's delivery, logistics, IT and customer
success people hold those positions). Everything is stamped before ``demo.horizon``;
nothing random is drawn, so the rest of the demo does not change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select

from pathcast.auth.models import User
from pathcast.auth.permissions import Actor
from pathcast.automation.language import build_vocabulary, compile_rule
from pathcast.automation.service import rules
from pathcast.crm import models as cm
from pathcast.demo.context import Demo
from pathcast.demo.vocabulary import AUTOMATION
from pathcast.hives import models as m
from pathcast.hives.service import board, templates
from pathcast.hives.service.hives import create_hive

RULE = ("赢单开蜂巢：产线升级", "zh", "商机赢单后，按“产线升级”模板创建任务蜂巢，并邀请交付经理和物流加入")

# (days before today the hive started, days from start to the promise,
#  milestones done as (key, day started, day finished) counted from the start, and the
#  milestones under way as (key, day started))
PLANS: tuple[tuple[int, int, tuple[tuple[str, int, int], ...], tuple[tuple[str, int], ...]], ...] = (
    (
        18,
        50,
        (("kickoff", 0, 0), ("production_plan", 1, 4), ("site_survey", 0, 5)),
        (("manufacturing", 4),),
    ),
    (
        30,
        43,
        (("kickoff", 0, 0), ("site_survey", 0, 5), ("production_plan", 1, 9)),
        (("manufacturing", 9),),
    ),
    (4, 60, (("kickoff", 0, 0),), (("production_plan", 1),)),
)
# who moves which milestone (keys of demo.members); the rest is the delivery manager's
MOVERS = {"site_survey": "it", "shipping": "logistics", "installation": "it", "acceptance": "success"}


def _moment(day: date) -> datetime:
    """Mid-morning in Beijing on ``day`` (02:30 UTC)."""
    return datetime.combine(day, time(2, 30), UTC)


def create_hive_rule(demo: Demo) -> None:
    """The rule of the issue, compiled against the demo's vocabulary and enabled."""
    assert demo.admin is not None
    name, lang, text = RULE
    result = compile_rule(text, lang, build_vocabulary(demo.session))  # type: ignore[arg-type]
    rule = rules.create_rule(
        demo.session,
        name=name,
        text=text,
        lang=lang,
        ir=result.ir,
        readback_zh=result.readback_zh,
        readback_en=result.readback_en,
        actor=demo.admin,
    )
    rules.enable_rule(demo.session, rule_id=rule.id, actor=demo.admin)


def _won_deals(demo: Demo, wanted: int, before: date) -> list[cm.Opportunity]:
    """The most recent won deals of industrial-automation customers, one per account, won
    before ``before``."""
    rows = demo.session.scalars(
        select(cm.Opportunity)
        .join(cm.Account, cm.Account.id == cm.Opportunity.account_id)
        .where(
            cm.Account.industry == AUTOMATION,
            cm.Opportunity.status == "won",
            cm.Opportunity.closed_at.is_not(None),
            cm.Opportunity.closed_at < _moment(before),
        )
        .order_by(cm.Opportunity.closed_at.desc(), cm.Opportunity.id)
    )
    chosen: list[cm.Opportunity] = []
    accounts: set[int] = set()
    for deal in rows:
        if deal.account_id is None or deal.account_id in accounts:
            continue
        accounts.add(deal.account_id)
        chosen.append(deal)
        if len(chosen) == wanted:
            break
    return chosen


def _seller(demo: Demo, deal: cm.Opportunity) -> Actor:
    user = demo.session.get(User, deal.owner_id) if deal.owner_id is not None else None
    return Actor.for_user(user) if user is not None else demo.system


def _mover(demo: Demo, key: str) -> Actor:
    return demo.members.get(MOVERS.get(key, "delivery")) or demo.members.get("delivery") or demo.system


def create_hives(demo: Demo) -> None:
    """The template, the rule and three demo hives (once: nothing when hives exist)."""
    session = demo.session
    if session.scalar(select(func.count()).select_from(m.Hive)):
        return
    assert demo.admin is not None
    templates.ensure_default_templates(session, demo.admin)
    create_hive_rule(demo)
    horizon = demo.horizon.date()
    oldest = max(days for days, *_ in PLANS)
    for (days, promise, done, doing), deal in zip(
        PLANS, _won_deals(demo, len(PLANS), horizon - timedelta(days=oldest)), strict=False
    ):
        start = demo.today - timedelta(days=days)
        assert deal.account_id is not None  # chosen only with an account
        hive = create_hive(
            session,
            _seller(demo, deal),
            account_id=deal.account_id,
            template="line_upgrade",
            opportunity_id=deal.id,
            start_date=start,
            promised_date=start + timedelta(days=promise),
            now=_moment(start),
        )
        tasks = {
            task.key: task
            for task in session.scalars(
                select(m.Task).where(m.Task.hive_id == hive.id, m.Task.kind == "milestone")
            )
        }
        # moves in the order they happened, each never later than the horizon
        moves: list[tuple[datetime, str, str]] = []
        for key, began, finished in done:
            if began != finished:
                moves.append((_moment(start + timedelta(days=began)), key, "doing"))
            moves.append((_moment(start + timedelta(days=finished)) + timedelta(hours=6), key, "done"))
        moves.extend(
            (_moment(start + timedelta(days=began)) + timedelta(hours=1), key, "doing")
            for key, began in doing
        )
        for at, key, status in sorted(moves):
            board.update_task(
                session,
                _mover(demo, key),
                task_id=tasks[key].id,
                changes={"status": status},
                now=min(at, demo.horizon),
            )
