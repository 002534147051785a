"""Rate limits: in-process by default, shared through the real Redis when configured."""

from __future__ import annotations

import uuid

import pytest
import redis

from pathcast.signals.ratelimit import MemoryRateLimiter, RedisRateLimiter

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError as error:
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL} ({error}); start it with "
            "`redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no`",
            pytrace=False,
        )
    return REDIS_URL


def test_memory_limiter_allows_up_to_the_limit() -> None:
    limiter = MemoryRateLimiter()
    assert [limiter.hit("site:a", 3) for _ in range(3)] == [None, None, None]
    retry = limiter.hit("site:a", 3)
    assert retry is not None and 1 <= retry <= 60
    assert limiter.hit("site:b", 3) is None


def test_redis_limiter_is_shared_between_processes(redis_url: str) -> None:
    key = f"site:{uuid.uuid4().hex}"
    first, second = RedisRateLimiter(redis_url), RedisRateLimiter(redis_url)
    assert first.hit(key, 2) is None
    assert second.hit(key, 2) is None
    assert first.hit(key, 2) is not None
