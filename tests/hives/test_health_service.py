"""Hive health, contribution, knowledge and OKRs through the services on SQLite and
PostgreSQL: the issue's check (a hive full of messages, requests and edits but no task
progress is flagged busy-not-moving and scores lower; one with steady progress and few
messages is healthy), the metric-shaped event and a rule 「蜂巢健康度低于60」 matching it,
key results following hives live, contribution ignoring messages, and the refusals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role, User
from pathcast.auth.permissions import Actor
from pathcast.automation.engine.matcher import CompiledRule, Fact, RuleIndex
from pathcast.automation.language import Vocabulary, compile_rule
from pathcast.errors import InvalidInput, NotFound, PermissionDenied
from pathcast.events import Event
from pathcast.hives import models as m
from pathcast.hives.service import board, collab, contribution, health, okrs
from pathcast.hives.service.hives import MemberSpec, create_hive
from tests import factories as f

ADMIN = f.SYSTEM
NOW = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
START = (NOW - 10 * DAY).date()


@dataclass
class World:
    """An East team (manager, rep), a West manager, delivery members, an outsider, and two
    hives of an East account from the line-upgrade template: ``steady`` moves along its
    critical path with few messages, ``busy`` has much noise and no progress."""

    manager: Actor
    rep: Actor
    west_manager: Actor
    planner: Actor
    logistics: Actor
    installer: Actor
    csm: Actor
    outsider: Actor
    admin: Actor
    steady: int
    busy: int
    east_team: int
    users: dict[str, User]


def _tasks(session: Session, hive_id: int) -> dict[str, m.Task]:
    rows = session.scalars(select(m.Task).where(m.Task.hive_id == hive_id, m.Task.kind == "milestone"))
    return {task.key or str(task.id): task for task in rows}


def _move(session: Session, who: Actor, task: m.Task, status: str, at: datetime) -> None:
    board.update_task(session, who, task_id=task.id, changes={"status": status}, now=at)


def _message(session: Session, hive_id: int, sender: str, at: datetime, number: int) -> None:
    session.add(
        m.Message(
            hive_id=hive_id, channel="wecom", thread=f"t{hive_id}", subject=f"进度? #{number}", sender=sender,
            participants=[sender], body="大家看一下进度 / status?", sent_at=at, filed_at=at, search_text="进度",
            reasons=[], score=1.0, filed_by="auto",
        )
    )  # fmt: skip


def build_world(session: Session, people: dict[str, User] | None = None) -> World:
    """The world; ``people`` may bring users who can sign in (the web tests)."""
    if people is None:
        east, west = f.team(session, "East"), f.team(session, "West")
        people = {
            "manager": f.user(session, "manager@example.com", role=Role.manager, team_obj=east),
            "rep": f.user(session, "rep@example.com", team_obj=east),
            "west_manager": f.user(session, "west@example.com", role=Role.manager, team_obj=west),
            "planner": f.user(session, "planner@example.com", role=Role.member),
            "logistics": f.user(session, "logistics@example.com", role=Role.member),
            "installer": f.user(session, "installer@example.com", role=Role.member),
            "csm": f.user(session, "csm@example.com", role=Role.member),
            "outsider": f.user(session, "outsider@example.com", role=Role.member),
            "admin": f.user(session, "admin@example.com", role=Role.admin),
        }
    who = {key: f.actor(user) for key, user in people.items()}
    account = f.account(session, who["rep"], name="恒泰精密 Hengtai")
    functions = {"planner": "production_planning", "logistics": "logistics", "installer": "it_implementation",
                 "csm": "customer_success", "manager": "delivery"}  # fmt: skip
    members = [MemberSpec(people[key].id, function) for key, function in functions.items()]
    hives = {}
    for name in ("steady", "busy"):
        hive = create_hive(
            session, who["rep"], account_id=account.id, template="line_upgrade", name=f"{name} 产线升级",
            start_date=START, promised_date=START + 60 * DAY, members=members, now=NOW - 10 * DAY,
        )  # fmt: skip
        tasks = _tasks(session, hive.id)
        owners = {"kickoff": "manager", "site_survey": "installer", "production_plan": "planner",
                  "manufacturing": "planner", "shipping": "logistics", "installation": "installer",
                  "acceptance": "csm", "handover": "csm"}  # fmt: skip
        for key, owner in owners.items():
            board.update_task(
                session, who["manager"], task_id=tasks[key].id, changes={"owner_id": people[owner].id},
                now=NOW - 10 * DAY,
            )  # fmt: skip
        _move(session, who["manager"], tasks["kickoff"], "done", NOW - 10 * DAY)
        hives[name] = hive.id

    # steady: on plan, the critical path moving this week, a decision, a quick answer
    tasks = _tasks(session, hives["steady"])
    _move(session, who["installer"], tasks["site_survey"], "doing", NOW - 10 * DAY)
    _move(session, who["planner"], tasks["production_plan"], "doing", NOW - 9 * DAY)
    _move(session, who["planner"], tasks["production_plan"], "done", NOW - 6 * DAY)
    _move(session, who["planner"], tasks["manufacturing"], "doing", NOW - 6 * DAY)
    _move(session, who["installer"], tasks["site_survey"], "done", NOW - 5 * DAY)
    collab.record_decision(
        session, who["manager"], hive_id=hives["steady"], text="按计划发货", now=NOW - 2 * DAY
    )
    asked = collab.ask(
        session, who["logistics"], hive_id=hives["steady"], to_user_id=people["planner"].id,
        text="12号能出货吗？", now=NOW - 3 * DAY,
    )  # fmt: skip
    collab.answer(session, who["planner"], request_id=asked.id, text="可以", now=NOW - 3 * DAY + 3 * HOUR)
    _message(session, hives["steady"], "logistics@example.com", NOW - 2 * DAY, 1)

    # busy: lots of messages, requests and edits, nothing on the critical path moves
    tasks = _tasks(session, hives["busy"])
    for number in range(25):
        _message(session, hives["busy"], "logistics@example.com", NOW - DAY - number * HOUR, number)
    for number in range(8):
        collab.ask(
            session, who["logistics"], hive_id=hives["busy"], to_user_id=people["planner"].id,
            text=f"排产进度？{number}", now=NOW - 3 * DAY + number * HOUR,
        )  # fmt: skip
    for number in range(6):
        board.update_task(
            session, who["planner"], task_id=tasks["production_plan"].id,
            changes={"name": f"排产 / Production planning v{number}"}, now=NOW - 2 * DAY + number * HOUR,
        )  # fmt: skip
    session.flush()
    return World(
        **{key: who[key] for key in ("manager", "rep", "west_manager", "planner", "logistics", "installer",
                                     "csm", "outsider", "admin")},
        steady=hives["steady"], busy=hives["busy"], east_team=people["manager"].team_id or 0,
        users=people,
    )  # fmt: skip


@pytest.fixture
def world(session: Session) -> World:
    east, west = f.team(session, "East"), f.team(session, "West")
    people = {
        "manager": f.user(session, "manager@example.com", role=Role.manager, team_obj=east),
        "rep": f.user(session, "rep@example.com", team_obj=east),
        "west_manager": f.user(session, "west@example.com", role=Role.manager, team_obj=west),
        "planner": f.user(session, "planner@example.com", role=Role.member),
        "logistics": f.user(session, "logistics@example.com", role=Role.member),
        "installer": f.user(session, "installer@example.com", role=Role.member),
        "csm": f.user(session, "csm@example.com", role=Role.member),
        "outsider": f.user(session, "outsider@example.com", role=Role.member),
        "admin": f.user(session, "admin@example.com", role=Role.admin),
    }
    return build_world(session, people)


def _health_events(session: Session, hive_id: int) -> list[Event]:
    return list(
        session.scalars(
            select(Event)
            .where(
                Event.type == "hive.health_changed", Event.entity == "hive", Event.entity_id == str(hive_id)
            )
            .order_by(Event.id)
        )
    )


# --- the check --------------------------------------------------------------------------


def test_busy_hive_is_flagged_and_scores_lower_than_a_steady_one(session: Session, world: World) -> None:
    changes = health.recompute_all(session, world.admin, now=NOW)
    assert {change.hive_id for change in changes} == {world.steady, world.busy}
    steady = session.get(m.Hive, world.steady)
    busy = session.get(m.Hive, world.busy)
    assert steady is not None and busy is not None
    session.refresh(steady)
    session.refresh(busy)
    assert busy.busy_not_moving is True
    assert steady.busy_not_moving is False
    assert steady.health is not None and busy.health is not None
    assert steady.health >= 75, steady.health_components
    assert busy.health <= 40 < steady.health
    activity = busy.health_components["activity"]
    assert activity["messages"] == 25 and activity["requests"] == 8 and activity["edits"] >= 6
    assert busy.health_components["critical_progress"] is False
    assert steady.health_components["critical_progress"] is True
    # each component is there, with its numbers and words in both languages
    for key in ("response", "sync", "risk", "schedule"):
        part = steady.health_components[key]
        assert 0 <= part["value"] <= 1 and part["zh"] and part["en"] and isinstance(part["numbers"], dict)
    assert busy.health_components["response"]["numbers"]["open_late"] == 8
    assert steady.health_components["sync"]["numbers"]["decision_recent"] is True


def test_health_event_is_metric_shaped_and_appended_only_on_change(session: Session, world: World) -> None:
    health.recompute_health(session, world.admin, world.steady, now=NOW)
    events = _health_events(session, world.steady)
    last = events[-1]
    assert last.payload["metric"] == "hive_health" and last.payload["entity"] == "hive"
    assert last.payload["value"] == session.get(m.Hive, world.steady).health  # type: ignore[union-attr]
    assert set(last.payload["components"]) == {"response", "sync", "risk", "schedule"}
    assert last.payload["busy_not_moving"] is False
    health.recompute_health(session, world.admin, world.steady, now=NOW)
    assert len(_health_events(session, world.steady)) == len(events)


def test_a_rule_on_hive_health_below_60_matches_the_crossing(session: Session, world: World) -> None:
    health.recompute_health(session, world.admin, world.steady, now=NOW)
    assert (session.get(m.Hive, world.steady).health or 0) >= 60  # type: ignore[union-attr]
    # a week later: nothing moved on the critical path, and the hive is full of chatter
    later = NOW + 8 * DAY
    for number in range(30):
        _message(session, world.steady, "planner@example.com", later - number * HOUR, 100 + number)
    session.flush()
    health.recompute_health(session, world.admin, world.steady, now=later)
    event = _health_events(session, world.steady)[-1]
    assert event.payload["busy_not_moving"] is True
    assert event.payload["value"] < 60 <= event.payload["previous"]
    ir = compile_rule("蜂巢健康度低于60时通知负责人", "zh", Vocabulary.sample()).ir
    index = RuleIndex([CompiledRule(rule_id=1, version=1, name="health", ir=ir, enabled_from_event_id=0)])
    fact = Fact(event.id, event.type, event.entity, event.entity_id, event.payload, event.occurred_at)
    assert [candidate.rule.rule_id for candidate in index.match(fact)] == [1]
    staying = Fact(
        event.id + 1, event.type, "hive", event.entity_id, {**event.payload, "previous": 30}, later
    )
    assert index.match(staying) == []


def test_a_late_dependency_lowers_health_at_once(session: Session, world: World) -> None:
    health.recompute_health(session, world.admin, world.steady, now=NOW)
    before = session.get(m.Hive, world.steady).health  # type: ignore[union-attr]
    tasks = _tasks(session, world.steady)
    # manufacturing is in progress; a week past its due date it holds up shipping
    board.update_task(
        session, world.planner, task_id=tasks["manufacturing"].id, changes={"name": "生产制造 (延期)"},
        now=NOW + 25 * DAY,
    )  # fmt: skip
    alerts = session.scalars(
        select(Event).where(Event.type == "hive.risk_alert", Event.entity_id == str(world.steady))
    ).all()
    assert alerts
    hive = session.get(m.Hive, world.steady)
    assert hive is not None
    session.refresh(hive)
    assert hive.health is not None and before is not None and hive.health < before


# --- components through the database ------------------------------------------------------------


def test_risk_coverage_counts_owners_of_the_right_function(session: Session, world: World) -> None:
    health.recompute_health(session, world.admin, world.steady, now=NOW)
    part = session.get(m.Hive, world.steady).health_components["risk"]  # type: ignore[union-attr]
    # the template's two risks, each owned by a member of its function
    assert part["numbers"] == {"open_risks": 2, "covered": 2} and part["value"] == 1
    collab.open_risk(
        session, world.manager, hive_id=world.steady, title="海运舱位紧张", function="logistics",
        owner_id=world.planner.user_id, now=NOW - DAY,
    )  # fmt: skip
    collab.open_risk(
        session, world.manager, hive_id=world.steady, title="清关资料", function="logistics",
        owner_id=world.logistics.user_id, now=NOW - DAY,
    )  # fmt: skip
    health.recompute_health(session, world.admin, world.steady, now=NOW)
    part = session.get(m.Hive, world.steady).health_components["risk"]  # type: ignore[union-attr]
    # a logistics risk owned by a planner is not covered
    assert part["numbers"] == {"open_risks": 4, "covered": 3} and part["value"] == 0.75


# --- contribution and knowledge -------------------------------------------------------------------


def test_contribution_counts_work_and_ignores_messages(session: Session, world: World) -> None:
    item = contribution.add_knowledge(
        session, world.planner, hive_id=world.steady, title="排产规则 / planning rules", now=NOW - 4 * DAY
    )
    _used, recorded = contribution.use_knowledge(
        session, world.logistics, knowledge_id=item.id, now=NOW - 2 * DAY
    )
    assert recorded
    assert contribution.use_knowledge(session, world.logistics, knowledge_id=item.id, now=NOW)[1] is False
    assert contribution.use_knowledge(session, world.planner, knowledge_id=item.id, now=NOW)[1] is False
    for number in range(40):  # the logistics member talks a lot
        _message(session, world.steady, "logistics@example.com", NOW - number * HOUR, 200 + number)
    session.flush()
    result = contribution.contribution_of(session, world.manager, world.steady, weeks=4, now=NOW)
    rows = {row.user_id: row for row in result.members}
    planner = rows[world.planner.user_id or 0]
    logistics = rows[world.logistics.user_id or 0]
    assert planner.tasks_done == 1 and planner.answered == 1 and planner.median_response_hours == 3.0
    assert planner.knowledge_added == 1 and planner.knowledge_used == 1
    assert (logistics.problems_resolved, logistics.answered, logistics.knowledge_used) == (0, 0, 0)
    logistics_index = [row.user_id for row in result.members].index(world.logistics.user_id)
    assert all(member != logistics_index for member, _week, _value, _parts in result.matrix)
    events = session.scalars(
        select(Event.type).where(Event.type.in_(["hive.knowledge_added", "hive.knowledge_used"]))
    ).all()
    assert sorted(events) == ["hive.knowledge_added", "hive.knowledge_used"]


def test_an_unowned_task_counts_for_whoever_finished_it(session: Session, world: World) -> None:
    task = board.add_task(
        session, world.manager, hive_id=world.steady, name="现场照片 / site photos",
        planned_start=(NOW - 3 * DAY).date(), duration_days=1, now=NOW - 3 * DAY,
    )  # fmt: skip
    board.update_task(
        session, world.installer, task_id=task.id, changes={"status": "doing"}, now=NOW - 3 * DAY
    )
    board.update_task(
        session, world.installer, task_id=task.id, changes={"status": "done"}, now=NOW - 2 * DAY
    )
    result = contribution.contribution_of(session, world.manager, world.steady, weeks=2, now=NOW)
    installer = next(row for row in result.members if row.user_id == world.installer.user_id)
    assert installer.tasks_done == 2  # the site survey they own, and the unowned task they finished


def test_knowledge_refusals(session: Session, world: World) -> None:
    with pytest.raises(InvalidInput) as refused:
        contribution.add_knowledge(session, world.planner, hive_id=world.steady, title="  ")
    assert refused.value.errors[0].field == "title"
    with pytest.raises(NotFound):
        contribution.add_knowledge(session, world.outsider, hive_id=world.steady, title="x")
    item = contribution.add_knowledge(session, world.planner, hive_id=world.steady, title="ok")
    with pytest.raises(NotFound):
        contribution.use_knowledge(session, world.outsider, knowledge_id=item.id)
    with pytest.raises(NotFound):
        contribution.use_knowledge(session, world.planner, knowledge_id=999_999)
    with pytest.raises(InvalidInput):
        contribution.contribution_of(session, world.manager, world.steady, weeks=0)


# --- refusals and scoping -------------------------------------------------------------------------


def test_health_refusals(session: Session, world: World) -> None:
    for outsider in (world.outsider, world.west_manager):
        with pytest.raises(NotFound):
            health.recompute_health(session, outsider, world.steady, now=NOW)
        with pytest.raises(NotFound):
            health.health_of(session, outsider, world.steady)
        with pytest.raises(NotFound):
            contribution.contribution_of(session, outsider, world.steady)
        assert health.overview(session, outsider) == []
        assert health.recompute_all(session, outsider, now=NOW) == []
    contact = Actor(user_id=None, role=Role.customer_contact, account_id=1)
    with pytest.raises(PermissionDenied):
        health.overview(session, contact)
    # a member works in their own hive
    assert health.recompute_health(session, world.planner, world.steady, now=NOW).health is not None


def test_overview_sorts_by_health_with_the_trend(session: Session, world: World) -> None:
    health.recompute_all(session, world.admin, now=NOW)
    rows = health.overview(session, world.manager)
    assert [row.hive.id for row in rows] == [world.busy, world.steady]
    assert rows[0].hive.busy_not_moving and rows[0].trend
    flagged = health.overview(session, world.manager, flagged_only=True)
    assert [row.hive.id for row in flagged] == [world.busy]


# --- OKRs ----------------------------------------------------------------------------------------


def _objective(session: Session, who: Actor, **values: Any) -> m.Objective:
    data: dict[str, Any] = {
        "title": "交付更准时",
        "period_start": date(2026, 1, 1),
        "period_end": date(2026, 12, 31),
    }
    return okrs.create_objective(session, who, **(data | values), now=NOW)


def test_key_results_follow_hive_health_and_delivery_live(session: Session, world: World) -> None:
    health.recompute_all(session, world.admin, now=NOW)
    objective = _objective(session, world.manager)
    mean = okrs.add_key_result(
        session, world.manager, objective_id=objective.id, title="平均蜂巢健康度 ≥ 80", metric="hive_health",
        target=80, now=NOW,
    )  # fmt: skip
    team = okrs.add_key_result(
        session, world.manager, objective_id=objective.id, title="East", metric="hive_health", target=80,
        team_id=world.east_team, now=NOW,
    )  # fmt: skip
    on_time = okrs.add_key_result(
        session, world.manager, objective_id=objective.id, title="准时交付率", metric="on_time_delivery",
        target=0.9, now=NOW,
    )  # fmt: skip
    steady = session.get(m.Hive, world.steady)
    busy = session.get(m.Hive, world.busy)
    assert steady is not None and busy is not None
    assert mean.current == round(((steady.health or 0) + (busy.health or 0)) / 2, 1)
    assert team.current == mean.current
    assert on_time.current is None  # nothing delivered yet
    # the steady hive finishes everything, on time: delivered, and the key results move
    later = NOW + 30 * DAY
    for _key, task in sorted(_tasks(session, world.steady).items(), key=lambda item: item[1].position):
        if task.status == "todo":
            _move(session, world.manager, task, "doing", later)
        if task.status != "done":
            _move(session, world.manager, task, "done", later)
    session.refresh(steady)
    assert steady.status == "delivered"
    session.refresh(on_time)
    assert on_time.current == 1.0
    session.refresh(mean)
    assert mean.current == float(busy.health or 0)  # only the busy hive is still open
    updates = session.scalars(select(Event).where(Event.type == "hive.key_result_updated")).all()
    assert {event.payload["key_result_id"] for event in updates} >= {mean.id, on_time.id}


def test_okr_refusals(session: Session, world: World) -> None:
    for who in (world.rep, world.planner):
        with pytest.raises(PermissionDenied):
            _objective(session, who)
        with pytest.raises(PermissionDenied):
            okrs.list_objectives(session, who)
    objective = _objective(session, world.manager)
    with pytest.raises(NotFound):
        okrs.get_objective(session, world.west_manager, objective.id)
    with pytest.raises(PermissionDenied):
        _objective(session, world.manager, owner_id=world.west_manager.user_id)
    with pytest.raises(InvalidInput) as bad_period:
        _objective(session, world.manager, period_end=date(2025, 1, 1))
    assert bad_period.value.errors[0].field == "period_end"
    with pytest.raises(InvalidInput) as bad:
        okrs.add_key_result(
            session, world.manager, objective_id=objective.id, title="x", metric="revenue", target=1
        )
    assert bad.value.errors[0].field == "metric"
    with pytest.raises(InvalidInput) as too_high:
        okrs.add_key_result(
            session, world.manager, objective_id=objective.id, title="x", metric="on_time_delivery", target=5
        )
    assert too_high.value.errors[0].field == "target"
    with pytest.raises(NotFound):
        okrs.add_key_result(
            session, world.west_manager, objective_id=objective.id, title="x", metric="hive_health", target=1
        )
    # an admin names the owner; it must be a manager
    with pytest.raises(InvalidInput):
        _objective(session, world.admin, owner_id=world.rep.user_id)
    assert (
        _objective(session, world.admin, owner_id=world.west_manager.user_id).owner_id
        == world.west_manager.user_id
    )


def test_okr_crud_appends_events(session: Session, world: World) -> None:
    objective = _objective(session, world.manager)
    okrs.update_objective(
        session, world.manager, objective_id=objective.id, changes={"title": "新目标"}, now=NOW
    )
    result = okrs.add_key_result(
        session, world.manager, objective_id=objective.id, title="健康度", metric="hive_health", target=70
    )
    okrs.update_key_result(session, world.manager, key_result_id=result.id, changes={"target": 75})
    okrs.delete_key_result(session, world.manager, key_result_id=result.id)
    okrs.delete_objective(session, world.manager, objective_id=objective.id)
    types = session.scalars(
        select(Event.type)
        .where(Event.entity == "hive_objective", Event.entity_id == str(objective.id))
        .order_by(Event.id)
    ).all()
    assert types == [
        "hive.objective_created", "hive.objective_changed", "hive.key_result_added", "hive.key_result_changed",
        "hive.key_result_removed", "hive.objective_deleted",
    ]  # fmt: skip
    changed = session.scalars(select(Event).where(Event.type == "hive.objective_changed")).one()
    assert (
        changed.payload["before"]["title"] == "交付更准时" and changed.payload["after"]["title"] == "新目标"
    )
