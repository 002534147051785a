"""How runs reach workers: directly in one process, or through Redis across many.

In-process (the default) every worker matches and claims for itself; the database
serialises them (the cursor row lock, ``SKIP LOCKED`` claims).

With ``PATHCAST_QUEUE_URL=redis://…`` one worker at a time is the *dispatcher*, elected
by a Redis lock (``SET key me NX PX ttl``, renewed by its holder with a compare-and-
extend script): it matches new events, behaviour and timers, leases due runs to the
queue (``locked_by = "queue:<dispatcher>"``) and pushes their ids onto a Redis list.
Every worker pops ids and takes the lease over from the queue with a conditional
UPDATE before executing, so a run pushed twice (a dispatcher re-queues runs whose
queue lease expired unclaimed) is still executed by one worker only. Redis only
carries work; the database stays the record of what was done.
"""

from __future__ import annotations

from typing import Protocol

import redis

QUEUE_PREFIX = "queue:"
DEFAULT_NAMESPACE = "pathcast:engine"

_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class RunQueue(Protocol):
    """What a worker needs from the transport."""

    distributed: bool

    def elect(self, worker_id: str, ttl_seconds: float) -> bool: ...
    def resign(self, worker_id: str) -> None: ...
    def push(self, run_ids: list[int]) -> None: ...
    def pop(self, timeout_seconds: float, limit: int) -> list[int]: ...


class LocalQueue:
    """One process: every worker is its own dispatcher and claims runs from the database."""

    distributed = False

    def elect(self, worker_id: str, ttl_seconds: float) -> bool:
        return True

    def resign(self, worker_id: str) -> None:
        return None

    def push(self, run_ids: list[int]) -> None:  # pragma: no cover - never called in-process
        raise RuntimeError("the in-process queue does not carry run ids")

    def pop(self, timeout_seconds: float, limit: int) -> list[int]:  # pragma: no cover
        return []


class QueueUnavailable(RuntimeError):
    """Redis could not be reached at the configured URL."""


class RedisQueue:
    """Run ids through a Redis list; the dispatcher elected by a Redis lock."""

    distributed = True

    def __init__(self, url: str, *, namespace: str = DEFAULT_NAMESPACE) -> None:
        self.url = url
        self.client = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5)
        self.lock_key = f"{namespace}:dispatcher"
        self.list_key = f"{namespace}:runs"
        self._extend = self.client.register_script(_EXTEND)
        self._release = self.client.register_script(_RELEASE)

    def check(self) -> None:
        """Fail with a clear message when Redis is not there."""
        try:
            self.client.ping()
        except redis.RedisError as error:
            raise QueueUnavailable(
                f"PATHCAST_QUEUE_URL={self.url} is set but Redis does not answer: {error}"
            ) from error

    def elect(self, worker_id: str, ttl_seconds: float) -> bool:
        """Become (or stay) the dispatcher for ``ttl_seconds``; False if another holds it."""
        ttl_ms = max(1, int(ttl_seconds * 1000))
        if self.client.set(self.lock_key, worker_id, nx=True, px=ttl_ms):
            return True
        return bool(self._extend(keys=[self.lock_key], args=[worker_id, ttl_ms]))

    def resign(self, worker_id: str) -> None:
        self._release(keys=[self.lock_key], args=[worker_id])

    def push(self, run_ids: list[int]) -> None:
        if run_ids:
            self.client.rpush(self.list_key, *[str(run_id) for run_id in run_ids])

    def pop(self, timeout_seconds: float, limit: int) -> list[int]:
        """Up to ``limit`` ids: wait up to ``timeout_seconds`` for the first (0: do not wait),
        take the rest if there."""
        ids: list[int] = []
        if timeout_seconds > 0:
            first = self.client.blpop([self.list_key], timeout=timeout_seconds)
            if first is None:
                return []
            ids.append(int(first[1]))
        while len(ids) < limit:
            more = self.client.lpop(self.list_key)
            if not isinstance(more, bytes | str):
                break
            ids.append(int(more))
        return ids

    def clear(self) -> None:
        """Forget queued ids and the dispatcher lock (tests)."""
        self.client.delete(self.list_key, self.lock_key)


def queue_for(url: str | None, *, namespace: str = DEFAULT_NAMESPACE) -> RunQueue:
    """The transport a queue URL names: Redis for ``redis://``/``rediss://``, else in-process."""
    if url and url.startswith(("redis://", "rediss://", "unix://")):
        queue = RedisQueue(url, namespace=namespace)
        queue.check()
        return queue
    return LocalQueue()
