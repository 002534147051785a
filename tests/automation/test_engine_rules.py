"""Rules as records: versions, enabling as events, scopes, run counts, and a test per refusal."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.automation import service
from pathcast.automation.ir import RuleIR
from pathcast.automation.models import Run
from pathcast.errors import InvalidInput, NotFound, PermissionDenied
from pathcast.events import Event, events_for_entity
from tests import factories as f
from tests.automation.engine_support import ADMIN

IR = RuleIR.model_validate(
    {
        "trigger": {"type": "record_event", "event": "opportunity.won"},
        "actions": [{"type": "notify", "recipients": [{"kind": "role", "value": "implementation_director"}]}],
    }
)
IR2 = RuleIR.model_validate(
    {
        "trigger": {"type": "record_event", "event": "opportunity.lost"},
        "actions": [{"type": "tag", "target": "account", "tag": "lost-deal"}],
    }
)


def create(session: Session, actor: Any, **options: Any) -> Any:
    return service.create_rule(
        session,
        name=options.pop("name", "赢单启动交付"),
        text="商机赢单后，通知实施总监",
        lang="zh",
        ir=options.pop("ir", IR),
        readback_zh="当商机赢单时，通知实施总监",
        readback_en="When a deal is won, notify the implementation director",
        actor=actor,
        **options,
    )


def test_create_edit_keeps_every_version(session: Session) -> None:
    people = f.two_teams(session)
    manager = f.actor(people["east_manager"])
    rule = create(session, manager)
    assert (rule.current_version, rule.is_enabled, rule.owner_id) == (1, False, people["east_manager"].id)
    service.update_rule(
        session,
        rule_id=rule.id,
        text="商机输单后，给客户打标签",
        lang="zh",
        ir=IR2,
        readback_zh="输单时给客户打标签",
        readback_en="When lost, tag the account",
        actor=manager,
    )
    versions = service.rule_versions(session, rule_id=rule.id, actor=manager)
    assert [v.version for v in versions] == [1, 2]
    assert RuleIR.model_validate(versions[0].ir) == IR
    assert RuleIR.model_validate(versions[1].ir) == IR2
    assert service.current_ir(session, rule_id=rule.id, actor=manager) == IR2
    assert versions[1].created_by == manager.label
    types = [e.type for e in events_for_entity(session, "automation_rule", rule.id)]
    assert types == ["automation.rule_created", "automation.rule_version_added"]


def test_enabling_is_an_event_and_marks_where_matching_starts(session: Session) -> None:
    people = f.two_teams(session)
    manager = f.actor(people["east_manager"])
    rule = create(session, manager)
    enabled = service.enable_rule(session, rule_id=rule.id, actor=manager)
    last = session.scalars(select(Event).order_by(Event.id.desc()).limit(1)).one()
    assert enabled.is_enabled and last.type == "automation.rule_enabled"
    assert enabled.enabled_from_event_id == last.id
    assert service.enable_rule(session, rule_id=rule.id, actor=manager).enabled_from_event_id == last.id
    service.disable_rule(session, rule_id=rule.id, actor=manager)
    types = [e.type for e in events_for_entity(session, "automation_rule", rule.id)]
    assert types[-2:] == ["automation.rule_enabled", "automation.rule_disabled"]
    assert not service.get_rule(session, rule_id=rule.id, actor=manager).is_enabled


def test_list_rules_counts_runs_per_status(session: Session) -> None:
    rule = create(session, ADMIN)
    other = create(session, ADMIN, name="另一条")
    for key, status in (("a", "done"), ("b", "done"), ("c", "failed")):
        session.add(
            Run(rule_id=rule.id, rule_version=1, fire_key=key, status=status, fired_at=rule.created_at)
        )
    session.flush()
    listing = {summary.rule.id: summary for summary in service.list_rules(session, actor=ADMIN)}
    assert listing[rule.id].run_counts == {"done": 2, "failed": 1}
    assert listing[other.id].run_counts == {}
    assert listing[rule.id].version.version == 1
    assert [r.status for r in service.list_runs(session, actor=ADMIN, rule_id=rule.id, status="failed")] == [
        "failed"
    ]


def test_team_rules_are_visible_to_their_team_only(session: Session) -> None:
    people = f.two_teams(session)
    east_manager = f.actor(people["east_manager"])
    team_rule = create(session, east_manager, scope="team")
    assert team_rule.scope_value == str(people["east"].id)
    everyone = create(session, east_manager, name="全员规则")
    east_rep, west_rep = f.actor(people["east_rep"]), f.actor(people["west_rep"])
    assert {s.rule.id for s in service.list_rules(session, actor=east_rep)} == {team_rule.id, everyone.id}
    assert {s.rule.id for s in service.list_rules(session, actor=west_rep)} == {everyone.id}
    with pytest.raises(NotFound):
        service.get_rule(session, rule_id=team_rule.id, actor=west_rep)
    people["east"].region = "华东"
    session.flush()
    regional = create(session, ADMIN, name="华东规则", scope="region", scope_value="华东")
    assert regional.id in {s.rule.id for s in service.list_rules(session, actor=east_rep)}
    assert regional.id not in {s.rule.id for s in service.list_rules(session, actor=west_rep)}


def test_reps_read_but_may_not_create_or_edit(session: Session) -> None:
    people = f.two_teams(session)
    rep = f.actor(people["east_rep"])
    rule = create(session, f.actor(people["east_manager"]))
    with pytest.raises(PermissionDenied):
        create(session, rep)
    with pytest.raises(PermissionDenied):
        service.enable_rule(session, rule_id=rule.id, actor=rep)
    assert service.get_rule(session, rule_id=rule.id, actor=rep).id == rule.id


def test_members_see_no_rules(session: Session) -> None:
    people = f.two_teams(session)
    with pytest.raises(PermissionDenied):
        service.list_rules(session, actor=f.actor(people["member"]))


def test_a_manager_may_not_edit_another_managers_rule(session: Session) -> None:
    people = f.two_teams(session)
    rule = create(session, f.actor(people["east_manager"]))
    with pytest.raises(PermissionDenied):
        service.disable_rule(session, rule_id=rule.id, actor=f.actor(people["west_manager"]))


def test_a_manager_may_not_scope_a_rule_to_another_team(session: Session) -> None:
    people = f.two_teams(session)
    with pytest.raises(PermissionDenied):
        create(session, f.actor(people["east_manager"]), scope="team", scope_value=str(people["west"].id))


def test_bad_scope_and_language_name_the_field(session: Session) -> None:
    with pytest.raises(InvalidInput) as region:
        create(session, ADMIN, scope="region")
    assert region.value.errors[0].field == "scope_value"
    with pytest.raises(InvalidInput) as scope:
        create(session, ADMIN, scope="planet")
    assert scope.value.errors[0].field == "scope"
    with pytest.raises(InvalidInput) as lang:
        service.create_rule(
            session, name="x", text="x", lang="fr", ir=IR, readback_zh="x", readback_en="x", actor=ADMIN
        )
    assert lang.value.errors[0].field == "lang"


def test_unknown_rule_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound):
        service.enable_rule(session, rule_id=4242, actor=ADMIN)
