"""Property test: for any assignment of deals to people, each role sees exactly what
the rules say — no more, no less — and may edit exactly its share."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor
from pathcast.crm import service as crm
from pathcast.errors import NotFound, PermissionDenied
from tests import factories

SELLERS = ["east_manager", "east_rep", "east_rep2", "west_manager", "west_rep"]
VIEWERS = ["admin", *SELLERS, "member"]


def _expected_readable(viewer: str, people: dict[str, Any], owners: list[str]) -> set[int]:
    user = people[viewer]
    if user.role == Role.admin.value:
        return set(range(len(owners)))
    if user.role in (Role.manager.value, Role.rep.value):
        return {i for i, owner in enumerate(owners) if people[owner].team_id == user.team_id}
    return set()


def _expected_writable(viewer: str, people: dict[str, Any], owners: list[str]) -> set[int]:
    user = people[viewer]
    if user.role == Role.rep.value:
        return {i for i, owner in enumerate(owners) if owner == viewer}
    return _expected_readable(viewer, people, owners)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(owners=st.lists(st.sampled_from(SELLERS), min_size=1, max_size=6))
def test_visibility_and_edit_rights_follow_the_rules(session: Session, owners: list[str]) -> None:
    if "people" not in session.info:
        session.info["people"] = factories.two_teams(session)
        factories.pipeline(session)
    people: dict[str, Any] = session.info["people"]
    spec = crm.SPECS["opportunity"]
    savepoint = session.begin_nested()
    try:
        deals = [
            factories.opportunity(session, Actor.for_user(people[owner]), name=f"deal {i}")
            for i, owner in enumerate(owners)
        ]
        index = {deal.id: i for i, deal in enumerate(deals)}
        for viewer in VIEWERS:
            actor = Actor.for_user(people[viewer])
            expected = _expected_readable(viewer, people, owners)
            if actor.role in (Role.manager, Role.rep, Role.admin):
                items, _, _ = crm.list_records(session, actor, spec, limit=500)
                assert {index[item.id] for item in items if item.id in index} == expected, viewer
            else:
                with pytest.raises(PermissionDenied):
                    crm.list_records(session, actor, spec, limit=500)
            writable = set()
            for deal in deals:
                try:
                    crm.get_writable(session, actor, spec, deal.id, "update")
                    writable.add(index[deal.id])
                except (NotFound, PermissionDenied):
                    pass
            assert writable == _expected_writable(viewer, people, owners), viewer
    finally:
        savepoint.rollback()
