"""The automation engine: from facts to durable runs, and runs to effects, each exactly where it should be.

- ``matcher``: the pure rule index (event → candidate fires in O(matching rules)) and conditions.
- ``outbox``: the event log read after a persisted cursor, runs created with the cursor move.
- ``behaviour``: view/hit windows kept incrementally from the signals tables.
- ``schedule``: cron timers with the next fire time persisted.
- ``fire``: a match made durable (run, steps, ``automation.rule_fired``).
- ``runner``: leases, one step per transaction, retries with backoff, waits, human steps.
- ``queue``: in-process, or Redis-distributed across worker processes.
- ``worker``: the loop (``run_worker``), the in-process thread, the CLI entry.
- ``dryrun``: replay history through the same matcher, writing nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathcast.automation.engine.dryrun import DryRunFire, dry_run
    from pathcast.automation.engine.worker import Engine, EngineThread, run_worker

__all__ = ["DryRunFire", "Engine", "EngineThread", "dry_run", "run_worker"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing one engine module (the inbox imports ``runner``) does not
    # pull in the worker and its event hooks.
    if name in ("dry_run", "DryRunFire"):
        from pathcast.automation.engine import dryrun

        return getattr(dryrun, name)
    if name in ("run_worker", "Engine", "EngineThread"):
        from pathcast.automation.engine import worker

        return getattr(worker, name)
    raise AttributeError(name)
