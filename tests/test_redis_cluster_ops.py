"""Operating a Redis Cluster under a running server: moving the slot of a workspace's event
log (and of its shard channel) to another primary (resharding) loses no live event: the
broker subscribes again on the new owner and closes the gap from the log; and the log loses
nothing: a resume finds every event, also one written while the source answers ASK. A primary
that stops is replaced by its replica: subscribers on two instances get every event once, rate
limits and APQ go on."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, cast

import pytest
from redis.asyncio import Redis, RedisCluster
from redis.crc import key_slot

from notes_bff import redis_client
from notes_bff.embedded import EmbeddedProcess
from notes_bff.keys import REDIS
from notes_bff.persisted.store import sha256_hex
from notes_bff.realtime.event_log import stream_key
from notes_bff.redis_guard import BACKOFF_S
from tests.conftest import Api, make_settings
from tests.redis_topologies import PASSWORD, Deployment, SlotMove
from tests.subscriptions_helpers import EVENTS, live_through, socket
from tests.ws import GraphQLSocket

pytestmark = pytest.mark.redis_cluster


TITLES = ["before", "migrating", "moved", "after"]


def _order(event_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in event_id.split("-"))


async def test_a_slot_migration_loses_no_live_event(
    redis_cluster: Deployment, other_app: Callable[..., AbstractAsyncContextManager[Api]]
) -> None:
    async with other_app(**redis_cluster.settings) as api:
        owner = await api.sign_up("Owner")
        ws = await api.workspace(owner)
        move = SlotMove(redis_cluster, key_slot(stream_key(ws).encode()))
        async with socket(api, owner["token"]) as live:
            op = await live.subscribe(EVENTS, {"w": ws})
            # The subscription is live once an event reaches it (not after a fixed pause).
            warm: dict[str, Any] = {}
            for attempt in range(20):
                await api.note(owner, ws, title=f"warm-up {attempt}")
                with contextlib.suppress(TimeoutError):
                    warm = (await live.next(op, timeout=0.5))["data"]["workspaceEvents"]
                    break
            await api.note(owner, ws, title="before")
            await move.begin()
            await api.note(owner, ws, title="migrating")  # the log is still on the source
            assert await move.move_keys() == 1
            await api.note(owner, ws, title="moved")  # the source answers ASK
            await move.finish()
            await api.note(owner, ws, title="after")  # the source answers MOVED
            live_titles = await _titles_until_quiet(live, op)
        # Live delivery goes on through the move: every event, in order, once…
        assert live_titles == TITLES
        # …and nothing is missing from the log: a resume finds every event, in order, once.
        async with socket(api, owner["token"]) as again:
            op = await again.subscribe(EVENTS, {"w": ws, "after": warm["eventId"]})
            resumed: list[dict[str, Any]] = []
            while len(resumed) < len(TITLES):
                event = (await again.next(op))["data"]["workspaceEvents"]
                if not event["note"]["title"].startswith("warm-up"):
                    resumed.append(event)
        assert [e["note"]["title"] for e in resumed] == TITLES
        ids = [e["eventId"] for e in resumed]
        assert ids == sorted(set(ids), key=_order)


async def test_an_event_written_while_its_slot_answers_ask_is_logged(
    redis_cluster: Deployment, other_app: Callable[..., AbstractAsyncContextManager[Api]]
) -> None:
    """While the log's keys sit on the target of a migration, the source answers ASK; the
    append still lands on the target, also when the server's client holds several free
    connections to it, as any busy server does (redis-py 8.1 then sent ASKING on one and the
    script on another: MOVED, `TTL exhausted`, the event lost and the write answering
    INTERNAL_SERVER_ERROR; docs/operations.md, "redis-py 8.1 and `ASK`")."""
    async with other_app(**redis_cluster.settings) as api:
        owner = await api.sign_up("Owner")
        ws = await api.workspace(owner)
        await api.note(owner, ws, title="before")
        key = stream_key(ws)
        redis = cast("RedisCluster", api.client.app[REDIS])
        logged = await redis.xlen(key)
        move = SlotMove(redis_cluster, key_slot(key.encode()))
        await move.begin()
        try:
            assert await move.move_keys() == 1
            node = redis.get_node(host="127.0.0.1", port=move.target.port)
            assert node is not None
            # Commands in flight together open more connections to the target.
            await asyncio.gather(*(redis.ping(target_nodes=node) for _ in range(4)))
            await api.note(owner, ws, title="asked")  # the source answers ASK
        finally:
            await move.finish()
        assert await redis.xlen(key) == logged + 1


async def _titles_until_quiet(live: GraphQLSocket, op: str) -> list[str]:
    """The titles of the test's events delivered live until none comes for 2 s."""
    titles: list[str] = []
    with contextlib.suppress(TimeoutError):
        while True:
            event = (await live.next(op, timeout=2.0))["data"]["workspaceEvents"]
            if not event["note"]["title"].startswith("warm-up"):
                titles.append(event["note"]["title"])
    return titles


ME = "{ me { id } }"
FAILOVER_TIMEOUT_S = 60


async def _owner_of(deployment: Deployment, slot: int, asked: int) -> int:
    """The port of the primary serving ``slot``, as the node on port ``asked`` sees it."""
    client = Redis(port=asked, password=PASSWORD, socket_timeout=5)
    try:
        if (await client.cluster("INFO"))["cluster_state"] != "ok":
            return 0
        for start, end, primary, *_ in await client.execute_command("CLUSTER", "SLOTS"):
            if start <= slot <= end:
                return int(primary[1])
    finally:
        await client.aclose()
    return 0


async def _replica_synced(port: int) -> bool:
    client = Redis(port=port, password=PASSWORD, socket_timeout=5)
    try:
        return (await client.info("replication")).get("master_link_status") == "up"
    finally:
        await client.aclose()


async def test_a_stopped_primary_is_replaced_and_subscribers_miss_nothing(
    redis_cluster_replicas: Deployment,
    other_app: Callable[..., AbstractAsyncContextManager[Api]],
) -> None:
    deployment = redis_cluster_replicas
    settings = {**deployment.settings, "rate_limit_anonymous_points": 100}
    async with other_app(**settings) as first, other_app(**settings) as second:
        owner = await first.sign_up("Owner")
        ws = await first.workspace(owner)
        slot = key_slot(stream_key(ws).encode())
        masters = {s.port: s for s in deployment.servers[:3]}
        observer = next(iter(masters))
        failed = masters[await _owner_of(deployment, slot, observer)]
        observer = next(port for port in masters if port != failed.port)
        for replica in deployment.servers[3:]:
            for _ in range(100):
                if await _replica_synced(replica.port):
                    break
                await asyncio.sleep(0.1)
        left = int((await first.gql(ME)).headers["X-RateLimit-Remaining"])

        async def stop_the_primary() -> None:
            failed.stop()
            for _ in range(FAILOVER_TIMEOUT_S * 5):
                if await _owner_of(deployment, slot, observer) not in (0, failed.port):
                    return
                await asyncio.sleep(0.2)
            raise AssertionError(f"no replica took over in {FAILOVER_TIMEOUT_S} s")

        await live_through(first, owner, ws, [first, second], stop_the_primary)
        # The rate-limit budget moved with the data (no per-process fallback's fresh one),
        # and persisted queries register and are found on the promoted replica. Their
        # guards skip Redis (per-process fallbacks) for BACKOFF_S after their last failure,
        # which may have come at the end of the failover: wait that out.
        await asyncio.sleep(BACKOFF_S)
        reply = await first.gql(ME)
        assert (reply.status, int(reply.headers["X-RateLimit-Remaining"])) == (200, left - 1)
        query = f"query After {{ a{uuid.uuid4().hex[:8]}: me {{ id }} }}"
        extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}
        registered = await first.client.post(
            "/graphql", json={"query": query, "extensions": extensions}
        )
        assert "errors" not in await registered.json()
        found = await second.client.post("/graphql", json={"extensions": extensions})
        assert "errors" not in await found.json()  # the second one never saw the text


async def test_connections_closed_by_other_tasks_fail_no_concurrent_pipeline(
    redis_cluster: Deployment, servers: dict[str, EmbeddedProcess], tmp_path: Path
) -> None:
    """A burst of pipelines across slots on one Cluster client while other tasks close its
    connections, as redis-py does on a MOVED (``RedisCluster.aclose()`` every
    ``reinitialize_steps`` redirections) or a failed command
    (``ClusterNode.disconnect_free_connections``): no pipeline fails (docs/operations.md,
    "Connection bursts on a Cluster")."""
    settings = make_settings(servers, tmp_path, **redis_cluster.settings)
    client = redis_client.connect(settings, name="burst-test")
    cluster = cast("RedisCluster", client)
    keys = [f"burst:{index}" for index in range(24)]  # spread over the three primaries
    await client.set(keys[0], b"x")
    done = asyncio.Event()

    async def close_under_them() -> None:
        while not done.is_set():
            await cluster.aclose()
            for node in cluster.get_nodes():
                await node.disconnect_free_connections()
            await asyncio.sleep(0)

    async def pipelines() -> list[BaseException | list[bytes | None]]:
        return await asyncio.gather(
            *(redis_client.get_many(client, keys) for _ in range(300)), return_exceptions=True
        )

    closer = asyncio.create_task(close_under_them())
    try:
        failures = [
            repr(result)
            for _ in range(3)
            for result in await pipelines()
            if isinstance(result, BaseException)
        ]
    finally:
        done.set()
        await closer
        await client.aclose()
    assert failures == []
