"""The delivery board through the services on SQLite and PostgreSQL: tasks and dependencies
(a slip propagates to the dependents, the critical path, a cycle refused naming the tasks, a
dependency across hives refused), status moves and their timestamps, the risk alert of a
late dependency, risks / decisions / requests with their events, my tasks, and the
refusals (a member works only in their hive; only the addressee answers)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role, User
from pathcast.auth.permissions import Actor
from pathcast.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pathcast.events import Event
from pathcast.hives import models as m
from pathcast.hives import schedule
from pathcast.hives.service import board, board_read, collab
from pathcast.hives.service.hives import MemberSpec, create_hive
from tests import factories as f

ADMIN = f.SYSTEM
START = date(2025, 7, 1)
NOW = datetime(2025, 7, 1, 2, 0, tzinfo=UTC)


def at(days: int) -> datetime:
    """``days`` after the start, in office hours."""
    return NOW + timedelta(days=days)


@dataclass
class World:
    rep: Actor
    delivery: Actor
    logistics: Actor
    outsider: Actor
    hive_id: int
    other_hive_id: int
    users: dict[str, User]


def build_world(session: Session, people: dict[str, User] | None = None) -> World:
    """A rep's account with two hives: delivery and logistics are members of the first, the
    outsider of the second only."""
    if people is None:
        east = f.team(session, "East")
        people = {
            "rep": f.user(session, "rep@example.com", team_obj=east),
            "delivery": f.user(session, "delivery@example.com", role=Role.member),
            "logistics": f.user(session, "logistics@example.com", role=Role.member),
            "outsider": f.user(session, "outsider@example.com", role=Role.member),
        }
    account = f.account(session, name="恒泰精密 Hengtai", owner_id=people["rep"].id)
    rep = f.actor(people["rep"])
    hive = create_hive(
        session, rep, account_id=account.id, name="恒泰 产线升级", start_date=START,
        promised_date=START + timedelta(days=30), now=NOW,
        members=[MemberSpec(people["delivery"].id, "delivery"), MemberSpec(people["logistics"].id, "logistics")],
    )  # fmt: skip
    other = create_hive(
        session, rep, account_id=account.id, name="恒泰 二期", start_date=START, now=NOW,
        members=[MemberSpec(people["outsider"].id, "delivery")],
    )  # fmt: skip
    session.flush()
    return World(
        rep=rep,
        delivery=f.actor(people["delivery"]),
        logistics=f.actor(people["logistics"]),
        outsider=f.actor(people["outsider"]),
        hive_id=hive.id,
        other_hive_id=other.id,
        users=people,
    )


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


def chain(session: Session, w: World) -> tuple[m.Task, m.Task, m.Task]:
    """Build → ship (after build) and a short side task, all from the start."""
    build = board.add_task(
        session, w.delivery, hive_id=w.hive_id, name="生产 Build", planned_start=START, duration_days=10,
        owner_id=w.delivery.user_id, function="production_planning", now=NOW,
    )  # fmt: skip
    ship = board.add_task(
        session, w.delivery, hive_id=w.hive_id, name="发货 Ship", planned_start=START + timedelta(days=10),
        duration_days=5, owner_id=w.logistics.user_id, depends_on=[build.id], now=NOW,
    )  # fmt: skip
    side = board.add_task(
        session,
        w.delivery,
        hive_id=w.hive_id,
        name="培训 Training",
        planned_start=START,
        duration_days=2,
        now=NOW,
    )
    return build, ship, side


def events(session: Session, kind: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.type == kind).order_by(Event.id)))


# --- schedule through the service -------------------------------------------------------------


def test_a_slip_propagates_to_the_dependents_and_the_critical_path_is_right(
    session: Session, world: World
) -> None:
    build, ship, side = chain(session, world)
    view = board_read.board(session, world.rep, world.hive_id, today=START)
    tasks = {task.id: task for task in view.tasks}
    assert tasks[ship.id].forecast_start == START + timedelta(days=10)
    assert view.critical_path == [build.id, ship.id]
    assert tasks[build.id].critical and tasks[ship.id].critical and not tasks[side.id].critical
    assert tasks[side.id].slack_days == 13
    # cached on the rows by recompute, in the same transaction
    assert ship.forecast_finish == START + timedelta(days=15) and ship.critical

    board.update_task(session, world.delivery, task_id=build.id, changes={"duration_days": 14}, now=at(1))
    view = board_read.board(session, world.rep, world.hive_id, today=START)
    tasks = {task.id: task for task in view.tasks}
    assert tasks[ship.id].forecast_start == START + timedelta(days=14)
    assert tasks[ship.id].forecast_finish == START + timedelta(days=19)
    assert tasks[ship.id].late_days == 4
    assert view.forecast_finish == START + timedelta(days=19)

    timeline = board_read.timeline(session, world.rep, world.hive_id, today=START)
    rows = {row.id: row for row in timeline.rows}
    assert rows[ship.id].planned_start == START + timedelta(days=10)
    assert rows[ship.id].forecast_start == START + timedelta(days=14)
    assert {(link.task_id, link.depends_on) for link in timeline.links} == {(ship.id, build.id)}
    assert timeline.promised_date == START + timedelta(days=30)


def test_a_late_dependency_raises_a_risk_alert_and_puts_the_hive_at_risk(
    session: Session, world: World
) -> None:
    build, _ship, _side = chain(session, world)
    board.update_task(session, world.delivery, task_id=build.id, changes={"status": "doing"}, now=at(0))
    # 12 days in, the 10-day build is still not done: it holds up shipping
    board.update_task(
        session, world.delivery, task_id=build.id, changes={"name": "生产 Build (line 2)"}, now=at(12)
    )
    alerts = events(session, "hive.risk_alert")
    assert [alert.payload["kind"] for alert in alerts] == ["dependency_late"]
    assert alerts[0].payload["task_id"] == build.id
    hive = session.get(m.Hive, world.hive_id)
    assert hive is not None and hive.status == "at_risk"
    risks = collab.risks_of(session, world.rep, world.hive_id)
    assert any(risk.source.startswith("alert:dependency_late") for risk in risks)


def test_a_cycle_is_refused_naming_the_tasks(session: Session, world: World) -> None:
    build, ship, side = chain(session, world)
    board.add_dependency(session, world.delivery, task_id=side.id, depends_on_id=ship.id, now=NOW)
    with pytest.raises(InvalidInput) as refused:
        board.add_dependency(session, world.delivery, task_id=build.id, depends_on_id=side.id, now=NOW)
    error = refused.value.errors[0]
    assert error.field == "depends_on" and error.code == "task_cycle"
    assert error.params["task_ids"] == [build.id, side.id, ship.id, build.id]
    assert "生产 Build" in error.params["tasks"] and "培训 Training" in error.params["tasks"]
    with pytest.raises(InvalidInput):
        board.add_dependency(session, world.delivery, task_id=build.id, depends_on_id=build.id, now=NOW)
    # adding one that exists changes nothing and logs nothing
    count = len(events(session, "hive.dependency_added"))
    board.add_dependency(session, world.delivery, task_id=ship.id, depends_on_id=build.id, now=NOW)
    assert len(events(session, "hive.dependency_added")) == count


def test_a_dependency_across_hives_is_refused(session: Session, world: World) -> None:
    build, _ship, _side = chain(session, world)
    foreign = board.add_task(
        session,
        ADMIN,
        hive_id=world.other_hive_id,
        name="Other",
        planned_start=START,
        duration_days=1,
        now=NOW,
    )
    with pytest.raises(InvalidInput) as refused:
        board.add_dependency(session, world.delivery, task_id=build.id, depends_on_id=foreign.id, now=NOW)
    assert refused.value.errors[0].field == "depends_on"
    with pytest.raises(InvalidInput):
        board.add_task(
            session, world.delivery, hive_id=world.hive_id, name="x", planned_start=START, duration_days=1,
            depends_on=[foreign.id], now=NOW,
        )  # fmt: skip


def test_removing_a_dependency_and_a_task(session: Session, world: World) -> None:
    build, ship, _side = chain(session, world)
    board.remove_dependency(session, world.delivery, task_id=ship.id, depends_on_id=build.id, now=NOW)
    assert events(session, "hive.dependency_removed")[0].payload["before"] == {"depends_on": build.id}
    with pytest.raises(NotFound):
        board.remove_dependency(session, world.delivery, task_id=ship.id, depends_on_id=build.id, now=NOW)
    board.add_dependency(session, world.delivery, task_id=ship.id, depends_on_id=build.id, now=NOW)
    board.delete_task(session, world.delivery, task_id=build.id, now=NOW)
    assert session.get(m.Task, build.id) is None
    assert session.scalars(select(m.Dependency).where(m.Dependency.task_id == ship.id)).first() is None
    removed = events(session, "hive.task_removed")[0]
    assert removed.payload["before"]["name"] == "生产 Build" and removed.payload["after"] is None


# --- status and timestamps --------------------------------------------------------------------


def test_status_moves_and_their_timestamps(session: Session, world: World) -> None:
    build, _ship, _side = chain(session, world)
    with pytest.raises(InvalidInput) as refused:
        board.update_task(session, world.delivery, task_id=build.id, changes={"status": "done"}, now=at(1))
    assert refused.value.errors[0].field == "status"
    assert build.status == "todo" and build.started_at is None
    board.update_task(session, world.delivery, task_id=build.id, changes={"status": "doing"}, now=at(1))
    assert build.started_at == at(1) and build.done_at is None
    board.update_task(session, world.delivery, task_id=build.id, changes={"status": "blocked"}, now=at(2))
    assert build.started_at == at(1)
    board.update_task(session, world.delivery, task_id=build.id, changes={"status": "doing"}, now=at(3))
    board.update_task(session, world.delivery, task_id=build.id, changes={"status": "done"}, now=at(8))
    assert build.done_at == at(8) and build.started_at == at(1)
    changed = events(session, "hive.task_changed")[-1]
    assert changed.payload["before"]["status"] == "doing" and changed.payload["after"]["status"] == "done"
    assert changed.payload["hive_id"] == world.hive_id
    board.update_task(session, world.delivery, task_id=build.id, changes={"status": "doing"}, now=at(9))
    assert build.done_at is None
    with pytest.raises(InvalidInput):
        board.update_task(
            session, world.delivery, task_id=build.id, changes={"status": "finished"}, now=at(9)
        )
    with pytest.raises(InvalidInput):
        board.update_task(session, world.delivery, task_id=build.id, changes={"colour": "red"}, now=at(9))


def test_a_checklist_item_goes_straight_to_done(session: Session, world: World) -> None:
    build, _ship, _side = chain(session, world)
    item = board.add_task(
        session, world.delivery, hive_id=world.hive_id, name="图纸确认", planned_start=START, duration_days=0,
        kind="check", parent_id=build.id, now=NOW,
    )  # fmt: skip
    board.update_task(session, world.delivery, task_id=item.id, changes={"status": "done"}, now=at(1))
    assert item.status == "done" and item.done_at == at(1)


def test_bad_task_input_names_every_field(session: Session, world: World) -> None:
    with pytest.raises(InvalidInput) as refused:
        board.add_task(
            session, world.delivery, hive_id=world.hive_id, name=" ", planned_start="not a date",
            duration_days=-1, owner_id=world.outsider.user_id, function="cooking", now=NOW,
        )  # fmt: skip
    assert {error.field for error in refused.value.errors} == {
        "name", "planned_start", "duration_days", "owner_id", "function",
    }  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        board.add_task(
            session, world.delivery, hive_id=world.hive_id, name="x", planned_start=START,
            duration_days=3, due_date=START - timedelta(days=1), now=NOW,
        )  # fmt: skip
    assert refused.value.errors[0].field == "due_date"


# --- who may work where -----------------------------------------------------------------------


def test_a_member_works_only_in_their_hive(session: Session, world: World) -> None:
    build, _ship, _side = chain(session, world)
    with pytest.raises(NotFound):
        board.add_task(
            session, world.outsider, hive_id=world.hive_id, name="x", planned_start=START, duration_days=1
        )
    with pytest.raises(NotFound):
        board.update_task(session, world.outsider, task_id=build.id, changes={"status": "doing"})
    with pytest.raises(NotFound):
        board_read.board(session, world.outsider, world.hive_id)
    with pytest.raises(NotFound):
        collab.open_risk(session, world.outsider, hive_id=world.hive_id, title="x", function="delivery")
    with pytest.raises(NotFound):
        board_read.timeline(session, world.outsider, world.hive_id)
    # but in their own hive they work
    board.add_task(
        session, world.outsider, hive_id=world.other_hive_id, name="y", planned_start=START, duration_days=1
    )


def test_a_milestone_is_removed_only_with_the_delete_right(session: Session, world: World) -> None:
    milestone = board.add_task(
        session, world.rep, hive_id=world.hive_id, name="验收 Acceptance", planned_start=START, duration_days=0,
        kind="milestone", now=NOW,
    )  # fmt: skip
    with pytest.raises(PermissionDenied):
        board.delete_task(session, world.delivery, task_id=milestone.id)
    board.delete_task(session, ADMIN, task_id=milestone.id)


def test_customer_contacts_and_other_teams_see_nothing(session: Session, world: World) -> None:
    account = f.account(session, name="Customer Co")
    customer = f.actor(
        f.user(session, "buyer@example.com", role=Role.customer_contact, account_id=account.id)
    )
    west = f.actor(f.user(session, "west@example.com", team_obj=f.team(session, "West")))
    with pytest.raises(PermissionDenied):
        board_read.board(session, customer, world.hive_id)
    with pytest.raises(NotFound):
        board_read.board(session, west, world.hive_id)
    with pytest.raises(NotFound):
        board.add_task(session, west, hive_id=world.hive_id, name="x", planned_start=START, duration_days=1)


# --- risks, decisions, requests ---------------------------------------------------------------


def test_risks_open_change_close(session: Session, world: World) -> None:
    risk = collab.open_risk(
        session, world.delivery, hive_id=world.hive_id, title="钢材到货晚", function="logistics", now=NOW
    )
    assert risk.owner_id is None
    with pytest.raises(InvalidInput) as refused:
        collab.update_risk(
            session, world.delivery, risk_id=risk.id, changes={"owner_id": world.outsider.user_id}
        )
    assert refused.value.errors[0].field == "owner_id"
    collab.update_risk(
        session, world.delivery, risk_id=risk.id, changes={"owner_id": world.logistics.user_id}
    )
    changed = events(session, "hive.risk_changed")[0]
    assert changed.payload["before"] == {"owner_id": None} and changed.payload["after"] == {
        "owner_id": world.logistics.user_id
    }
    collab.close_risk(session, world.logistics, risk_id=risk.id, note="改走铁路", now=at(3))
    assert risk.status == "closed" and risk.closed_by == world.logistics.user_id and risk.closed_at == at(3)
    closed = events(session, "hive.risk_closed")[0]
    assert closed.payload["closed_by"] == world.logistics.user_id
    with pytest.raises(Conflict):
        collab.close_risk(session, world.logistics, risk_id=risk.id)
    with pytest.raises(NotFound):
        collab.close_risk(session, world.outsider, risk_id=risk.id)
    with pytest.raises(InvalidInput) as refused:
        collab.open_risk(session, world.delivery, hive_id=world.hive_id, title="", function="chef")
    assert {error.field for error in refused.value.errors} == {"title", "function"}


def test_decisions_are_recorded(session: Session, world: World) -> None:
    decision = collab.record_decision(session, world.rep, hive_id=world.hive_id, text="分两批发货", now=NOW)
    assert decision.decided_by == world.rep.user_id
    assert [d.id for d in collab.decisions_of(session, world.delivery, world.hive_id)] == [decision.id]
    assert events(session, "hive.decision_recorded")[0].payload["after"]["text"] == "分两批发货"
    with pytest.raises(InvalidInput):
        collab.record_decision(session, world.rep, hive_id=world.hive_id, text="  ")


def test_only_the_addressee_answers_a_request(session: Session, world: World) -> None:
    request = collab.ask(
        session, world.delivery, hive_id=world.hive_id, to_user_id=world.logistics.user_id or 0,
        text="@物流 12 号能发货吗？", now=NOW,
    )  # fmt: skip
    assert [q.id for q in collab.requests_to(session, world.logistics)] == [request.id]
    assert collab.requests_to(session, world.delivery) == []
    with pytest.raises(PermissionDenied):
        collab.answer(session, world.delivery, request_id=request.id, text="I answer for them")
    with pytest.raises(PermissionDenied):
        collab.answer(session, world.rep, request_id=request.id, text="me too")
    with pytest.raises(NotFound):
        collab.answer(session, world.outsider, request_id=request.id, text="who?")
    collab.answer(session, world.logistics, request_id=request.id, text="可以", now=NOW + timedelta(hours=3))
    answered = events(session, "hive.request_answered")[0]
    assert answered.payload["response_seconds"] == 3 * 3600
    with pytest.raises(Conflict):
        collab.answer(session, world.logistics, request_id=request.id, text="again")
    assert collab.requests_to(session, world.logistics) == []
    with pytest.raises(InvalidInput) as refused:
        collab.ask(
            session, world.delivery, hive_id=world.hive_id, to_user_id=world.outsider.user_id or 0, text="hi"
        )
    assert refused.value.errors[0].field == "to_user_id"
    with pytest.raises(InvalidInput):
        collab.ask(
            session, world.delivery, hive_id=world.hive_id, to_user_id=world.delivery.user_id or 0, text="me"
        )


# --- my tasks ---------------------------------------------------------------------------------


def test_my_tasks_open_first_by_forecast_finish_and_only_readable_hives(
    session: Session, world: World
) -> None:
    build, _ship, _side = chain(session, world)
    late = board.add_task(
        session, world.delivery, hive_id=world.hive_id, name="验收资料", planned_start=START + timedelta(days=20),
        duration_days=1, owner_id=world.delivery.user_id, now=NOW,
    )  # fmt: skip
    early = board.add_task(
        session, world.delivery, hive_id=world.hive_id, name="图纸", planned_start=START, duration_days=1,
        owner_id=world.delivery.user_id, now=NOW,
    )  # fmt: skip
    board.update_task(session, world.delivery, task_id=early.id, changes={"status": "doing"}, now=NOW)
    board.update_task(session, world.delivery, task_id=early.id, changes={"status": "done"}, now=NOW)
    mine = board_read.my_tasks(session, world.delivery)
    assert [task.id for task in mine] == [build.id, late.id]
    assert mine[0].hive_name == "恒泰 产线升级"
    with_done = board_read.my_tasks(session, world.delivery, include_done=True)
    assert [task.id for task in with_done] == [build.id, late.id, early.id]
    assert board_read.my_tasks(session, world.outsider) == []


@pytest.mark.parametrize("seed", [1, 2])
def test_random_dependencies_are_refused_exactly_when_they_would_cycle(
    session: Session, world: World, seed: int
) -> None:
    """Over random attempts, the service accepts a dependency exactly when the pure
    schedule says it makes no cycle, and the stored graph always orders."""
    rng = random.Random(seed)
    ids = [
        board.add_task(
            session, ADMIN, hive_id=world.hive_id, name=f"T{i}", planned_start=START, duration_days=1, now=NOW
        ).id
        for i in range(10)
    ]
    edges: list[tuple[int, int]] = []
    for _ in range(60):
        task, before = rng.sample(ids, 2)
        cycles = schedule.would_cycle(ids, edges, (task, before))
        try:
            board.add_dependency(session, ADMIN, task_id=task, depends_on_id=before, now=NOW)
        except InvalidInput as refused:
            assert cycles and refused.errors[0].code == "task_cycle"
            chain = refused.errors[0].params["task_ids"]
            assert chain[0] == chain[-1] == task and chain[1] == before
            continue
        assert not cycles
        if (task, before) not in edges:
            edges.append((task, before))
    assert len(schedule.order(ids, edges)) == len(ids)
