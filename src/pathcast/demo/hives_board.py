"""Demo board work in the demo hives (after ``hives_core.create_hives`` moved their early
milestones): checklist items of finished milestones ticked (and the first one of each milestone to come), a few tasks under the running
milestones with owners from the right function (one started), an open risk owned by
logistics, a decision, and requests between members — one answered within hours, one still
waiting. Everything goes through the services, stamped before ``demo.horizon``; nothing
random is drawn, so the same demo build gives the same board.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from pathcast.auth.models import User
from pathcast.auth.permissions import Actor
from pathcast.demo.context import Demo
from pathcast.hives import models as m
from pathcast.hives.service import board, collab
from pathcast.hives.service.hives import members_of, recompute

# (milestone key, task name, function, days after the milestone's planned start, duration)
TASKS = (
    ("manufacturing", "物料齐套确认 / Confirm all materials on hand", "production_planning", 0, 2),
    ("manufacturing", "首件检验 / First-article inspection", "quality", 5, 1),
    ("shipping", "预订专车与吊装 / Book the truck and the crane", "logistics", -3, 1),
    ("installation", "现场网络与 PLC 点表 / Site network and PLC point list", "it_implementation", -5, 3),
)
RISK = ("海运舱位紧张，可能延误发货 / Sea freight space is tight; shipping may slip", "logistics")
DECISION = "分两批发货：先发主线设备，辅机随第二批 / Ship in two lots: main line first, auxiliaries second"
ASKED = "@物流 主线设备能否在计划日前两天提货？ / Can the main line be picked up two days early?"
ANSWER = "可以，已和车队确认 / Yes, confirmed with the carrier"
WAITING = "@IT 现场交换机型号确认了吗？ / Is the site switch model confirmed?"


def _people(demo: Demo, hive_id: int) -> dict[str, Actor]:
    """One actor per function among the hive's members (the first to join)."""
    found: dict[str, Actor] = {}
    for member in members_of(demo.session, hive_id):
        user = demo.session.get(User, member.user_id)
        if member.function not in found and user is not None:
            found[member.function] = Actor.for_user(user)
    return found


def _stamp(demo: Demo, hive: m.Hive, days: int, hours: int = 0) -> datetime:
    """``days`` after the hive's start, mid-morning in Beijing, never after the horizon."""
    moment = datetime.combine(hive.start_date, time(2, 30), UTC) + timedelta(days=days, hours=hours)
    return min(moment, demo.horizon)


def seed_board(demo: Demo, hive_ids: list[int]) -> None:
    """Board work in each demo hive (idempotent: a hive with a decision is left alone)."""
    session = demo.session
    for number, hive_id in enumerate(hive_ids):
        hive = session.get(m.Hive, hive_id)
        if (
            hive is None
            or session.scalars(select(m.Decision.id).where(m.Decision.hive_id == hive_id)).first()
        ):
            continue
        people = _people(demo, hive_id)
        # the delivery lead (a demo member may serve delivery and production planning at once)
        lead = (
            people.get("delivery") or people.get("production_planning") or next(iter(people.values()), None)
        )
        if lead is None:
            continue
        milestones = {
            task.key: task
            for task in session.scalars(
                select(m.Task).where(m.Task.hive_id == hive_id, m.Task.kind == "milestone")
            )
        }
        # tick the checklists of what is already done, when it was done
        for finished in milestones.values():
            if finished.status != "done" or finished.done_at is None:
                continue
            for item in session.scalars(
                select(m.Task).where(m.Task.parent_id == finished.id, m.Task.status != "done")
            ):
                board.update_task(
                    session, lead, task_id=item.id, changes={"status": "done"}, now=finished.done_at
                )
        # preparing ahead: the first checklist item of each milestone still to come is ready
        for coming in milestones.values():
            first = session.scalars(
                select(m.Task)
                .where(m.Task.parent_id == coming.id, m.Task.status == "todo")
                .order_by(m.Task.position, m.Task.id)
            ).first()
            if coming.status != "done" and first is not None:
                board.update_task(
                    session, lead, task_id=first.id, changes={"status": "done"}, now=_stamp(demo, hive, 3)
                )
        created = _stamp(demo, hive, 1)
        for position, (key, name, function, offset, duration) in enumerate(TASKS):
            parent = milestones.get(key)
            if parent is None:
                continue
            owner = people.get(function) or people.get(parent.function or "delivery") or lead
            task = board.add_task(
                session, lead, hive_id=hive_id, name=name, planned_start=parent.planned_start + timedelta(days=offset),
                duration_days=duration, owner_id=owner.user_id if owner else None, function=function,
                parent_id=parent.id, now=created,
            )  # fmt: skip
            if position == 0 and parent.status == "doing" and owner is not None:
                board.update_task(
                    session, owner, task_id=task.id, changes={"status": "doing"}, now=_stamp(demo, hive, 5)
                )
        logistics = people.get("logistics")
        collab.open_risk(
            session, lead, hive_id=hive_id, title=RISK[0], function=RISK[1],
            owner_id=logistics.user_id if logistics and number != 1 else None, now=_stamp(demo, hive, 2),
        )  # fmt: skip
        collab.record_decision(session, lead, hive_id=hive_id, text=DECISION, now=_stamp(demo, hive, 3))
        if logistics is not None and logistics.user_id != lead.user_id:
            asked = collab.ask(
                session,
                lead,
                hive_id=hive_id,
                to_user_id=logistics.user_id or 0,
                text=ASKED,
                now=_stamp(demo, hive, 2),
            )
            collab.answer(
                session, logistics, request_id=asked.id, text=ANSWER, now=_stamp(demo, hive, 2, hours=4)
            )
        it = people.get("it_implementation")
        if it is not None and it.user_id != lead.user_id:
            collab.ask(
                session,
                lead,
                hive_id=hive_id,
                to_user_id=it.user_id or 0,
                text=WAITING,
                now=_stamp(demo, hive, 3),
            )
        # the cached schedule as of the last working day, whatever order the history came in
        recompute(session, demo.system, hive, now=demo.horizon)
