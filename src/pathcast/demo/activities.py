"""Calls, e-mails, meetings, notes and tasks along each deal's life.

Done tasks are created first and completed later (two events, each at its moment);
open deals end with next-step tasks, some of them already overdue.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pathcast.crm import models as m
from pathcast.crm.service import SPECS, create_record, update_record
from pathcast.demo.catalog import ACTIVITY_SUBJECTS
from pathcast.demo.context import DealResult, Demo

KIND_WEIGHTS = (("call", 30), ("email", 30), ("meeting", 20), ("note", 8), ("task", 12))
STAGE_LABELS = {
    "lead": "线索",
    "qualified": "已验证",
    "discovery": "需求调研",
    "solution": "方案与测试",
    "proposal": "报价",
    "negotiation": "商务谈判",
}


def _kind(demo: Demo) -> str:
    return demo.rng.choices([k for k, _ in KIND_WEIGHTS], weights=[w for _, w in KIND_WEIGHTS])[0]


def _create(demo: Demo, result: DealResult, at: datetime, data: dict[str, Any]) -> m.Activity:
    info = result.spec.info
    contact = demo.rng.choice(info.contacts) if info.contacts else None
    values = {
        "account_id": info.account.id,
        "contact_id": contact.id if contact else None,
        "opportunity_id": result.opportunity.id,
        "owner_id": result.spec.owner.user.id,
        **data,
    }
    activity: m.Activity = create_record(
        demo.session,
        actor=result.spec.owner.actor,
        spec=SPECS["activity"],
        data=values,
        occurred_at=at,
    )
    return activity


def _task(demo: Demo, result: DealResult, created: datetime, subject: str, due: datetime, body: str) -> None:
    activity = _create(
        demo, result, created, {"kind": "task", "subject": subject, "body": body, "due_at": due}
    )
    if due > demo.horizon:
        return
    done = demo.between(created, min(due + timedelta(days=2), demo.horizon))
    update_record(
        demo.session,
        actor=result.spec.owner.actor,
        spec=SPECS["activity"],
        record=activity,
        changes={"done_at": done, "occurred_at": done},
        occurred_at=done,
    )


def deal_activities(demo: Demo, result: DealResult) -> None:
    """The activity trail of one deal, stage by stage."""
    rng = demo.rng
    industry = result.spec.info.industry
    subjects = ACTIVITY_SUBJECTS[industry]
    end = result.closed_at or demo.horizon
    marks = [*result.stages]
    for number, (stage, entered) in enumerate(marks):
        if stage in ("won", "lost"):
            break
        leaves = marks[number + 1][1] if number + 1 < len(marks) else end
        days = max(1.0, (leaves - entered).total_seconds() / 86400)
        count = min(2, max(1 if number == 0 else 0, round(days / rng.uniform(20, 40))))
        for _ in range(count):
            at = demo.between(entered, leaves)
            kind = _kind(demo)
            subject = rng.choice(subjects[kind])
            body = f"阶段 Stage: {STAGE_LABELS.get(stage, stage)} — {result.opportunity.name}"
            if kind == "task":
                due = demo.after(at, 2, 10)
                if due > demo.horizon and result.closed_at is not None:
                    due = max(result.closed_at, at + timedelta(hours=2))
                _task(demo, result, at, subject, due, body)
                continue
            duration = {"call": rng.randrange(5, 40), "meeting": rng.randrange(30, 150)}.get(kind)
            _create(
                demo,
                result,
                at,
                {
                    "kind": kind,
                    "subject": subject,
                    "body": body,
                    "occurred_at": at,
                    "duration_minutes": duration,
                },
            )
    status = result.opportunity.status
    if status == m.StageClass.won.value and result.closed_at is not None:
        _create(
            demo,
            result,
            result.closed_at,
            {
                "kind": "meeting",
                "subject": "签约会议 Contract signing",
                "occurred_at": result.closed_at,
                "duration_minutes": 60,
                "body": "合同签署，交付启动 Signed; delivery kick-off next.",
            },
        )
    elif status == m.StageClass.lost.value and result.closed_at is not None:
        _create(
            demo,
            result,
            result.closed_at,
            {
                "kind": "note",
                "subject": "丢单复盘 Loss review",
                "occurred_at": result.closed_at,
                "body": f"原因 Reason: {result.loss_reason}",
            },
        )
    else:
        _next_steps(demo, result)


def _next_steps(demo: Demo, result: DealResult) -> None:
    """One or two open tasks on a live deal; due dates around today, some overdue."""
    rng = demo.rng
    subjects = ACTIVITY_SUBJECTS[result.spec.info.industry]["task"]
    last = result.stages[-1][1]
    for _ in range(rng.randrange(1, 3)):
        created = demo.between(max(last, demo.horizon - timedelta(days=14)), demo.horizon)
        due = demo.at_work(demo.today + timedelta(days=rng.randrange(-12, 15)))
        if due <= created:
            due = created + timedelta(days=rng.randrange(1, 4))
        _create(
            demo,
            result,
            created,
            {
                "kind": "task",
                "subject": rng.choice(subjects),
                "due_at": due,
                "body": f"下一步 Next step — {result.opportunity.name}",
            },
        )
