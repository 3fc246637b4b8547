"""RedisGuard: after a failure it answers None at once for a while instead of asking Redis;
a probing guard (the event log's) still lets one call at a time try Redis, so that the first
call after Redis is back succeeds and the data it carries is not dropped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from notes_bff.embedded import free_port
from notes_bff.metrics import Metrics
from notes_bff.redis_guard import RedisGuard


@pytest.fixture
async def nobody() -> AsyncIterator[Redis]:
    """A client of a port nothing listens on: every command fails (connection refused)."""
    client = Redis(port=free_port(), socket_connect_timeout=1, retry_on_error=[])
    yield client
    await client.aclose()


async def test_after_a_failure_calls_are_skipped(nobody: Redis) -> None:
    guard = RedisGuard("test", Metrics())
    assert await guard.call(nobody.ping) is None
    ran: list[str] = []

    async def succeed() -> str:
        ran.append("ran")
        return "ok"

    assert await guard.call(succeed) is None
    assert ran == []  # skipped, not tried
    assert not guard.available


async def test_a_probing_guard_tries_redis_again_and_its_success_ends_the_backoff(
    nobody: Redis,
) -> None:
    guard = RedisGuard("test", Metrics(), probe=True)
    assert await guard.call(nobody.ping) is None
    assert await guard.call(nobody.ping) is None  # tried again (a probe), failed again
    assert not guard.available

    async def succeed() -> str:
        return "ok"

    assert await guard.call(succeed) == "ok"  # Redis is back: the first call gets through
    assert guard.available


async def test_a_probing_guard_lets_one_call_at_a_time_try(nobody: Redis) -> None:
    guard = RedisGuard("test", Metrics(), probe=True)
    assert await guard.call(nobody.ping) is None
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "probe"

    async def succeed() -> str:
        return "other"

    probe = asyncio.create_task(guard.call(slow))
    await asyncio.sleep(0)
    assert await guard.call(succeed) is None  # a probe is in flight: skipped at once
    release.set()
    assert await probe == "probe"
    assert await guard.call(succeed) == "other"
