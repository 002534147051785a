"""Human steps: approvals routed by a field (a strategic account's 20% discount goes to the sales
VP, a standard one to the regional manager), confirmations with notes, and the inbox decisions
that resume or stop the run, with a test per refusal."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth import positions
from pathcast.auth.models import Role
from pathcast.automation import service
from pathcast.automation.models import InboxItem, Notification, Run
from pathcast.crm import models as crm_models
from pathcast.crm import service as crm
from pathcast.errors import Conflict, InvalidInput, PermissionDenied
from pathcast.events import events_for_entity
from tests import factories as f
from tests.automation.engine_support import ADMIN, FakeClock, make_rule, run_engine, runs_of, steps_of

DISCOUNT_APPROVAL = {
    "trigger": {"type": "record_changed", "entity": "quote", "field": "discount_pct"},
    "conditions": [{"field": "quote.discount_pct", "op": "gte", "value": 20}],
    "actions": [
        {
            "type": "require_approval",
            "subject": "报价折扣审批",
            "route_by": "account.tier",
            "routes": {"strategic": {"kind": "role", "value": "sales_vp"}},
            "default": {"kind": "role", "value": "regional_manager"},
        },
        {
            "type": "create_task",
            "assignee": {"kind": "relation", "value": "owner"},
            "title": "折扣已批准，发送报价",
        },
    ],
}


def organisation(session: Session) -> dict[str, Any]:
    """A sales VP, two regional managers, a rep, and the default positions."""
    held = positions.ensure_default_positions(session, actor=ADMIN)
    people = {
        "vp": f.user(session, "vp@example.com", role=Role.manager, password=None),
        "east_rm": f.user(session, "east-rm@example.com", role=Role.manager, password=None),
        "north_rm": f.user(session, "north-rm@example.com", role=Role.manager, password=None),
        "rep": f.user(session, "rep@example.com", password=None),
    }
    positions.assign_position(session, user=people["vp"], position=held["sales_vp"], actor=ADMIN)
    for key, region in (("east_rm", "华东"), ("north_rm", "华北")):
        positions.assign_position(
            session, user=people[key], position=held["regional_manager"], region=region, actor=ADMIN
        )
    f.pipeline(session)
    return people


def discounted_quote(
    session: Session, people: dict[str, Any], tier: str, discount: int = 20, region: str = "华东"
) -> crm_models.Quote:
    account = f.account(session, name=f"{tier} 客户", tier=tier, region=region, owner_id=people["rep"].id)
    deal = f.opportunity(session, f.SYSTEM, account_id=account.id, owner_id=people["rep"].id)
    quote = crm.create_quote(
        session, actor=f.SYSTEM, data={"opportunity_id": deal.id, "owner_id": people["rep"].id}
    )
    crm.update_quote(session, actor=f.SYSTEM, quote=quote, changes={"discount_pct": discount})
    return quote


def _rule_of(session: Session, item: InboxItem) -> int:
    run = session.get(Run, item.run_id)
    assert run is not None
    return run.rule_id


def item_of(session: Session, run_id: int) -> InboxItem:
    return session.scalars(select(InboxItem).where(InboxItem.run_id == run_id)).one()


def test_approvals_route_by_tier_and_resume_or_stop_the_run(session: Session, db_url: str) -> None:
    clock = FakeClock()
    people = organisation(session)
    rule = make_rule(session, DISCOUNT_APPROVAL, name="折扣审批")
    strategic = discounted_quote(session, people, "strategic")
    standard = discounted_quote(session, people, "standard")
    discounted_quote(session, people, "key", discount=10)  # under the threshold: no run
    run_engine(session, db_url, clock)
    runs = {run.subject_id: run for run in runs_of(session, rule)}
    assert set(runs) == {str(strategic.id), str(standard.id)}
    vp_item = item_of(session, runs[str(strategic.id)].id)
    rm_item = item_of(session, runs[str(standard.id)].id)
    assert (vp_item.assignee_id, vp_item.routed_by) == (
        people["vp"].id,
        "account.tier = strategic → sales_vp",
    )
    assert (rm_item.assignee_id, rm_item.routed_by) == (
        people["east_rm"].id,
        "account.tier = standard → regional_manager (default)",
    )
    # The approver sees the figures they approve, even without the right to open the quote.
    assert float(vp_item.detail["snapshot"]["discount_pct"]) == 20
    assert runs[str(strategic.id)].status == "waiting"
    assert runs[str(strategic.id)].next_attempt_at is None
    assert [i.id for i in service.open_items(session, actor=f.actor(people["vp"]))] == [vp_item.id]
    assert session.scalars(
        select(Notification.user_id).where(Notification.run_id == vp_item.run_id)
    ).all() == [people["vp"].id]
    # Nothing happens while the people think.
    clock.advance(days=3)
    run_engine(session, db_url, clock)
    assert runs_of(session, rule)[0].status == "waiting"

    service.decide(
        session, item_id=vp_item.id, actor=f.actor(people["vp"]), decision="approve", note="战略客户，同意"
    )
    service.decide(
        session, item_id=rm_item.id, actor=f.actor(people["east_rm"]), decision="reject", note="折扣过高"
    )
    run_engine(session, db_url, clock)
    approved, rejected = runs[str(strategic.id)], runs[str(standard.id)]
    session.refresh(approved)
    session.refresh(rejected)
    assert approved.status == "done"
    assert [s.status for s in steps_of(session, approved)] == ["done", "done"]
    assert steps_of(session, approved)[0].outcome["decision"] == "approve"
    assert rejected.status == "stopped"
    assert rejected.context["outcome"] == f"rejected by user:{people['east_rm'].id}: 折扣过高"
    assert [s.status for s in steps_of(session, rejected)] == ["done", "pending"]
    tasks = session.scalars(select(crm_models.Activity).where(crm_models.Activity.kind == "task")).all()
    assert len(tasks) == 1
    types = [e.type for e in events_for_entity(session, "automation_inbox", vp_item.id)]
    assert types == ["automation.approval_requested", "automation.approval_decided"]


def test_nobody_in_the_position_sends_it_to_the_rules_owner(session: Session, db_url: str) -> None:
    people = organisation(session)
    owner = f.user(session, "owner@example.com", role=Role.admin, password=None)
    rule = make_rule(session, DISCOUNT_APPROVAL, actor=f.actor(owner))
    discounted_quote(session, people, "standard", region="西南")
    run_engine(session, db_url, FakeClock())
    [run] = runs_of(session, rule)
    item = item_of(session, run.id)
    assert item.assignee_id == owner.id
    assert item.routed_by == (
        "account.tier = standard → regional_manager (default)"
        " — nobody holds role:regional_manager; sent to the rule's owner"
    )


CONFIRM = {
    "trigger": {"type": "record_event", "event": "opportunity.won"},
    "actions": [
        {
            "type": "require_confirmation",
            "by": {"kind": "user", "value": "director@example.com"},
            "note_required": True,
            "prompt": "确认启动交付？",
        },
        {"type": "tag", "target": "account", "tag": "交付中"},
    ],
}


def won_deal_waiting(session: Session, db_url: str) -> tuple[InboxItem, Any]:
    director = f.user(session, "director@example.com", role=Role.manager, password=None)
    f.pipeline(session)
    make_rule(session, CONFIRM)
    deal = f.opportunity(session, f.SYSTEM, account_id=f.account(session).id)
    stages = {stage.key: stage for stage in crm.stages_of(session, deal.pipeline_id)}
    crm.change_stage(session, actor=f.SYSTEM, opportunity=deal, to_stage_id=stages["won"].id)
    run_engine(session, db_url, FakeClock())
    item = session.scalars(select(InboxItem)).one()
    assert item.kind == "confirmation" and item.note_required and item.assignee_id == director.id
    return item, director


def test_a_confirmation_needs_its_note(session: Session, db_url: str) -> None:
    item, director = won_deal_waiting(session, db_url)
    with pytest.raises(InvalidInput) as missing:
        service.decide(session, item_id=item.id, actor=f.actor(director), decision="confirm", note="  ")
    assert missing.value.errors[0].field == "note"
    service.decide(session, item_id=item.id, actor=f.actor(director), decision="confirm", note="资源已就绪")
    run_engine(session, db_url, FakeClock())
    [run] = runs_of(session, _rule_of(session, item))
    assert run.status == "done"
    assert session.get(InboxItem, item.id).note == "资源已就绪"


def test_only_the_assignee_or_an_admin_decides(session: Session, db_url: str) -> None:
    item, _ = won_deal_waiting(session, db_url)
    stranger = f.user(session, "stranger@example.com", role=Role.manager, password=None)
    with pytest.raises(PermissionDenied):
        service.decide(session, item_id=item.id, actor=f.actor(stranger), decision="confirm", note="x")
    assert service.open_items(session, actor=f.actor(stranger)) == []
    admin = f.user(session, "boss@example.com", role=Role.admin, password=None)
    assert [i.id for i in service.open_items(session, actor=f.actor(admin), everyone=True)] == [item.id]
    service.decide(session, item_id=item.id, actor=f.actor(admin), decision="decline", note="暂缓")
    assert session.get(InboxItem, item.id).status == "declined"


def test_a_decision_must_fit_the_kind_and_is_made_once(session: Session, db_url: str) -> None:
    item, director = won_deal_waiting(session, db_url)
    with pytest.raises(InvalidInput) as wrong:
        service.decide(session, item_id=item.id, actor=f.actor(director), decision="approve", note="ok")
    assert wrong.value.errors[0].field == "decision"
    service.decide(session, item_id=item.id, actor=f.actor(director), decision="decline", note="不做")
    with pytest.raises(Conflict):
        service.decide(session, item_id=item.id, actor=f.actor(director), decision="confirm", note="改主意")
