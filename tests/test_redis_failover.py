"""A Sentinel failover while the server runs: rate limits and persisted queries go on, on the
promoted replica, without a restart or a configuration change; subscribers on two instances
get every event once, in order."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from notes_bff.persisted.store import APQ_PREFIX, sha256_hex
from tests.conftest import Api
from tests.redis_topologies import PASSWORD, SENTINEL_MASTER, Deployment
from tests.subscriptions_helpers import live_through

pytestmark = pytest.mark.redis_sentinel
ME = "{ me { id } }"
FAILOVER_TIMEOUT_S = 60
FAILOVER_RETRY_S = 12  # the Sentinels' failover-timeout (10 s), and some


async def _role(port: int) -> str:
    client = Redis(port=port, password=PASSWORD, socket_timeout=5)
    try:
        info = await client.info("replication")
    finally:
        await client.aclose()
    synced = info["role"] == "master" or info.get("master_link_status") == "up"
    return str(info["role"]) if synced else "syncing"


async def _fail_over(deployment: Deployment, to: int) -> None:
    """Have the Sentinels promote the server on port ``to``; wait until both servers agree.

    A forced failover that does not promote within the Sentinels' ``failover-timeout`` (10 s;
    seen on a loaded machine) is aborted by them: it is asked for again while the master they
    name is still another server."""
    sentinel = Redis(port=deployment.watchers[0].port, socket_timeout=5)
    loop = asyncio.get_running_loop()
    deadline, next_ask = loop.time() + FAILOVER_TIMEOUT_S, loop.time()
    try:
        others = [s.port for s in deployment.servers if s.port != to]
        while loop.time() < deadline:
            _, port = await sentinel.sentinel_get_master_addr_by_name(SENTINEL_MASTER)
            if int(port) != to and loop.time() >= next_ask:
                with contextlib.suppress(ResponseError):  # INPROG: one is under way
                    await sentinel.execute_command("SENTINEL", "FAILOVER", SENTINEL_MASTER)
                next_ask = loop.time() + FAILOVER_RETRY_S
            elif int(port) == to:
                roles = [await _role(p) for p in others]
                if await _role(to) == "master" and set(roles) == {"slave"}:
                    return
            await asyncio.sleep(0.2)
    finally:
        await sentinel.aclose()
    raise AssertionError(f"no failover to {to} in {FAILOVER_TIMEOUT_S} s")


async def _register(api: Api, query: str) -> dict[str, Any]:
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}
    resp = await api.client.post("/graphql", json={"query": query, "extensions": extensions})
    return dict(await resp.json())


async def test_rate_limits_and_persisted_queries_survive_a_failover(
    redis_sentinel: Deployment, other_app: Callable[..., AbstractAsyncContextManager[Api]]
) -> None:
    primary, replica = redis_sentinel.servers
    budget = {"rate_limit_anonymous_points": 10, "rate_limit_period_seconds": 3600}
    async with other_app(**redis_sentinel.settings, **budget) as api:
        before = f"query Before {{ a{uuid.uuid4().hex[:8]}: me {{ id }} }}"
        assert "errors" not in await _register(api, before)
        left = int((await api.gql(ME)).headers["X-RateLimit-Remaining"])
        await _fail_over(redis_sentinel, to=replica.port)
        try:
            # The budget moved with the data and is spent on the new primary (the per-process
            # fallback would have started a fresh one).
            reply = await api.gql(ME)
            assert (reply.status, int(reply.headers["X-RateLimit-Remaining"])) == (200, left - 1)
            after = f"query After {{ a{uuid.uuid4().hex[:8]}: me {{ id }} }}"
            assert "errors" not in await _register(api, after)
            statuses = [(await api.gql(ME)).status for _ in range(left)]
            assert statuses[-1] == 429
            new_primary = Redis(port=replica.port, password=PASSWORD, socket_timeout=5)
            try:
                assert await new_primary.get(APQ_PREFIX + sha256_hex(after)) == after.encode()
                assert await new_primary.get(APQ_PREFIX + sha256_hex(before)) == before.encode()
            finally:
                await new_primary.aclose()
            ready = await (await api.client.get("/readyz")).json()
            assert ready["status"] == "ready", ready
        finally:
            await _fail_over(redis_sentinel, to=primary.port)  # as the other tests expect it


async def test_subscribers_on_two_instances_get_every_event_once_through_a_failover(
    redis_sentinel: Deployment, other_app: Callable[..., AbstractAsyncContextManager[Api]]
) -> None:
    primary, replica = redis_sentinel.servers
    async with (
        other_app(**redis_sentinel.settings) as first,
        other_app(**redis_sentinel.settings) as second,
    ):
        owner = await first.sign_up("Owner")
        ws = await first.workspace(owner)
        try:
            await live_through(
                first, owner, ws, [first, second], lambda: _fail_over(redis_sentinel, replica.port)
            )
        finally:
            await _fail_over(redis_sentinel, to=primary.port)  # as the other tests expect it
