"""Capacity through the services on SQLite and PostgreSQL: resources (rights, events,
refusals), reservations (never overbooked, scoped holders, release), booking a hive's plan
(all or nothing), the calendar as each role may see it, and the promise check on a deal
(its event on the deal, the bottleneck, what would have to move, and every refusal)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role, User
from pathcast.auth.permissions import Actor
from pathcast.crm import service as crm
from pathcast.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pathcast.events import Event, state_as_of
from pathcast.hives import models as hm
from pathcast.hives.service import capacity
from pathcast.hives.service.capacity_promise import past_checks, promise_for_deal
from pathcast.hives.service.hives import MemberSpec, create_hive
from tests import factories as f

ADMIN = f.SYSTEM
NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # a Monday
WEEK = date(2026, 3, 2)


@dataclass
class World:
    rep: Actor
    manager: Actor
    west_rep: Actor
    planner: Actor
    outsider: Actor
    admin: Actor
    account: int
    deal: int
    hive: int
    lines: tuple[int, int]
    field_team: int
    logistics: int


def _people(session: Session) -> dict[str, User]:
    east, west = f.team(session, "East"), f.team(session, "West")
    return {
        "rep": f.user(session, "rep@example.com", team_obj=east, password=None),
        "manager": f.user(session, "manager@example.com", role=Role.manager, team_obj=east, password=None),
        "west_rep": f.user(session, "west@example.com", team_obj=west, password=None),
        "planner": f.user(session, "planner@example.com", role=Role.member, password=None),
        "outsider": f.user(session, "outsider@example.com", role=Role.member, password=None),
        "admin": f.user(session, "admin@example.com", role=Role.admin, password=None),
    }


def build_world(
    session: Session,
    people: dict[str, User] | None = None,
    *,
    start: date = date(2026, 3, 4),
    now: datetime = NOW,
) -> World:
    """An East rep's account, open deal and line-upgrade hive (a planner belongs to it), the
    resources line_upgrade needs; ``people`` may pass users who can sign in, ``start`` and
    ``now`` move the deal's expected close and the hive's start."""
    users = people or _people(session)
    actors = {key: f.actor(user) for key, user in users.items()}
    account = f.account(session, actors["rep"], name="苏州精工 Jinggong", industry="manufacturing")
    deal = f.opportunity(session, actors["rep"], name="精工 二号线升级", account_id=account.id,
                         expected_close_date=start)  # fmt: skip
    hive = create_hive(session, ADMIN, account_id=account.id, template="line_upgrade", start_date=start,
                       members=[MemberSpec(users["planner"].id, "production_planning")], now=now)  # fmt: skip
    made = [
        capacity.create_resource(session, ADMIN, data={"name": name, "kind": kind, "skill": skill, "capacity_per_week": cap})
        for name, kind, skill, cap in (
            ("一号装配线 Line 1", "line", "assembly_line", 60),
            ("二号装配线 Line 2", "line", "assembly_line", 60),
            ("现场工程师 Field team", "team", "field_engineer", 8),
            ("物流 Logistics", "team", "logistics", 3),
        )
    ]  # fmt: skip
    session.flush()
    return World(
        rep=actors["rep"], manager=actors["manager"], west_rep=actors["west_rep"], planner=actors["planner"],
        outsider=actors["outsider"], admin=actors["admin"], account=account.id, deal=deal.id, hive=hive.id,
        lines=(made[0].id, made[1].id), field_team=made[2].id, logistics=made[3].id,
    )  # fmt: skip


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


def events(session: Session, kind: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.type == kind).order_by(Event.id)))


# --- resources ----------------------------------------------------------------------------------


def test_planners_and_managers_keep_resources_with_events(session: Session, world: World) -> None:
    crew = capacity.create_resource(
        session, world.planner, data={"name": "  焊接 班组 ", "kind": "team", "skill": "Welding Crew", "capacity_per_week": 4}
    )  # fmt: skip
    assert crew.name == "焊接 班组" and crew.skill == "welding_crew" and crew.active
    changed = capacity.update_resource(
        session, world.manager, resource_id=crew.id, changes={"capacity_per_week": 6}
    )
    assert changed.capacity_per_week == 6
    made, moved = events(session, "hive.resource_created")[-1], events(session, "hive.resource_changed")[-1]
    assert made.payload["after"]["skill"] == "welding_crew"
    assert moved.payload == {"before": {"capacity_per_week": 4.0}, "after": {"capacity_per_week": 6}}
    assert next(r.name for r in capacity.list_resources(session, world.rep)) == "一号装配线 Line 1"


def test_resource_refusals(session: Session, world: World) -> None:
    with pytest.raises(PermissionDenied):
        capacity.create_resource(
            session, world.rep, data={"name": "x", "kind": "line", "skill": "s", "capacity_per_week": 1}
        )
    with pytest.raises(InvalidInput) as bad:
        capacity.create_resource(
            session, ADMIN, data={"name": " ", "kind": "robot", "skill": "", "capacity_per_week": -1}
        )
    assert {e.field for e in bad.value.errors} == {"name", "kind", "skill", "capacity_per_week"}
    with pytest.raises(Conflict):
        capacity.create_resource(
            session,
            ADMIN,
            data={"name": "一号装配线 Line 1", "kind": "line", "skill": "s", "capacity_per_week": 1},
        )
    with pytest.raises(NotFound):
        capacity.update_resource(session, ADMIN, resource_id=99999, changes={"active": False})
    capacity.reserve(
        session,
        world.planner,
        resource_id=world.lines[0],
        week_start=WEEK + timedelta(weeks=1),
        units=50,
        now=NOW,
    )
    with pytest.raises(InvalidInput) as lowered:
        capacity.update_resource(
            session, ADMIN, resource_id=world.lines[0], changes={"capacity_per_week": 40}, now=NOW
        )
    assert lowered.value.errors[0].code == "below_booked"
    assert lowered.value.errors[0].params["week"] == "2026-03-09"
    with pytest.raises(InvalidInput) as deactivated:
        capacity.update_resource(
            session, ADMIN, resource_id=world.lines[0], changes={"active": False}, now=NOW
        )
    assert deactivated.value.errors[0].field == "active"
    # a booking in a past week does not hold a resource back
    assert capacity.update_resource(session, ADMIN, resource_id=world.lines[0], changes={"capacity_per_week": 55},
                                    now=NOW + timedelta(weeks=3)).capacity_per_week == 55  # fmt: skip


# --- reservations -------------------------------------------------------------------------------


def test_reservations_never_overbook_and_name_the_week_and_what_is_free(
    session: Session, world: World
) -> None:
    first = capacity.reserve(session, world.planner, resource_id=world.lines[0], week_start=date(2026, 3, 5),
                             units=45, hive_id=world.hive, note="二号线 manufacturing", now=NOW)  # fmt: skip
    assert first.week_start == WEEK  # kept as the Monday
    with pytest.raises(InvalidInput) as full:
        capacity.reserve(session, world.manager, resource_id=world.lines[0], week_start=WEEK, units=20,
                         opportunity_id=world.deal, now=NOW)  # fmt: skip
    error = full.value.errors[0]
    assert (error.field, error.code) == ("units", "overbooked")
    assert error.params["week"] == "2026-03-02" and error.params["free"] == 15
    last = capacity.reserve(session, world.manager, resource_id=world.lines[0], week_start=WEEK, units=15,
                            opportunity_id=world.deal, now=NOW)  # fmt: skip
    made = events(session, "hive.reservation_made")
    assert [e.payload["after"]["units"] for e in made] == [45.0, 15.0]
    capacity.release(session, world.manager, reservation_id=last.id)
    assert session.get(hm.Reservation, last.id) is None
    released = events(session, "hive.reservation_released")[-1]
    assert released.payload["before"]["opportunity_id"] == world.deal and released.payload["deleted"]


def test_reservation_refusals(session: Session, world: World) -> None:
    with pytest.raises(PermissionDenied):
        capacity.reserve(session, world.rep, resource_id=world.lines[0], week_start=WEEK, units=1)
    with pytest.raises(InvalidInput) as bad:
        capacity.reserve(session, world.planner, resource_id=99999, week_start=WEEK, units=float("nan"))
    assert {e.field for e in bad.value.errors} == {"units", "resource_id"}
    # a member never books against the pipeline; a hive they do not belong to is unknown
    with pytest.raises(InvalidInput) as deal:
        capacity.reserve(
            session,
            world.planner,
            resource_id=world.lines[0],
            week_start=WEEK,
            units=1,
            opportunity_id=world.deal,
        )
    assert deal.value.errors[0].field == "opportunity_id"
    with pytest.raises(InvalidInput) as hive:
        capacity.reserve(
            session, world.outsider, resource_id=world.lines[0], week_start=WEEK, units=1, hive_id=world.hive
        )
    assert hive.value.errors[0].field == "hive_id"
    with pytest.raises(InvalidInput):
        capacity.reserve(session, ADMIN, resource_id=world.lines[0], week_start=WEEK, units=1, hive_id=world.hive,
                         opportunity_id=world.deal)  # fmt: skip
    booked = capacity.reserve(session, world.manager, resource_id=world.lines[0], week_start=WEEK, units=5,
                              opportunity_id=world.deal)  # fmt: skip
    # the planner may not read the deal: its booking looks missing to them
    with pytest.raises(NotFound):
        capacity.release(session, world.planner, reservation_id=booked.id)
    with pytest.raises(NotFound):
        capacity.list_reservations(session, world.outsider, hive_id=world.hive)


def test_the_calendar_shows_who_booked_as_each_viewer_may_see_it(session: Session, world: World) -> None:
    capacity.reserve(
        session,
        world.manager,
        resource_id=world.lines[1],
        week_start=WEEK,
        units=30,
        opportunity_id=world.deal,
    )
    capacity.reserve(
        session, ADMIN, resource_id=world.lines[1], week_start=WEEK, units=10, note="Other plant work"
    )
    weeks, rows = capacity.capacity_calendar(session, world.rep, weeks=4, now=NOW)
    assert weeks == [WEEK + timedelta(weeks=i) for i in range(4)]
    cell = next(r for r in rows if r.resource.id == world.lines[1]).cells[0]
    assert (cell.capacity, cell.booked, cell.free) == (60, 40, 20)
    assert [(h.kind, h.id, h.label) for h, _u, _r in cell.holders] == [
        ("deal", world.deal, "精工 二号线升级"), ("other", None, "Other plant work")]  # fmt: skip
    _weeks, hidden = capacity.capacity_calendar(session, world.planner, weeks=4, now=NOW)
    seen = next(r for r in hidden if r.resource.id == world.lines[1]).cells[0]
    assert seen.booked == 40
    assert next((h.kind, h.id, h.label) for h, _u, _r in seen.holders) == ("deal", None, "")
    with pytest.raises(InvalidInput):
        capacity.capacity_calendar(session, world.rep, weeks=0)


# --- booking a hive's plan ----------------------------------------------------------------------


def test_reserve_for_hive_books_the_milestone_needs_and_replaces_them(session: Session, world: World) -> None:
    made = capacity.reserve_for_hive(session, world.planner, world.hive, now=NOW)
    by_skill: dict[int, float] = {}
    for r in made:
        by_skill[r.resource_id] = by_skill.get(r.resource_id, 0) + r.units
    assert all(r.hive_id == world.hive for r in made)
    # manufacturing 21 days from 8 March at 40 a week: 4 ISO weeks of 40 units
    assert by_skill[world.lines[0]] + by_skill.get(world.lines[1], 0) == 160
    assert world.logistics in by_skill and world.field_team in by_skill
    again = capacity.reserve_for_hive(session, world.planner, world.hive, now=NOW)
    total = session.scalars(select(hm.Reservation).where(hm.Reservation.hive_id == world.hive)).all()
    assert len(total) == len(again) == len(made)
    event = events(session, "hive.capacity_reserved")[-1]
    assert len(event.payload["released"]) == len(made) and event.payload["units"] == sum(
        r.units for r in made
    )


def test_reserve_for_hive_is_all_or_nothing(session: Session, world: World) -> None:
    first = capacity.reserve_for_hive(session, world.planner, world.hive, now=NOW)
    # other work fills the logistics team a month later; then shipping slips into that week
    late = WEEK + timedelta(weeks=9)
    capacity.reserve(session, ADMIN, resource_id=world.logistics, week_start=late, units=2.5, note="other")
    shipping = session.scalars(
        select(hm.Task).where(hm.Task.hive_id == world.hive, hm.Task.key == "shipping")
    ).one()
    shipping.forecast_start, shipping.forecast_finish = late, late + timedelta(days=5)
    with pytest.raises(InvalidInput) as refused:
        capacity.reserve_for_hive(session, world.planner, world.hive, now=NOW)
    error = refused.value.errors[0]
    assert error.code == "plan_overbooked" and error.params["skill"] == "logistics"
    assert error.params["week"] == late.isoformat() and error.params["free"] == 0.5
    kept = session.scalars(select(hm.Reservation.id).where(hm.Reservation.hive_id == world.hive)).all()
    assert sorted(kept) == sorted(r.id for r in first)  # the earlier bookings are untouched
    with pytest.raises(PermissionDenied):
        capacity.reserve_for_hive(session, world.rep, world.hive)
    with pytest.raises(NotFound):
        capacity.reserve_for_hive(session, world.outsider, world.hive)


# --- the promise check --------------------------------------------------------------------------


def test_promise_on_free_capacity_is_the_template_length_and_an_event_on_the_deal(
    session: Session, world: World
) -> None:
    answer = promise_for_deal(session, world.rep, world.deal, template="产线升级", now=NOW)
    assert answer.start_date == date(2026, 3, 4)  # the expected close: work starts at signing
    assert answer.earliest_date == answer.unconstrained_date and answer.bottleneck is None
    assert answer.earliest_date == date(2026, 3, 4) + timedelta(days=4 + 21 + 5 + 10 + 3)
    event = events(session, "hive.promise_checked")[-1]
    assert (event.entity, event.entity_id) == ("opportunity", str(world.deal))
    assert event.payload["promise"]["earliest_date"] == answer.earliest_date.isoformat()
    # the check is not a change of the deal: the fold of the deal's state ignores it
    state = state_as_of(session, "opportunity", world.deal, datetime(2100, 1, 1, tzinfo=UTC))
    assert state is not None and "promise" not in state and "earliest_date" not in state
    assert past_checks(session, world.rep, world.deal)[0]["earliest_date"] == answer.earliest_date.isoformat()


def test_booked_lines_push_the_promise_and_say_what_would_have_to_move(
    session: Session, world: World
) -> None:
    free = promise_for_deal(session, world.rep, world.deal, now=NOW)
    week = next(m for m in free.milestones if m.key == "manufacturing").allocations[0].week_start
    capacity.reserve(
        session, ADMIN, resource_id=world.lines[0], week_start=week, units=40, hive_id=world.hive
    )
    capacity.reserve(
        session, ADMIN, resource_id=world.lines[0], week_start=week, units=20, note="export order"
    )
    capacity.reserve(session, ADMIN, resource_id=world.lines[1], week_start=week, units=30, note="rework")
    # the deal's own tentative booking stands in nobody's way (else 12 units would have to move)
    capacity.reserve(
        session,
        world.manager,
        resource_id=world.lines[1],
        week_start=week,
        units=2,
        opportunity_id=world.deal,
    )
    answer = promise_for_deal(session, world.rep, world.deal, requested_date=free.earliest_date, now=NOW)
    assert answer.earliest_date is not None and answer.earliest_date > free.earliest_date
    assert answer.meets_request is False
    bottleneck = answer.bottleneck
    assert (
        bottleneck is not None
        and bottleneck.milestone == "manufacturing"
        and bottleneck.skill == "assembly_line"
    )
    assert bottleneck.weeks == [week]
    assert {h.holder for h in bottleneck.holders} == {"hive", "other"}
    # 40 needed, 120 - 40 - 50 = 30 free: 10 units must move, other work before the hive
    assert [(mv.units, mv.holder) for mv in answer.moves] == [(10.0, "other")]
    assert answer.extra_capacity == []


def test_promise_refusals(session: Session, world: World) -> None:
    with pytest.raises(PermissionDenied):
        promise_for_deal(session, world.planner, world.deal, now=NOW)  # members never read deals
    with pytest.raises(NotFound):
        promise_for_deal(session, world.west_rep, world.deal, now=NOW)
    with pytest.raises(InvalidInput) as bad:
        promise_for_deal(
            session, world.rep, world.deal, template="no such", requested_date=date(2026, 3, 1), now=NOW
        )
    assert {e.field for e in bad.value.errors} == {"template", "requested_date"}
    deal = crm.get_writable(session, world.rep, crm.SPECS["opportunity"], world.deal)
    lost = next(s for s in crm.stages_of(session, deal.pipeline_id) if s.status_class == "lost")
    crm.change_stage(session, actor=world.rep, opportunity=deal, to_stage_id=lost.id)
    with pytest.raises(InvalidInput) as closed:
        promise_for_deal(session, world.rep, world.deal, now=NOW)
    assert closed.value.errors[0].code == "deal_not_open"
    assert events(session, "hive.promise_checked") == []


# --- the demo seed ------------------------------------------------------------------------------


def test_demo_seed_books_other_work_and_makes_a_bottleneck(session: Session, world: World) -> None:
    import random

    from pathcast.demo.context import Demo
    from pathcast.demo.hives_capacity import BUSY_LINES, RESOURCES, seed_capacity

    for resource_id in (*world.lines, world.field_team, world.logistics):  # only the demo's resources count
        capacity.update_resource(session, ADMIN, resource_id=resource_id, changes={"active": False})
    today = date(2026, 11, 26)
    demo = Demo(session=session, rng=random.Random(7), today=today, system=Actor.system("demo"))
    seed_capacity(demo)
    names = {r.name for r in capacity.list_resources(session, ADMIN)}
    assert {name for name, *_rest in RESOURCES} <= names
    booked = session.scalars(select(hm.Reservation).where(hm.Reservation.note != "")).all()
    assert booked and all(r.created_at <= demo.horizon for r in booked)
    assert all(r.week_start.weekday() == 0 and r.week_start >= date(2026, 11, 23) for r in booked)
    made = events(session, "hive.reservation_made")
    assert made and all(e.occurred_at <= demo.horizon for e in made)
    seed_capacity(demo)  # idempotent
    assert len(session.scalars(select(hm.Reservation)).all()) == len(booked)
    # a line upgrade starting just before the busy weeks is pushed by the assembly lines
    busy = date(2026, 11, 23) + timedelta(weeks=BUSY_LINES[0])
    answer = promise_for_deal(session, world.rep, world.deal, start_date=busy - timedelta(days=4),
                              now=datetime(2026, 11, 26, 3, tzinfo=UTC))  # fmt: skip
    assert answer.bottleneck is not None and answer.bottleneck.skill == "assembly_line"
    again = Demo(session=session, rng=random.Random(7), today=today, system=Actor.system("demo"))
    assert again.rng.random() == random.Random(7).random()  # the same seed draws the same numbers


def test_every_capacity_read_field_has_an_export_class() -> None:
    from pathcast.hives import schemas as s
    from pathcast.schemas import export_classes

    for schema in (s.ResourceRead, s.ReservationRead, s.CapacityHolder, s.CapacityCell, s.CapacityRow,
                   s.CapacityCalendar, s.PromiseAllocation, s.PromiseMilestone, s.PromiseBottleneck,
                   s.PromiseMove, s.PromiseExtra, s.PromiseAnswer):  # fmt: skip
        missing = [name for name, cls in export_classes(schema).items() if cls is None]
        assert not missing, f"{schema.__name__}: {missing}"


def test_past_checks_hide_what_the_current_viewer_may_not_read(session: Session, world: World) -> None:
    west_account = f.account(session, world.west_rep, name="西部客户 West Co")
    west_hive = create_hive(
        session, ADMIN, account_id=west_account.id, name="West line", start_date=date(2026, 3, 4), now=NOW
    )
    free = promise_for_deal(session, world.rep, world.deal, now=NOW)
    week = next(m for m in free.milestones if m.key == "manufacturing").allocations[0].week_start
    for line in world.lines:
        capacity.reserve(session, ADMIN, resource_id=line, week_start=week, units=45, hive_id=west_hive.id)
    admin_view = promise_for_deal(session, ADMIN, world.deal, requested_date=free.earliest_date, now=NOW)
    assert admin_view.bottleneck is not None and admin_view.bottleneck.holders[0].label == "West line"
    latest = past_checks(session, world.rep, world.deal)[0]
    assert (
        latest["bottleneck"]["holders"][0]["label"] == ""
        and latest["bottleneck"]["holders"][0]["holder_id"] is None
    )
    assert all(move["label"] == "" for move in latest["moves"])
    stored = events(session, "hive.promise_checked")[-1]
    assert (
        stored.payload["promise"]["bottleneck"]["holders"][0]["label"] == "West line"
    )  # the log is untouched
    assert past_checks(session, ADMIN, world.deal)[0]["bottleneck"]["holders"][0]["label"] == "West line"
