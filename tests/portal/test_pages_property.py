"""Property: random crm records whose internal fields hold a marker never leak it into any
portal page or portal API answer for the account's customer contact.

Internal fields are those the crm Read schemas mark ``internal`` (account and contact
notes, an activity's body, a deal's description and lead source); internal records are
those the customer never sees at all (notes and tasks, a deal, an internal document)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from pathcast.crm import models as m
from pathcast.crm import schemas as crm_schemas
from pathcast.crm.service import SPECS, create_record, get_writable, update_record
from pathcast.db import utcnow
from pathcast.schemas import ExportClass, fields_of_class
from tests import factories as f
from tests.api.conftest import application, client  # noqa: F401  (fixtures)
from tests.portal.pages_world import build
from tests.web.test_pages import log_in

API = ("/api/v1/portal/communications", "/api/v1/portal/documents", "/api/v1/portal/service",
       "/api/v1/portal/analytics")  # fmt: skip
PAGES = ("/portal/communications", "/portal/documents", "/portal/service", "/portal/analytics")

visible_text = st.text(
    alphabet=st.sampled_from("abcdefgxyz 方案会议沟通客户0123456789-"), min_size=1, max_size=30
).filter(lambda value: value.strip() != "")

record = st.one_of(
    st.tuples(st.just("activity"), st.sampled_from([kind.value for kind in m.ActivityKind]), visible_text),
    st.tuples(st.just("account_notes"), st.just(""), visible_text),
    st.tuples(st.just("contact"), st.just(""), visible_text),
    st.tuples(st.just("deal"), st.just(""), visible_text),
    st.tuples(st.just("internal_document"), st.just(""), visible_text),
    st.tuples(st.just("ticket"), st.sampled_from([s.value for s in m.Severity]), visible_text),
)


@pytest.fixture
def world(session: Session, configured: str) -> dict[str, Any]:
    return build(session)


def test_the_markers_are_internal_fields_by_class() -> None:
    """The fields this test fills are internal by the schemas, not by a list of ours."""
    assert "body" in fields_of_class(crm_schemas.ActivityRead, ExportClass.internal)
    assert "notes" in fields_of_class(crm_schemas.AccountRead, ExportClass.internal)
    assert "notes" in fields_of_class(crm_schemas.ContactRead, ExportClass.internal)
    assert "description" in fields_of_class(crm_schemas.OpportunityRead, ExportClass.internal)


def _create(session: Session, world: dict[str, Any], marker: str, item: tuple[str, str, str]) -> None:
    what, choice, text = item
    rep = f.actor(world["east_rep"])
    account_id = world["ours"].id
    if what == "activity":
        f.activity(
            session, rep, kind=choice, subject=text if choice not in ("note", "task") else f"{text} {marker}",
            body=f"{text} {marker}", account_id=account_id, contact_id=world["buyer"].id,
            owner_id=world["east_rep"].id,
        )  # fmt: skip
    elif what == "account_notes":
        account = get_writable(session, f.SYSTEM, SPECS["account"], account_id)
        update_record(
            session, actor=f.SYSTEM, spec=SPECS["account"], record=account, changes={"notes": marker}
        )
    elif what == "contact":
        f.contact(session, name=text, notes=f"{marker} {text}", account_id=account_id)
    elif what == "deal":
        f.opportunity(
            session,
            rep,
            name=f"{text} {marker}",
            account_id=account_id,
            description=marker,
            lead_source=marker,
        )
    elif what == "internal_document":
        create_record(
            session,
            actor=rep,
            spec=SPECS["document"],
            data={
                "name": f"{text} {marker}",
                "kind": "proposal",
                "audience": "internal",
                "account_id": account_id,
            },
        )
    else:
        create_record(
            session, actor=f.SYSTEM, spec=SPECS["ticket"],
            data={"account_id": account_id, "subject": text, "severity": choice, "owner_id": world["east_rep"].id,
                  "opened_at": utcnow()},
        )  # fmt: skip


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    suffix=st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=8, max_size=8),
    items=st.lists(record, min_size=1, max_size=6),
)
def test_no_portal_answer_carries_an_internal_marker(
    session: Session,
    client: TestClient,  # noqa: F811
    world: dict[str, Any],
    suffix: str,
    items: list[tuple[str, str, str]],
) -> None:
    marker = f"ZZINTERNAL{suffix}"
    for item in items:
        _create(session, world, marker, item)
    session.commit()
    if "logged_in" not in world:
        log_in(client, "buyer@renhe.example")
        world["logged_in"] = True
    for path in API:
        answer = client.get(path, headers=world["headers"]["customer"])
        assert answer.status_code == 200, answer.text
        assert marker not in answer.text, path
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code == 200, answer.text
        assert marker not in answer.text, path
