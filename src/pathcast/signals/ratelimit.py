"""Per-site request limits for the public collect endpoint.

A fixed one-minute window: in-process by default, in Redis when ``PATHCAST_QUEUE_URL``
points at one, so several worker processes share the count.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Protocol

from pathcast.config import get_settings


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int) -> int | None:
        """Count one request; return None when allowed, else seconds until the window resets."""


class MemoryRateLimiter:
    """Counts per key and minute in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}

    def hit(self, key: str, limit: int) -> int | None:
        now = time.time()
        window = int(now // 60)
        with self._lock:
            if len(self._counts) > 10_000:
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
            count = self._counts.get((key, window), 0) + 1
            self._counts[(key, window)] = count
        if count > limit:
            return max(1, int(60 - now % 60))
        return None


class RedisRateLimiter:
    """Counts per key and minute in Redis (INCR + EXPIRE in one round trip)."""

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url)

    def hit(self, key: str, limit: int) -> int | None:
        now = time.time()
        window = int(now // 60)
        name = f"pathcast:ratelimit:{key}:{window}"
        pipe = self._client.pipeline()
        pipe.incr(name)
        pipe.expire(name, 120)
        count = int(pipe.execute()[0])
        if count > limit:
            return max(1, int(60 - now % 60))
        return None


@lru_cache
def get_rate_limiter() -> RateLimiter:
    """The process's limiter, chosen by configuration."""
    url = get_settings().queue_url
    if url and url.startswith(("redis://", "rediss://", "unix://")):
        return RedisRateLimiter(url)
    return MemoryRateLimiter()
