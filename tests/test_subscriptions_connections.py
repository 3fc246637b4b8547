"""Websocket connections: compression negotiated only when configured, caps on subscriptions
and on connections per user (counted across processes, and without Redis), shutdown."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from notes_bff import redis_client
from notes_bff.config import Settings
from notes_bff.embedded import EmbeddedProcess
from notes_bff.keys import REALTIME
from tests.conftest import Api
from tests.redis_topologies import Deployment
from tests.subscriptions_helpers import EVENTS, graphql_url, team
from tests.ws import TRANSPORT_WS, Closed, GraphQLSocket

pytestmark = pytest.mark.redis_topologies


async def test_websocket_compression_is_negotiated_only_when_configured(
    api: Api, other_app: Any
) -> None:
    async def negotiated(client_api: Api) -> int:
        async with client_api.client.session.ws_connect(
            graphql_url(client_api), protocols=[TRANSPORT_WS], compress=15
        ) as ws:
            return ws.compress

    assert await negotiated(api) == 0
    async with other_app(ws_compression=True) as compressed:
        assert await negotiated(compressed) == 15


async def test_caps_on_subscriptions_and_connections(other_app: Any) -> None:
    async with other_app(max_subscriptions_per_connection=2, max_connections_per_user=2) as api:
        owner, ws = await team(api)
        first = await GraphQLSocket.open(api.client.session, graphql_url(api), token=owner["token"])
        ops = [await first.subscribe(EVENTS, {"w": ws}) for _ in range(3)]
        refused = await first.next(ops[2])
        assert refused["errors"][0]["message"].startswith("Subscription limit reached: at most 2")
        assert refused["errors"][0]["extensions"] == {"code": "RATE_LIMITED", "retryAfter": 1}
        second = await GraphQLSocket.open(
            api.client.session, graphql_url(api), token=owner["token"]
        )
        with pytest.raises(Closed) as third:
            await GraphQLSocket.open(api.client.session, graphql_url(api), token=owner["token"])
        assert third.value.code == 4429
        await second.close()
        await asyncio.sleep(0.2)  # a closed connection frees its slot
        again = await GraphQLSocket.open(api.client.session, graphql_url(api), token=owner["token"])
        await again.close()
        await first.close()


async def test_the_connection_cap_counts_every_process_and_forgets_crashed_ones(
    api: Api, other_app: Any, settings: Settings
) -> None:
    owner = await api.sign_up("Busy")
    redis = redis_client.connect(settings, name="tests")
    key = f"notes-bff:connections:{owner['id']}"
    try:
        # A connection of a worker that died: no longer renewed, it has expired.
        await redis.zadd(key, {"dead-connection": time.time() - 5})
        elsewhere = await GraphQLSocket.open(
            api.client.session, graphql_url(api), token=owner["token"]
        )
        async with other_app(max_connections_per_user=2) as here:
            session, url = here.client.session, graphql_url(here)
            first = await GraphQLSocket.open(session, url, token=owner["token"])
            with pytest.raises(Closed) as refused:  # one here and one in the other process
                await GraphQLSocket.open(session, url, token=owner["token"])
            assert refused.value.code == 4429
            await elsewhere.close()
            await asyncio.sleep(0.2)  # the other process gave its slot back
            second = await GraphQLSocket.open(session, url, token=owner["token"])
            await second.close()
            await first.close()
            await asyncio.sleep(0.2)
        assert await redis.zcard(key) == 0  # every slot released, the dead one dropped
    finally:
        await redis.aclose()


async def test_renewed_connection_slots_stay_taken(api: Api, settings: Settings) -> None:
    slots = api.client.server.app[REALTIME].connections
    user = (await api.sign_up("Renewed"))["id"]
    redis = redis_client.connect(settings, name="tests")
    key = f"notes-bff:connections:{user}"
    try:
        assert await slots.acquire(user, "tab-1", 1)
        expiry = await redis.zscore(key, "tab-1")
        await asyncio.sleep(0.05)
        await slots.renew({"tab-1": user})  # what each process does every 15 s
        assert (await redis.zscore(key, "tab-1") or 0) > (expiry or 0)
        assert not await slots.acquire(user, "tab-2", 1)
        await slots.release(user, "tab-1")
        assert await slots.acquire(user, "tab-2", 1)
    finally:
        await redis.delete(key)
        await redis.aclose()


async def test_without_redis_the_connection_cap_counts_this_process(
    other_app: Any, redis_server: EmbeddedProcess | Deployment
) -> None:
    async with other_app(max_connections_per_user=1) as api:
        owner = await api.sign_up("Offline")
        session, url = api.client.session, graphql_url(api)
        redis_server.stop()
        try:
            first = await GraphQLSocket.open(session, url, token=owner["token"])
            with pytest.raises(Closed) as refused:
                await GraphQLSocket.open(session, url, token=owner["token"])
            assert refused.value.code == 4429
            await first.close()
        finally:
            redis_server.start()


async def test_shutdown_closes_websockets_with_going_away(other_app: Any) -> None:
    async with other_app() as api:
        owner, ws = await team(api)
        live = await GraphQLSocket.open(api.client.session, graphql_url(api), token=owner["token"])
        op = await live.subscribe(EVENTS, {"w": ws})
        closing = asyncio.create_task(api.client.server.close())
        with pytest.raises(Closed) as going:
            await live.next(op, timeout=10)
        await closing
    assert going.value.code == 1001
