"""Delivering events to many subscribers: one shared rendering, errors masked per subscriber,
Redis connections bounded whatever the fan-out, slow subscribers cut off, a Redis outage."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from typing import Any

import pytest
from beanie import PydanticObjectId

from notes_bff import redis_client
from notes_bff.embedded import EmbeddedProcess
from notes_bff.models import User
from tests.conftest import Api
from tests.redis_topologies import Deployment, client_names
from tests.subscriptions_helpers import EVENTS, graphql_url, socket, team
from tests.ws import LEGACY_WS, TRANSPORT_WS, Closed, GraphQLSocket

pytestmark = pytest.mark.redis_topologies

SHARED = (
    "subscription($w: ID!, $after: String) { workspaceEvents(workspaceId: $w, after: $after) "
    "{ eventId note { title author { name } } } }"
)


PER_VIEWER = (
    "subscription($w: ID!) { workspaceEvents(workspaceId: $w) "
    "{ eventId note { title workspace { viewerRole } } } }"
)


async def _subscription_events(api: Api) -> dict[str, float]:
    text = await (await api.client.get("/metrics")).text()
    pattern = r'notes_bff_subscription_events_total\{stage="(\w+)"\} (\S+)'
    found = {stage: float(value) for stage, value in re.findall(pattern, text)}
    return {stage: found.get(stage, 0.0) for stage in ("delivered", "rendered")}


async def test_an_event_is_rendered_once_per_document_and_per_viewer_only_where_it_matters(
    api: Api,
) -> None:
    owner, ws = await team(api)
    editor, viewer = await api.sign_up("Editor"), await api.sign_up("Viewer")
    await api.add(owner, ws, editor, "EDITOR")
    await api.add(owner, ws, viewer, "VIEWER")
    tabs = [owner, owner, editor, viewer]  # the owner has two tabs open, one on legacy graphql-ws
    protocols = [TRANSPORT_WS, LEGACY_WS, TRANSPORT_WS, TRANSPORT_WS]
    async with contextlib.AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(socket(api, u["token"], protocol=p))
            for u, p in zip(tabs, protocols, strict=True)
        ]
        shared = [await sockets[0].subscribe(SHARED, {"w": ws})]
        await asyncio.sleep(0.2)
        await api.note(owner, ws, title="Earlier")
        earlier = (await sockets[0].next(shared[0]))["data"]["workspaceEvents"]["eventId"]
        # the others resume after that event: a different `after`, the same rendering
        shared += [await s.subscribe(SHARED, {"w": ws, "after": earlier}) for s in sockets[1:]]
        per_viewer = [await s.subscribe(PER_VIEWER, {"w": ws}) for s in sockets]
        await asyncio.sleep(0.3)
        before = await _subscription_events(api)
        await api.note(editor, ws, title="Once")
        for live, op in zip(sockets, shared, strict=True):
            event = (await live.next(op))["data"]["workspaceEvents"]
            assert event["note"] == {"title": "Once", "author": {"name": "Editor"}}
        roles = [
            (await live.next(op))["data"]["workspaceEvents"]["note"]["workspace"]["viewerRole"]
            for live, op in zip(sockets, per_viewer, strict=True)
        ]
        # viewerRole is read after the note loads (an await): still never shared across viewers
        assert roles == ["OWNER", "OWNER", "EDITOR", "VIEWER"]
        after = await _subscription_events(api)
    assert after["delivered"] - before["delivered"] == 8
    # one rendering for the document that never reads the viewer, one per viewer for the other
    assert after["rendered"] - before["rendered"] == 1 + 3


async def test_an_unexpected_error_in_a_shared_rendering_is_masked_for_each_subscriber(
    api: Api,
) -> None:
    owner, ws = await team(api)
    member, author = await api.sign_up("Member"), await api.sign_up("Gone")
    await api.add(owner, ws, member, "EDITOR")
    await api.add(owner, ws, author, "EDITOR")
    note = await api.note(author, ws, title="Orphan")
    user = await User.get(PydanticObjectId(author["id"]))
    assert user is not None
    await user.delete()  # data the code assumes cannot go missing (users are never deleted)
    async with socket(api, owner["token"]) as first, socket(api, member["token"]) as second:
        ops = [await live.subscribe(SHARED, {"w": ws}) for live in (first, second)]
        await asyncio.sleep(0.3)
        await api.ok("mutation($n: ID!) { updateNote(id: $n, input: {title: \"Still\"}) { id } }",
                     {"n": note["id"]}, token=owner["token"])  # fmt: skip
        results = [await live.next(op) for live, op in zip((first, second), ops, strict=True)]
    request_ids = set()
    for result in results:
        assert result["data"]["workspaceEvents"]["note"] is None
        [error] = result["errors"]
        assert error["message"] == "Unexpected error."  # nothing of the cause leaks
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        request_ids.add(error["extensions"]["requestId"])
    assert len(request_ids) == 2  # each subscriber can quote its own connection's request id


async def test_redis_outage_ends_subscriptions_and_they_work_again_after(
    api: Api, redis_server: EmbeddedProcess | Deployment
) -> None:
    owner, ws = await team(api)
    async with socket(api, owner["token"]) as live:
        op = await live.subscribe(EVENTS, {"w": ws})
        await asyncio.sleep(0.3)
        redis_server.stop()
        try:
            interrupted = await live.next(op, timeout=15)
            # Events of the outage cannot be delivered: the client is told, not left waiting.
            assert [e["extensions"]["code"] for e in interrupted["errors"]] == [
                "SERVICE_UNAVAILABLE"
            ]
            refused = await live.next(await live.subscribe(EVENTS, {"w": ws}))
            assert [e["extensions"]["code"] for e in refused["errors"]] == ["SERVICE_UNAVAILABLE"]
        finally:
            redis_server.start()
        # The first subscription once Redis is back is served: its arrival has the link, which
        # was waiting out its backoff (seconds by now), retry at once, and it waits for that.
        # (Notes are written until one arrives: the subscription starts once the link is up.)
        op = await live.subscribe(EVENTS, {"w": ws})
        for attempt in range(60):
            await api.note(owner, ws, title=f"after restart {attempt}")
            with contextlib.suppress(TimeoutError):
                result = await live.next(op, timeout=0.5)
                break
        assert result.get("data"), result  # not SERVICE_UNAVAILABLE
        assert result["data"]["workspaceEvents"]["note"]["title"].startswith("after restart")


async def test_redis_connections_do_not_grow_with_subscribers(
    api: Api, redis_server: EmbeddedProcess | Deployment
) -> None:
    owner, ws = await team(api)

    async def mine() -> int:
        names = await client_names(redis_server)
        return sum(1 for name in names if name.startswith(f"notes-bff:{os.getpid()}"))

    async def subscribe_many(count: int) -> list[tuple[GraphQLSocket, str]]:
        sockets = [
            await GraphQLSocket.open(api.client.session, graphql_url(api), token=owner["token"])
            for _ in range(count // 6)
        ]
        return [(s, await s.subscribe(EVENTS, {"w": ws})) for s in sockets for _ in range(6)]

    first = await subscribe_many(30)
    await asyncio.sleep(1.5)
    with_30 = await mine()
    second = await subscribe_many(30)
    await asyncio.sleep(1.5)
    with_60 = await mine()
    await api.note(owner, ws, title="fan-out")
    for s, op in first + second:
        assert (await s.next(op))["data"]["workspaceEvents"]["note"]["title"] == "fan-out"
    # Bounded by the command pool (per node of a Cluster), the broker's one connection and the
    # collaboration log reader's one, whatever the number of subscribers.
    bound = redis_client.POOL_SIZE + 2
    if isinstance(redis_server, Deployment) and redis_server.name == "cluster":
        bound = len(redis_server.servers) * redis_client.CLUSTER_POOL_SIZE + 2
    assert with_30 <= bound
    assert with_60 <= bound
    for s in {s for s, _ in first + second}:
        await s.close()


async def test_a_slow_subscriber_is_cut_off_and_the_others_keep_receiving(other_app: Any) -> None:
    async with other_app(subscriber_queue_size=4) as api:
        owner, ws = await team(api)
        note = await api.note(owner, ws, title="big", content="word " * 20_000)  # ~100 KB
        heavy = "subscription($w: ID!) { workspaceEvents(workspaceId: $w) { eventId note { content } } }"
        slow = await GraphQLSocket.open(api.client.session, graphql_url(api), token=owner["token"])
        fast = await GraphQLSocket.open(api.client.session, graphql_url(api), token=owner["token"])
        slow_op = await slow.subscribe(heavy, {"w": ws})
        fast_op = await fast.subscribe(EVENTS, {"w": ws})
        await asyncio.sleep(0.5)
        updates = 200  # ~20 MB for the slow reader: more than the socket buffers hold
        received = 0
        for i in range(updates):
            await api.ok("mutation($n: ID!, $t: String) { updateNote(id: $n, input: {title: $t}) { id } }",
                         {"n": note["id"], "t": f"v{i}"}, token=owner["token"])  # fmt: skip
            assert (await fast.next(fast_op))["data"]["workspaceEvents"]["kind"] == "UPDATED"
            received += 1
        assert received == updates
        with pytest.raises(Closed) as cut_off:  # the slow reader finally reads: all, then the close
            await _read_until_closed(slow, slow_op)
        assert cut_off.value.code == 4508
        await fast.close()


async def _read_until_closed(live: GraphQLSocket, op: str) -> None:
    while True:
        await live.next(op, timeout=30)
