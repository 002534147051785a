"""Background work of signals: polling IMAP mailboxes while the server runs.

One daemon thread per process, woken every ``PATHCAST_POLL_INTERVAL_SECONDS``; each
connector is polled in its own unit of work so one failure leaves the others' mail
stored. With several server processes, polling from each is harmless (idempotency
keys) but wasteful: set the interval to 0 on all but one, or run
``pathcast signals poll`` from cron.
"""

from __future__ import annotations

import logging
import threading

from pathcast.db import unit_of_work
from pathcast.signals.service import polling

logger = logging.getLogger("pathcast.signals")


def poll_all_once() -> list[polling.PollReport]:
    """Poll every active e-mail connector once, each in its own transaction."""
    with unit_of_work(write=False) as session:
        ids = [connector.id for connector in polling.email_connectors(session)]
    reports = []
    for connector_id in ids:
        with unit_of_work() as session:
            connector = session.get(polling.m.Connector, connector_id)
            if connector is None or not connector.is_active:
                continue
            report = polling.poll_email_connector(session, connector=connector)
        if report.failure:
            logger.warning("mail connector %s: %s", report.connector, report.failure)
        reports.append(report)
    return reports


class Poller:
    """A daemon thread that polls until stopped."""

    def __init__(self, interval_seconds: float) -> None:
        self.interval_seconds = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pathcast-mail-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            try:
                poll_all_once()
            except Exception:  # keep polling after a database hiccup; the log says why
                logger.exception("mail polling failed")
