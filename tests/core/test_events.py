"""The event log: hashing, verification, tamper detection, concurrency, as-of reads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from pathcast.db import session_factory, write_intent
from pathcast.events import (
    Event,
    EventDraft,
    append_event,
    append_events,
    canonical_bytes,
    events_between,
    events_by_type,
    events_for_entity,
    state_as_of,
    to_jsonable,
    verify_chain,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _append(session: Session, n: int, entity: str = "thing") -> None:
    for i in range(n):
        append_event(
            session,
            type=f"{entity}.updated",
            entity=entity,
            entity_id=i % 3,
            actor="test",
            payload={"after": {"n": i, "名称": "医院", "amount": Decimal("12.50"), "ratio": 0.1}},
            occurred_at=T0 + timedelta(days=i),
        )


def test_append_builds_a_gapless_linked_chain(session: Session) -> None:
    _append(session, 10)
    session.commit()
    events = list(session.scalars(text("SELECT id FROM events ORDER BY id")))
    assert events == list(range(1, 11))
    report = verify_chain(session)
    assert report.ok and report.checked == 10
    versions = [e.entity_version for e in events_for_entity(session, "thing", 0)]
    assert versions == [1, 2, 3, 4]


def test_verify_names_an_event_edited_behind_the_log(session: Session) -> None:
    _append(session, 6)
    session.commit()
    session.execute(text("UPDATE events SET payload = :p WHERE id = 4"), {"p": '{"after": {"n": 999}}'})
    session.commit()
    report = verify_chain(session)
    assert not report.ok
    assert report.first_bad_id == 4
    assert report.checked == 3
    assert "hash" in (report.reason or "")


def test_verify_names_a_broken_link(session: Session) -> None:
    _append(session, 5)
    session.commit()
    session.execute(text("UPDATE events SET prev_hash = :h WHERE id = 3"), {"h": "f" * 64})
    session.commit()
    report = verify_chain(session)
    assert (report.ok, report.first_bad_id) == (False, 3)
    assert "prev_hash" in (report.reason or "")


def test_verify_detects_deleted_events(session: Session) -> None:
    _append(session, 5)
    session.commit()
    session.execute(text("DELETE FROM events WHERE id = 5"))
    session.commit()
    report = verify_chain(session)
    assert not report.ok
    session.execute(text("DELETE FROM events WHERE id = 2"))
    session.commit()
    report = verify_chain(session)
    assert (report.ok, report.first_bad_id) == (False, 3)


def test_verify_detects_a_changed_timestamp(session: Session) -> None:
    _append(session, 3)
    session.commit()
    event = session.get(Event, 2)
    assert event is not None
    event.occurred_at = event.occurred_at + timedelta(seconds=1)
    session.commit()
    assert verify_chain(session).first_bad_id == 2


def test_batch_append_matches_single_appends(session: Session) -> None:
    drafts = [EventDraft("x.created", "x", i, "test", {"after": {"i": i}}) for i in range(50)]
    appended = append_events(session, drafts)
    session.commit()
    assert [e.id for e in appended] == list(range(1, 51))
    assert verify_chain(session).ok


def test_concurrent_writers_keep_the_chain_linear(db_url: str) -> None:
    """Several connections append at once; the chain stays gapless and verifies."""
    writers, per_writer = 6, 25
    errors: list[BaseException] = []
    barrier = threading.Barrier(writers)

    def write(worker: int) -> None:
        try:
            barrier.wait()
            factory = session_factory(db_url)
            for i in range(per_writer):
                with write_intent():
                    session = factory()
                    try:
                        append_event(
                            session,
                            type="load.tested",
                            entity="worker",
                            entity_id=worker,
                            actor=f"worker:{worker}",
                            payload={"after": {"i": i}},
                        )
                        session.commit()
                    finally:
                        session.close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    session = session_factory(db_url)()
    try:
        report = verify_chain(session)
        assert report.ok, report
        assert report.checked == writers * per_writer
        for worker in range(writers):
            versions = [e.entity_version for e in events_for_entity(session, "worker", worker)]
            assert versions == list(range(1, per_writer + 1))
    finally:
        session.close()


def test_state_as_of_replays_only_the_past(session: Session) -> None:
    append_event(
        session,
        type="deal.created",
        entity="deal",
        entity_id=1,
        actor="t",
        payload={"after": {"stage": "lead", "amount": "100"}},
        occurred_at=T0,
    )
    append_event(
        session,
        type="deal.updated",
        entity="deal",
        entity_id=1,
        actor="t",
        payload={"before": {"stage": "lead"}, "after": {"stage": "won"}},
        occurred_at=T0 + timedelta(days=30),
    )
    session.commit()
    assert state_as_of(session, "deal", 1, T0 - timedelta(days=1)) is None
    assert state_as_of(session, "deal", 1, T0 + timedelta(days=1)) == {"stage": "lead", "amount": "100"}
    assert state_as_of(session, "deal", 1, T0 + timedelta(days=31))["stage"] == "won"  # type: ignore[index]
    # By the recording clock, nothing was known before the events were written.
    assert state_as_of(session, "deal", 1, T0 + timedelta(days=31), clock="recorded") is None


def test_readers_by_type_and_time(session: Session) -> None:
    _append(session, 10, entity="a")
    append_event(session, type="b.created", entity="b", entity_id=1, actor="t", occurred_at=T0)
    session.commit()
    assert [e.type for e in events_by_type(session, ["b.created"])] == ["b.created"]
    window = events_between(session, T0 + timedelta(days=2), T0 + timedelta(days=5))
    assert [e.payload["after"]["n"] for e in window] == [2, 3, 4]


def test_naive_timestamps_are_refused(session: Session) -> None:
    with pytest.raises(ValueError):
        append_event(
            session, type="x.y", entity="x", entity_id=1, actor="t", occurred_at=datetime(2024, 1, 1)
        )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(payload=st.dictionaries(st.text(max_size=10), json_values, max_size=5))
def test_canonical_serialisation_is_stable_through_json(payload: dict[str, object]) -> None:
    """What is stored (JSON) hashes to the same bytes as what was appended."""
    import json

    stored = json.loads(json.dumps(to_jsonable(payload)))
    kwargs = dict(
        seq=1,
        type="t",
        entity="e",
        entity_id="1",
        entity_version=1,
        actor="a",
        occurred_at=T0,
        recorded_at=T0,
        prev_hash="0" * 64,
    )
    assert canonical_bytes(payload=to_jsonable(payload), **kwargs) == canonical_bytes(
        payload=stored, **kwargs
    )
