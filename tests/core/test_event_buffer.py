"""Buffered appends (bulk work): written at commit, dropped on rollback, savepoint-aware."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.events import Event, append_event, buffered_events, events_savepoint, verify_chain


def _count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Event)) or 0)


def _add(session: Session, n: int) -> Event:
    return append_event(
        session, type="thing.created", entity="thing", entity_id=n, actor="t", payload={"after": {"n": n}}
    )


def test_buffered_events_are_written_in_order_at_commit(session: Session) -> None:
    with buffered_events(session):
        placeholders = [_add(session, n) for n in range(5)]
        assert _count(session) == 0
        session.commit()
    assert [p.id for p in placeholders] == [1, 2, 3, 4, 5]
    assert _count(session) == 5
    assert verify_chain(session).ok


def test_rollback_discards_the_buffer(session: Session) -> None:
    with buffered_events(session):
        _add(session, 1)
        session.rollback()
        _add(session, 2)
        session.commit()
    events = list(session.scalars(select(Event)))
    assert [e.entity_id for e in events] == ["2"]
    assert verify_chain(session).ok


def test_a_failed_savepoint_drops_only_its_events(session: Session) -> None:
    with buffered_events(session):
        _add(session, 1)
        with pytest.raises(RuntimeError), events_savepoint(session):
            _add(session, 2)
            raise RuntimeError("row failed")
        with events_savepoint(session):
            _add(session, 3)
        assert _count(session) == 0  # releasing a savepoint does not write the batch
        session.commit()
    assert [e.entity_id for e in session.scalars(select(Event).order_by(Event.id))] == ["1", "3"]
    assert verify_chain(session).ok


def test_leaving_the_block_writes_what_is_left(session: Session) -> None:
    with buffered_events(session):
        _add(session, 1)
    assert _count(session) == 1
    session.commit()
    assert verify_chain(session).ok
