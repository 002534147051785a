"""Leases: which worker executes which run, and until when.

``claim_due`` leases due runs (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's single
writer serialises claims); ``take_over`` moves a lease from the Redis dispatcher (or from
a holder whose lease expired) to the worker that popped the run. A crashed worker's
leases simply expire.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from pathcast.automation.models import Run, RunStatus

ACTIVE = (RunStatus.pending.value, RunStatus.running.value, RunStatus.waiting.value)


def claim_due(
    session: Session, *, worker_id: str, now: datetime, lease_seconds: float, limit: int = 20
) -> list[int]:
    """Lease up to ``limit`` due runs to ``worker_id``; their ids, oldest due first."""
    due = (
        select(Run.id)
        .where(
            Run.status.in_(ACTIVE),
            Run.next_attempt_at.is_not(None),
            Run.next_attempt_at <= now,
            or_(Run.locked_until.is_(None), Run.locked_until < now),
        )
        .order_by(Run.next_attempt_at, Run.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.scalars(due))
    if ids:
        session.execute(
            update(Run)
            .where(Run.id.in_(ids))
            .values(locked_by=worker_id, locked_until=now + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
    return ids


def take_over(
    session: Session, *, run_id: int, worker_id: str, now: datetime, lease_seconds: float, from_prefix: str
) -> bool:
    """Move a run's lease from the dispatcher (``from_prefix…``), or from an expired holder,
    to this worker. False if someone else holds it or it is no longer active."""
    result = session.execute(
        update(Run)
        .where(
            Run.id == run_id,
            Run.status.in_(ACTIVE),
            or_(Run.locked_by.like(f"{from_prefix}%"), Run.locked_until.is_(None), Run.locked_until < now),
        )
        .values(locked_by=worker_id, locked_until=now + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def release(run: Run) -> None:
    """The run is no longer held (it waits, ended, or backs off)."""
    run.locked_by = None
    run.locked_until = None
