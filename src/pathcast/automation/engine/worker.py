"""The engine's loop: match new facts into runs, then execute due runs, until stopped.

In-process by default: ``pathcast.app`` starts one :class:`EngineThread` beside the web
server, woken at once by any commit in that process that appended events (and every
``PATHCAST_ENGINE_POLL_SECONDS`` otherwise, for writes from other processes). Run more
workers with ``python -m pathcast.automation.engine`` (``pathcast rules worker``); with
``PATHCAST_QUEUE_URL=redis://…`` they share the work through Redis (see ``queue``).

Each tick starts with a read-only look at whether there is anything to do, so an idle
worker never takes SQLite's write lock.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from pathcast.automation.engine import behaviour, outbox, runner, schedule
from pathcast.automation.engine.catalog import IndexCache
from pathcast.automation.engine.queue import DEFAULT_NAMESPACE, QUEUE_PREFIX, RunQueue, queue_for
from pathcast.automation.models import EngineCursor, Run
from pathcast.config import get_settings
from pathcast.db import unit_of_work, utcnow
from pathcast.events import EventDraft, react_to

logger = logging.getLogger("pathcast.automation")

Clock = Callable[[], datetime]
MAX_BATCHES_PER_TICK = 20
MAX_STEPS_PER_CLAIM = 100
CLAIM_LIMIT = 20
# How long a dispatcher's term lasts without renewal (it renews every round): when it dies,
# another worker takes over matching within this time.
DISPATCHER_TERM_SECONDS = 15.0
WAKE_KEY = "pathcast.engine.wake"

# Set after any commit in this process that appended a non-engine event.
_WAKE = threading.Event()


# The engine's own bookkeeping; anything else (a decision in the inbox too) may make work.
QUIET_TYPES = frozenset(
    {"automation.rule_fired", "automation.step_done", "automation.step_failed", "automation.run_finished"}
)


@react_to("")
def _note_new_events(session: Session, draft: EventDraft) -> None:
    if draft.type not in QUIET_TYPES:
        session.info[WAKE_KEY] = True


@sa_event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    if session.info.pop(WAKE_KEY, False):
        _WAKE.set()


@sa_event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous_transaction: Any) -> None:
    session.info.pop(WAKE_KEY, None)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class TickReport:
    events: int = 0
    runs_created: int = 0
    runs_claimed: int = 0
    steps: int = 0
    executed: list[int] = field(default_factory=list)

    @property
    def work(self) -> int:
        return self.runs_created + self.runs_claimed + self.steps + (1 if self.events else 0)


class Engine:
    """One worker: matching (when it is the dispatcher) and executing. Thread-confined."""

    def __init__(
        self,
        url: str | None = None,
        *,
        worker_id: str | None = None,
        clock: Clock = utcnow,
        lease_seconds: float | None = None,
        queue: RunQueue | None = None,
        poll_seconds: float | None = None,
    ) -> None:
        settings = get_settings()
        self.url = url
        self.worker_id = worker_id or default_worker_id()
        self.clock = clock
        self.lease_seconds = lease_seconds if lease_seconds is not None else settings.engine_lease_seconds
        self.poll_seconds = poll_seconds if poll_seconds is not None else settings.engine_poll_seconds
        self.queue = queue or queue_for(settings.queue_url)
        self.cache = IndexCache()

    # what there is to do, read-only

    def has_matching_work(self) -> bool:
        now = self.clock()
        with unit_of_work(self.url, write=False) as session:
            index = self.cache.get(session)
            if index.behaviour:
                return True
            if index.schedules:
                wanted = {schedule.cursor_name(rule): rule.enabled_from_event_id for rule in index.schedules}
                cursors = {
                    name: (position, at)
                    for name, position, at in session.execute(
                        select(EngineCursor.name, EngineCursor.position, EngineCursor.position_at).where(
                            EngineCursor.name.in_(list(wanted))
                        )
                    )
                }
                for name, enabled_from in wanted.items():
                    position, at = cursors.get(name, (None, None))
                    if position != enabled_from or at is None or at <= now:
                        return True
            if not index.event_rules():
                return False
            position = session.scalar(
                select(EngineCursor.position).where(EngineCursor.name == outbox.EVENTS_CURSOR)
            )
            return outbox.head_position(session) > (position or 0)

    def has_due_runs(self) -> bool:
        now = self.clock()
        with unit_of_work(self.url, write=False) as session:
            return bool(
                session.scalar(
                    select(
                        exists().where(
                            Run.status.in_(runner.ACTIVE),
                            Run.next_attempt_at <= now,
                            or_(Run.locked_until.is_(None), Run.locked_until < now),
                        )
                    )
                )
            )

    # matching

    def match(self, report: TickReport) -> None:
        """Match events, behaviour and timers into runs, each batch in its own transaction."""
        if not self.has_matching_work():
            return
        for _ in range(MAX_BATCHES_PER_TICK):
            with unit_of_work(self.url) as session:
                result = outbox.match_batch(session, index_for=self.cache.get, now=self.clock())
            report.events += result.events
            report.runs_created += result.runs
            if result.caught_up:
                break
        with unit_of_work(self.url, write=False) as session:
            index = self.cache.get(session)
        if not (index.behaviour or index.schedules):
            return  # nothing else listens: no write transaction for nothing
        with unit_of_work(self.url) as session:
            index = self.cache.get(session)
            report.runs_created += behaviour.process_behaviour(session, index=index, now=self.clock())
            report.runs_created += schedule.fire_due_schedules(session, index=index, now=self.clock())

    # executing

    def claim(self, owner: str, *, surely_due: bool = False) -> list[int]:
        if not surely_due and not self.has_due_runs():
            return []
        with unit_of_work(self.url) as session:
            return runner.claim_due(
                session,
                worker_id=owner,
                now=self.clock(),
                lease_seconds=self.lease_seconds,
                limit=CLAIM_LIMIT,
            )

    def drive(self, run_id: int) -> int:
        """Execute a leased run step after step until it waits, ends, or is lost; steps taken."""
        steps = 0
        while steps < MAX_STEPS_PER_CLAIM:
            try:
                with unit_of_work(self.url) as session:
                    result = runner.step_run(
                        session,
                        run_id=run_id,
                        worker_id=self.worker_id,
                        now=self.clock(),
                        lease_seconds=self.lease_seconds,
                    )
            except Exception as error:  # an adapter or a bug: the step rolled back; count and back off
                logger.exception("automation run %s: step failed", run_id)
                with unit_of_work(self.url) as session:
                    runner.record_crash(
                        session, run_id=run_id, worker_id=self.worker_id, now=self.clock(), error=error
                    )
                return steps + 1
            if result == "lost":
                return steps
            steps += 1
            if result == "yield":
                return steps
        return steps

    def take_over(self, run_id: int) -> bool:
        with unit_of_work(self.url) as session:
            return runner.take_over(
                session,
                run_id=run_id,
                worker_id=self.worker_id,
                now=self.clock(),
                lease_seconds=self.lease_seconds,
                from_prefix=QUEUE_PREFIX,
            )

    def tick(self, *, pop_timeout: float = 0.0) -> TickReport:
        """One round: match (if dispatcher), then execute what is due (or what the queue hands over)."""
        report = TickReport()
        dispatcher = self.queue.elect(self.worker_id, ttl_seconds=DISPATCHER_TERM_SECONDS)
        if dispatcher:
            self.match(report)
            if report.runs_created:
                runner.fault("after_match")
        if not self.queue.distributed:
            for run_id in self.claim(self.worker_id, surely_due=report.runs_created > 0):
                report.runs_claimed += 1
                report.steps += self.drive(run_id)
                report.executed.append(run_id)
            return report
        if dispatcher:
            queued = self.claim(f"{QUEUE_PREFIX}{self.worker_id}")
            self.queue.push(queued)
            report.runs_claimed += len(queued)
        # One id at a time, each executed before the next is taken: a worker that pops ahead
        # would hold runs that an idle worker could be doing.
        popped = self.queue.pop(pop_timeout, 1)
        for _ in range(CLAIM_LIMIT):
            if not popped:
                break
            run_id = popped[0]
            if self.take_over(run_id):
                report.steps += self.drive(run_id)
                report.executed.append(run_id)
            popped = self.queue.pop(0, 1)
        return report


def run_worker(
    stop_event: threading.Event | None = None,
    once_until_idle: bool = False,
    *,
    url: str | None = None,
    queue_url: str | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    poll_seconds: float | None = None,
    lease_seconds: float | None = None,
    clock: Clock = utcnow,
    worker_id: str | None = None,
    idle_ticks: int = 1,
    on_tick: Callable[[TickReport], None] | None = None,
) -> list[int]:
    """Run the engine until ``stop_event`` is set (or, with ``once_until_idle``, until
    ``idle_ticks`` rounds in a row found nothing to do). Returns the ids of the runs it executed."""
    settings = get_settings()
    stop = stop_event or threading.Event()
    queue = queue_for(queue_url if queue_url is not None else settings.queue_url, namespace=namespace)
    engine = Engine(
        url,
        worker_id=worker_id,
        clock=clock,
        lease_seconds=lease_seconds,
        queue=queue,
        poll_seconds=poll_seconds,
    )
    poll = engine.poll_seconds or 1.0
    executed: list[int] = []
    idle = 0
    try:
        while not stop.is_set():
            try:
                report = engine.tick(pop_timeout=poll if queue.distributed else 0.0)
            except Exception:  # the database was away: log, wait, try again
                logger.exception("automation worker tick failed")
                report = TickReport()
            executed.extend(report.executed)
            if on_tick is not None:
                on_tick(report)
            if report.work:
                idle = 0
                continue
            idle += 1
            if once_until_idle and idle >= idle_ticks:
                break
            if not queue.distributed:
                _WAKE.wait(poll)
                _WAKE.clear()
    finally:
        queue.resign(engine.worker_id)
    return executed


class EngineThread:
    """The in-process worker: a daemon thread beside the web server."""

    def __init__(self, poll_seconds: float, url: str | None = None) -> None:
        self.poll_seconds = poll_seconds
        self.url = url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pathcast-automation", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        _WAKE.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            run_worker(self._stop, url=self.url, poll_seconds=self.poll_seconds)
        except Exception:  # e.g. PATHCAST_QUEUE_URL names a Redis that is down: say so loudly
            logger.exception("the automation engine stopped; rules will not run in this process")


def main(argv: list[str] | None = None) -> int:
    """``python -m pathcast.automation.engine.worker``: one worker process."""
    parser = argparse.ArgumentParser(description="Run the Pathcast automation engine worker.")
    parser.add_argument("--once-until-idle", action="store_true", help="exit once nothing is left to do")
    parser.add_argument("--idle-ticks", type=int, default=1, help="idle rounds in a row before exiting")
    parser.add_argument("--database-url", help="default: PATHCAST_DATABASE_URL")
    parser.add_argument("--queue-url", help="default: PATHCAST_QUEUE_URL (redis://… to share work)")
    parser.add_argument("--namespace", default=DEFAULT_NAMESPACE, help="Redis key prefix")
    parser.add_argument("--poll-seconds", type=float)
    parser.add_argument("--lease-seconds", type=float)
    parser.add_argument("--worker-id")
    parser.add_argument("--report", action="store_true", help="print a JSON line with the runs executed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    ready = False

    def announce(report: TickReport) -> None:
        # The first round is done: tell a parent process that waits for readiness.
        nonlocal ready
        if args.report and not ready:
            ready = True
            sys.stdout.write(json.dumps({"ready": True}) + "\n")
            sys.stdout.flush()

    executed = run_worker(
        stop,
        once_until_idle=args.once_until_idle,
        url=args.database_url,
        queue_url=args.queue_url,
        namespace=args.namespace,
        poll_seconds=args.poll_seconds,
        lease_seconds=args.lease_seconds,
        worker_id=args.worker_id,
        idle_ticks=args.idle_ticks,
        on_tick=announce,
    )
    if args.report:
        sys.stdout.write(json.dumps({"worker_id": args.worker_id, "executed": executed}) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
