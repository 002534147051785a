"""Background work of the forecast: the periodic refresh while the server runs.

One daemon thread per process: first a few seconds after start (so a fresh demo gets its
first model, scores and distributions within a minute), then every
``PATHCAST_FORECAST_REFRESH_SECONDS``. With several server processes set it to 0 on all
but one, or run ``pathcast forecast refresh`` from cron.
"""

from __future__ import annotations

import logging
import threading

from pathcast.forecast.service.refresh import refresh

logger = logging.getLogger("pathcast.forecast")
FIRST_DELAY_SECONDS = 5.0


class Refresher:
    """A daemon thread that refreshes the forecast until stopped."""

    def __init__(self, interval_seconds: float) -> None:
        self.interval_seconds = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pathcast-forecast", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        delay = min(FIRST_DELAY_SECONDS, self.interval_seconds)
        while not self._stop.wait(delay):
            delay = self.interval_seconds
            try:
                refresh()
            except Exception:  # keep refreshing after a database hiccup; the log says why
                logger.exception("forecast refresh failed")
