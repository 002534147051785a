"""The verifiable audit file on SQLite and PostgreSQL: what it holds (the customer's
events, in full or retained by field class; never internal values, opportunities or
another account), the round trip through the offline verifier, each kind of tampering
caught at its seq, a random flipped byte always caught, the event, and refusals."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor
from pathcast.crm import service as crm
from pathcast.errors import NotFound, PermissionDenied
from pathcast.events import Event, verify_chain
from pathcast.portal.audit import EXPORT_EVENT, dump, verify
from pathcast.portal.service.audit_export import build_audit_export, export_audit, own_account
from tests import factories as f

ADMIN = f.SYSTEM
MARKER = "AUDIT-INTERNAL-MARKER-7731"


@dataclass
class World:
    account_id: int
    other_account_id: int
    contact_id: int
    deal_id: int
    customer: Actor
    other_customer: Actor
    east_rep: Actor
    west_rep: Actor
    users: dict[str, Any]


def build_world(session: Session) -> World:
    east, west = f.team(session, "East"), f.team(session, "West")
    east_rep = f.user(session, "rep@example.com", team_obj=east)
    west_rep = f.user(session, "west@example.com", team_obj=west)
    admin = f.user(session, "admin@example.com", role=Role.admin)
    account = f.account(session, name="恒泰精密 Hengtai", notes=MARKER, owner_id=east_rep.id)
    other = f.account(session, name="Other Co", notes=MARKER, owner_id=east_rep.id)
    customer = f.user(session, "buyer@hengtai.example", role=Role.customer_contact, account_id=account.id)
    other_customer = f.user(session, "buyer@other.example", role=Role.customer_contact, account_id=other.id)
    contact = f.contact(session, account_id=account.id, notes=MARKER)
    f.contact(session, account_id=other.id, name="Not theirs", notes=MARKER)
    spec = crm.SPECS["contact"]
    # customer-visible change: goes out in full; internal change: retained
    crm.update_record(session, actor=ADMIN, spec=spec, record=contact, changes={"title": "采购总监"})
    crm.update_record(session, actor=ADMIN, spec=spec, record=contact, changes={"notes": MARKER + "-2"})
    f.activity(session, account_id=account.id, contact_id=contact.id, body=MARKER, subject="kick-off")
    contract = crm.create_record(
        session,
        actor=ADMIN,
        spec=crm.SPECS["contract"],
        data={"account_id": account.id, "number": "C-1", "value": 9},
    )
    crm.update_record(
        session, actor=ADMIN, spec=crm.SPECS["contract"], record=contract, changes={"value": 10}
    )
    deal = f.opportunity(session, ADMIN, account_id=account.id, description=MARKER)
    crm.create_quote(session, actor=ADMIN, data={"opportunity_id": deal.id, "notes": MARKER})
    f.activity(session, account_id=other.id, body=MARKER, subject="other account's call")
    session.flush()
    return World(
        account_id=account.id,
        other_account_id=other.id,
        contact_id=contact.id,
        deal_id=deal.id,
        customer=f.actor(customer),
        other_customer=f.actor(other_customer),
        east_rep=f.actor(east_rep),
        west_rep=f.actor(west_rep),
        users={"admin": admin, "customer": customer, "east_rep": east_rep, "west_rep": west_rep},
    )


def _doc(raw: bytes) -> dict[str, Any]:
    return json.loads(raw)


def _codes(raw: bytes) -> list[tuple[int | None, str]]:
    report = verify(raw)
    assert not report.ok
    return [(problem.seq, problem.code) for problem in report.problems]


# --- what the file holds ----------------------------------------------------------------


def test_round_trip_and_contents(session: Session) -> None:
    world = build_world(session)
    raw = export_audit(session, world.customer, world.account_id)
    report = verify(raw)
    assert report.ok, report.problems
    assert report.exit_code == 0 and report.account == world.account_id
    document = _doc(raw)
    head = session.scalars(select(Event).order_by(Event.id.desc()).limit(1)).one()
    assert head.type == EXPORT_EVENT and head.actor == world.customer.label
    assert document["chain_head"] == {"seq": head.id, "hash": head.hash}
    assert document["events"][-1]["seq"] == head.id and document["export_id"] == head.payload["export_id"]
    full = {(e["entity"], e["type"]) for e in document["events"]}
    retained = {(e["entity"], e["type"]): e["reason"] for e in document["retained"]}
    assert ("contact", "contact.updated") in full  # the title change
    assert retained[("account", "account.created")] == "internal_fields"  # notes, tier
    assert retained[("contact", "contact.created")] == "internal_fields"
    assert ("activity", "activity.created") in retained and ("quote", "quote.created") in retained
    assert ("contract", "contract.updated") in full  # value is customer-visible
    entities = {e["entity"] for e in document["events"]} | {e["entity"] for e in document["retained"]}
    assert "opportunity" not in entities and "user" not in entities
    listed = {(e["entity"], e["entity_id"]) for e in document["events"] + document["retained"]}
    assert ("account", str(world.other_account_id)) not in listed
    assert MARKER not in raw.decode() and "other account's call" not in raw.decode()
    # the skeleton covers first..head with hashes only, and matches the database
    seqs = [entry[0] for entry in document["skeleton"]]
    assert seqs == list(range(seqs[0], head.id + 1))
    assert seqs[0] == min(e["seq"] for e in document["events"] + document["retained"])
    assert verify_chain(session).ok


def test_gzip_round_trip_and_the_export_becomes_part_of_the_next(session: Session) -> None:
    world = build_world(session)
    first = build_audit_export(session, ADMIN, world.account_id, compress=True)
    assert first.filename.endswith(".json.gz") and first.media_type == "application/gzip"
    assert verify(first.content).ok
    second = _doc(export_audit(session, world.customer, world.account_id))
    earlier = [e for e in second["events"] if e["type"] == EXPORT_EVENT]
    assert next(e["payload"]["export_id"] for e in earlier) == first.export_id
    assert verify(dump(second)).ok


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(notes=st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=3))
def test_random_internal_values_never_leave(session: Session, notes: list[str]) -> None:
    account = f.account(session, name="Prop Co", notes=MARKER)
    for index, note in enumerate(notes):
        marked = f"{MARKER}{index}{note}"
        contact = f.contact(session, account_id=account.id, name=f"c{index}", notes=marked)
        crm.update_record(
            session, actor=ADMIN, spec=crm.SPECS["contact"], record=contact, changes={"notes": marked}
        )
        f.activity(session, account_id=account.id, subject=f"s{index}", body=marked)
    raw = export_audit(session, ADMIN, account.id)
    assert MARKER not in raw.decode() and verify(raw).ok
    session.rollback()


# --- tampering --------------------------------------------------------------------------


def _full_event(document: dict[str, Any]) -> dict[str, Any]:
    return next(e for e in document["events"] if e["type"] == "contact.updated")


def test_each_kind_of_tampering_is_caught_at_its_seq(session: Session) -> None:
    world = build_world(session)
    raw = export_audit(session, world.customer, world.account_id)
    original = _doc(raw)
    head_seq = original["chain_head"]["seq"]

    altered = _doc(raw)
    event = _full_event(altered)
    event["payload"]["after"]["title"] = "采购总监!"
    assert (event["seq"], "content_altered") in _codes(dump(altered))

    flipped = bytearray(raw)
    position = raw.index("采购总监".encode())
    flipped[position + 1] ^= 0x01
    assert (event["seq"], "content_altered") in _codes(bytes(flipped))

    altered = _doc(raw)
    middle = len(altered["skeleton"]) // 2
    digest = altered["skeleton"][middle][1]
    altered["skeleton"][middle][1] = ("0" if digest[0] != "0" else "1") + digest[1:]
    seq = altered["skeleton"][middle][0]
    assert (seq + 1, "broken_link") in _codes(dump(altered))

    altered = _doc(raw)
    removed = altered["skeleton"].pop(middle)
    assert (removed[0], "missing_event") in _codes(dump(altered))

    altered = _doc(raw)
    altered["chain_head"]["hash"] = "f" * 64
    assert (head_seq, "wrong_head") in _codes(dump(altered))

    altered = _doc(raw)
    altered["skeleton"].pop()
    assert (head_seq, "wrong_head") in _codes(dump(altered))

    altered = _doc(raw)
    altered["retained"].pop(0)
    assert (head_seq, "listing_altered") in _codes(dump(altered))

    altered = _doc(raw)
    altered["export_id"] = "someone-else"
    assert (head_seq, "listing_altered") in _codes(dump(altered))

    report = verify(raw.replace(b'"seq":', b'"seq" :', 1))
    assert not report.ok and (None, "not_canonical") in [(p.seq, p.code) for p in report.problems]
    for broken in (b"", b"{", raw[:-1], b'{"format":"other"}', gzip.compress(raw)):
        report = verify(broken)
        assert report.unreadable and report.exit_code == 2


def test_a_random_flipped_byte_is_always_caught(session: Session) -> None:
    world = build_world(session)
    raw = export_audit(session, world.customer, world.account_id)
    zipped = build_audit_export(session, world.customer, world.account_id, compress=True).content

    @settings(max_examples=250, deadline=None)
    @given(st.data())
    def flip(data: st.DataObject) -> None:
        content = data.draw(st.sampled_from([raw, zipped]))
        position = data.draw(st.integers(0, len(content) - 1))
        mask = data.draw(st.integers(1, 255))
        changed = bytearray(content)
        changed[position] ^= mask
        report = verify(bytes(changed))
        assert not report.ok and report.exit_code in (1, 2)

    flip()


# --- the event and refusals -------------------------------------------------------------


def test_refusals(session: Session) -> None:
    world = build_world(session)
    with pytest.raises(NotFound):
        export_audit(session, world.other_customer, world.account_id)
    with pytest.raises(NotFound):
        export_audit(session, world.customer, world.other_account_id)
    with pytest.raises(NotFound):
        export_audit(session, world.west_rep, world.account_id)  # cannot see it at all
    with pytest.raises(PermissionDenied):
        export_audit(session, world.east_rep, world.account_id)  # sees it, may not take it
    with pytest.raises(NotFound):
        export_audit(session, ADMIN, 999_999)
    with pytest.raises(PermissionDenied):
        own_account(world.east_rep)
    assert own_account(world.customer) == world.account_id
    assert session.scalars(select(Event).where(Event.type == EXPORT_EVENT)).first() is None
