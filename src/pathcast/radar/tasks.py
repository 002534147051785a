"""Background work of the radar: poll due sources, analyse new items, route graded signals.

One daemon thread per process, woken every ``PATHCAST_RADAR_POLL_SECONDS``. Each source is
polled in its own transaction (``sources.poll_due``: a failing site marks only itself
unhealthy), then pending items are analysed and routed in batches, each batch one
transaction, so an analysis error leaves the stored items for the next round. With
several server processes, set the interval to 0 on all but one, or run
``pathcast radar poll`` from cron: routing is idempotent, but analysing twice reports twice.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from pathcast.auth.permissions import Actor
from pathcast.db import unit_of_work
from pathcast.radar.service import routing, signals, sources

logger = logging.getLogger("pathcast.radar")

ACTOR = Actor.system("radar")
BATCH = 200
# At most this many batches per round, so one huge backlog cannot hold the thread forever.
MAX_BATCHES = 25


@dataclass
class RoundReport:
    """What one round did: the polls, how many items were analysed, how many people notified."""

    polls: list[sources.PollReport] = field(default_factory=list)
    analysed: int = 0
    notified: int = 0


def analyse_and_route(
    url: str | None = None, *, batch: int = BATCH, max_batches: int = MAX_BATCHES
) -> tuple[int, int]:
    """Analyse pending items and route their signals, batch by batch; (analysed, notified)."""
    analysed = notified = 0
    for _ in range(max_batches):
        with unit_of_work(url) as session:
            ids = signals.pending_ids(session, limit=batch)
            if not ids:
                break
            done = signals.analyse_items(session, actor=ACTOR, item_ids=ids)
            routes = routing.route_pending(session, actor=ACTOR, item_ids=[item.id for item in done])
        analysed += len(done)
        notified += sum(len(route.notified) for route in routes)
    return analysed, notified


def run_once(url: str | None = None) -> RoundReport:
    """Poll every due source (each in its own transaction), then analyse and route."""
    report = RoundReport(polls=sources.poll_due(url))
    for poll in report.polls:
        if poll.failure:
            logger.warning("radar source %s: %s", poll.source, poll.failure)
    report.analysed, report.notified = analyse_and_route(url)
    return report


class RadarPoller:
    """A daemon thread that runs rounds until stopped."""

    def __init__(self, interval_seconds: float) -> None:
        self.interval_seconds = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pathcast-radar-poller", daemon=True)

    def start(self) -> None:
        """Start polling in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current round (waits at most 5 s)."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            try:
                run_once()
            except Exception:  # keep polling after a database hiccup; the log says why
                logger.exception("radar round failed")
