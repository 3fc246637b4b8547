"""Subscriptions over real websockets: both protocols, auth, delivery rules, resume, presence;
on each Redis topology."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSServerHandshakeError
from beanie import PydanticObjectId

from notes_bff import redis_client
from notes_bff.config import Settings
from notes_bff.embedded import EmbeddedProcess
from notes_bff.keys import REALTIME
from notes_bff.models import User
from notes_bff.realtime.event_log import stream_key
from tests.conftest import Api
from tests.redis_topologies import Deployment, client_names
from tests.ws import LEGACY_WS, TRANSPORT_WS, Closed, GraphQLSocket

pytestmark = pytest.mark.redis_topologies

EVENTS = (
    "subscription($w: ID!, $after: String) { workspaceEvents(workspaceId: $w, after: $after) "
    "{ eventId kind noteId workspaceId at actor { name } note { title version author { name } "
    "workspace { name } } } }"
)


def _url(api: Api) -> str:
    return str(api.client.make_url("/graphql"))


@contextlib.asynccontextmanager
async def socket(api: Api, token: str | None, **kw: Any) -> AsyncIterator[GraphQLSocket]:
    ws = await GraphQLSocket.open(api.client.session, _url(api), token=token, **kw)
    try:
        yield ws
    finally:
        await ws.close()


async def _team(api: Api) -> tuple[dict[str, Any], str]:
    owner = await api.sign_up("Owner")
    return owner, await api.workspace(owner, "Live")


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_workspace_events_over_both_protocols(api: Api, protocol: str) -> None:
    owner, ws = await _team(api)
    async with socket(api, owner["token"], protocol=protocol) as live:
        op = await live.subscribe(EVENTS, {"w": ws})
        await asyncio.sleep(0.2)  # the subscription is registered once the first await runs
        note = await api.note(owner, ws, title="First")
        created = (await live.next(op))["data"]["workspaceEvents"]
        assert created["kind"] == "CREATED" and created["noteId"] == note["id"]
        assert created["note"] == {"title": "First", "version": 1, "author": {"name": "Owner"},
                                   "workspace": {"name": "Live"}}  # fmt: skip
        assert created["actor"] == {"name": "Owner"} and created["at"].endswith("Z")
        await api.ok("mutation($n: ID!) { updateNote(id: $n, input: {title: \"Second\"}) { id } }",
                     {"n": note["id"]}, token=owner["token"])  # fmt: skip
        updated = (await live.next(op))["data"]["workspaceEvents"]
        assert updated["kind"] == "UPDATED" and updated["note"]["title"] == "Second"
        assert updated["eventId"] > created["eventId"] or len(updated["eventId"]) > len(
            created["eventId"]
        )
        await api.ok(
            "mutation($n: ID!) { deleteNote(id: $n) }", {"n": note["id"]}, token=owner["token"]
        )
        deleted = (await live.next(op))["data"]["workspaceEvents"]
        assert deleted["kind"] == "DELETED" and deleted["note"] is None


async def test_websocket_authentication(api: Api) -> None:
    owner, _ = await _team(api)
    session, url = api.client.session, _url(api)
    with pytest.raises(Closed) as anonymous:
        await GraphQLSocket.open(session, url)
    assert anonymous.value.code == 4401
    with pytest.raises(Closed) as forged:
        await GraphQLSocket.open(session, url, token="not.a.token")
    assert forged.value.code == 4403
    cookie = {"Cookie": f"nb_access={owner['token']}"}
    with pytest.raises(WSServerHandshakeError) as foreign:
        await GraphQLSocket.open(session, url, headers={**cookie, "Origin": "https://evil.example"})
    assert foreign.value.status == 403
    same_origin = {**cookie, "Origin": f"http://{api.client.host}:{api.client.port}"}
    ws = await GraphQLSocket.open(session, url, headers=same_origin)
    await ws.close()


async def test_removed_member_stops_receiving_at_once(api: Api) -> None:
    owner, ws = await _team(api)
    member = await api.sign_up("Member")
    await api.add(owner, ws, member, "VIEWER")
    async with socket(api, member["token"]) as live:
        op = await live.subscribe(EVENTS, {"w": ws})
        await asyncio.sleep(0.2)
        await api.note(owner, ws, title="Visible")
        assert (await live.next(op))["data"]["workspaceEvents"]["note"]["title"] == "Visible"
        await api.ok("mutation($w: ID!, $u: ID!) { removeMember(workspaceId: $w, userId: $u) }",
                     {"w": ws, "u": member["id"]}, token=owner["token"])  # fmt: skip
        ended = await live.next(op)
        assert [e["extensions"]["code"] for e in ended["errors"]] == ["FORBIDDEN"]
        assert await live.next(op) == {"complete": True}
        await api.note(owner, ws, title="Secret")
        with pytest.raises(TimeoutError):
            await live.next(op, timeout=1.0)


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
    owner, ws = await _team(api)
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
    owner, ws = await _team(api)
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


async def test_websocket_compression_is_negotiated_only_when_configured(
    api: Api, other_app: Any
) -> None:
    async def negotiated(client_api: Api) -> int:
        async with client_api.client.session.ws_connect(
            _url(client_api), protocols=[TRANSPORT_WS], compress=15
        ) as ws:
            return ws.compress

    assert await negotiated(api) == 0
    async with other_app(ws_compression=True) as compressed:
        assert await negotiated(compressed) == 15


async def test_non_members_cannot_subscribe(api: Api) -> None:
    _, ws = await _team(api)
    stranger = await api.sign_up("Stranger")
    async with socket(api, stranger["token"]) as live:
        op = await live.subscribe(EVENTS, {"w": ws})
        refused = await live.next(op)
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["NOT_FOUND"]


async def test_resume_after_a_disconnect_has_no_gap_and_no_duplicate(api: Api) -> None:
    owner, ws = await _team(api)
    async with socket(api, owner["token"]) as live:
        op = await live.subscribe(EVENTS, {"w": ws})
        await asyncio.sleep(0.2)
        await api.note(owner, ws, title="before")
        last_seen = (await live.next(op))["data"]["workspaceEvents"]["eventId"]
    missed = [await api.note(owner, ws, title=f"missed {i}") for i in range(3)]
    async with socket(api, owner["token"]) as live:
        op = await live.subscribe(EVENTS, {"w": ws, "after": last_seen})
        # More writes race with the replay: they must come exactly once, in order.
        writer = asyncio.create_task(_write_notes(api, owner, ws, 4))
        received = [(await live.next(op))["data"]["workspaceEvents"] for _ in range(7)]
        await writer
        with pytest.raises(TimeoutError):
            await live.next(op, timeout=1.0)
    titles = [e["note"]["title"] for e in received]
    assert titles[:3] == [n["title"] for n in missed]
    assert sorted(titles[3:]) == [f"racing {i}" for i in range(4)]
    ids = [e["eventId"] for e in received]
    assert len(set(ids)) == 7
    assert ids == sorted(ids, key=lambda i: tuple(int(p) for p in i.split("-")))


async def _write_notes(api: Api, owner: dict[str, Any], ws: str, count: int) -> None:
    for i in range(count):
        await api.note(owner, ws, title=f"racing {i}")


async def test_resume_from_a_trimmed_history_is_refused(api: Api, settings: Settings) -> None:
    owner, ws = await _team(api)
    async with socket(api, owner["token"]) as live:
        op = await live.subscribe(EVENTS, {"w": ws})
        await asyncio.sleep(0.2)
        await api.note(owner, ws, title="old")
        old = (await live.next(op))["data"]["workspaceEvents"]["eventId"]
    for i in range(3):
        await api.note(owner, ws, title=f"new {i}")
    redis = redis_client.connect(settings, name="tests")
    try:
        # What retention does to old entries.
        await redis.xtrim(stream_key(ws), maxlen=1, approximate=False)
    finally:
        await redis.aclose()
    async with socket(api, owner["token"]) as live:
        op = await live.subscribe(EVENTS, {"w": ws, "after": old})
        refused = await live.next(op)
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["EVENT_HISTORY_EXPIRED"]
        bad = await live.subscribe(EVENTS, {"w": ws, "after": "garbage"})
        assert [e["extensions"]["code"] for e in (await live.next(bad))["errors"]] == [
            "BAD_USER_INPUT"
        ]


async def test_note_changed_until_deleted(api: Api) -> None:
    owner, ws = await _team(api)
    note = await api.note(owner, ws, title="Watched")
    other = await api.note(owner, ws, title="Other")
    async with socket(api, owner["token"]) as live:
        op = await live.subscribe("subscription($n: ID!) { noteChanged(id: $n) { kind note { title } } }",
                                  {"n": note["id"]})  # fmt: skip
        await asyncio.sleep(0.2)
        for target, title in ((other["id"], "ignored"), (note["id"], "Renamed")):
            await api.ok("mutation($n: ID!, $t: String) { updateNote(id: $n, input: {title: $t}) { id } }",
                         {"n": target, "t": title}, token=owner["token"])  # fmt: skip
        assert (await live.next(op))["data"]["noteChanged"] == {
            "kind": "UPDATED",
            "note": {"title": "Renamed"},
        }
        await api.ok(
            "mutation($n: ID!) { deleteNote(id: $n) }", {"n": note["id"]}, token=owner["token"]
        )
        assert (await live.next(op))["data"]["noteChanged"] == {"kind": "DELETED", "note": None}
        assert await live.next(op) == {"complete": True}


async def test_notifications_are_pushed_live(api: Api) -> None:
    owner, ws = await _team(api)
    mate = await api.sign_up("Mate")
    async with socket(api, mate["token"]) as live:
        op = await live.subscribe(
            "subscription { notifications { kind message read note { title } } }"
        )
        await asyncio.sleep(0.2)
        await api.add(owner, ws, mate, "EDITOR")
        added = (await live.next(op))["data"]["notifications"]
        assert added["kind"] == "MEMBER_ADDED" and added["read"] is False
        await api.note(owner, ws, title="Hey", mentionIds=[mate["id"]], assigneeIds=[mate["id"]])
        kinds = {(await live.next(op))["data"]["notifications"]["kind"] for _ in range(2)}
        assert kinds == {"ASSIGNED", "MENTION"}


PRESENCE = "subscription($w: ID!) { presence(workspaceId: $w) { online { name } joined { name } left { name } } }"


async def test_presence_counts_tabs_as_one_user(api: Api) -> None:
    owner, ws = await _team(api)
    mate = await api.sign_up("Mate")
    await api.add(owner, ws, mate, "EDITOR")
    online = "query($w: ID!) { workspace(id: $w) { onlineMembers { name } } }"
    tab1 = await GraphQLSocket.open(api.client.session, _url(api), token=owner["token"])
    op1 = await tab1.subscribe(PRESENCE, {"w": ws})
    first = (await tab1.next(op1))["data"]["presence"]
    assert first == {"online": [{"name": "Owner"}], "joined": {"name": "Owner"}, "left": None}
    tab2 = await GraphQLSocket.open(api.client.session, _url(api), token=owner["token"])
    op2 = await tab2.subscribe(PRESENCE, {"w": ws})
    assert (await tab2.next(op2))["data"]["presence"]["joined"] is None  # already online
    mate_ws = await GraphQLSocket.open(api.client.session, _url(api), token=mate["token"])
    op3 = await mate_ws.subscribe(PRESENCE, {"w": ws})
    await mate_ws.next(op3)
    joined = (await tab1.next(op1))["data"]["presence"]
    assert joined["joined"] == {"name": "Mate"}
    assert sorted(u["name"] for u in joined["online"]) == ["Mate", "Owner"]
    members = (await api.ok(online, {"w": ws}, token=mate["token"]))["workspace"]["onlineMembers"]
    assert sorted(u["name"] for u in members) == ["Mate", "Owner"]
    await tab2.close()  # one of two tabs: still online
    with pytest.raises(TimeoutError):
        await mate_ws.next(op3, timeout=1.0)
    await tab1.close()
    left = (await mate_ws.next(op3))["data"]["presence"]
    assert left == {"online": [{"name": "Mate"}], "joined": None, "left": {"name": "Owner"}}
    await mate_ws.close()
    await asyncio.sleep(0.3)
    assert (await api.ok(online, {"w": ws}, token=owner["token"]))["workspace"][
        "onlineMembers"
    ] == []


async def test_redis_outage_ends_subscriptions_and_they_work_again_after(
    api: Api, redis_server: EmbeddedProcess | Deployment
) -> None:
    owner, ws = await _team(api)
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
        for attempt in range(60):  # the broker reconnects with backoff
            op = await live.subscribe(EVENTS, {"w": ws})
            await asyncio.sleep(0.3)
            await api.note(owner, ws, title=f"after restart {attempt}")
            with contextlib.suppress(TimeoutError):
                result = await live.next(op, timeout=1.0)
                if result.get("data"):
                    assert result["data"]["workspaceEvents"]["note"]["title"].startswith(
                        "after restart"
                    )
                    break
        else:
            raise AssertionError("no event after the Redis restart")


async def test_redis_connections_do_not_grow_with_subscribers(
    api: Api, redis_server: EmbeddedProcess | Deployment
) -> None:
    owner, ws = await _team(api)

    async def mine() -> int:
        names = await client_names(redis_server)
        return sum(1 for name in names if name.startswith(f"notes-bff:{os.getpid()}"))

    async def subscribe_many(count: int) -> list[tuple[GraphQLSocket, str]]:
        sockets = [
            await GraphQLSocket.open(api.client.session, _url(api), token=owner["token"])
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
        owner, ws = await _team(api)
        note = await api.note(owner, ws, title="big", content="word " * 20_000)  # ~100 KB
        heavy = "subscription($w: ID!) { workspaceEvents(workspaceId: $w) { eventId note { content } } }"
        slow = await GraphQLSocket.open(api.client.session, _url(api), token=owner["token"])
        fast = await GraphQLSocket.open(api.client.session, _url(api), token=owner["token"])
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


async def test_token_expiry_closes_the_socket(other_app: Any) -> None:
    async with other_app(access_token_ttl_seconds=5) as api:
        owner, ws = await _team(api)
        live = await GraphQLSocket.open(api.client.session, _url(api), token=owner["token"])
        op = await live.subscribe(EVENTS, {"w": ws})
        with pytest.raises(Closed) as expired:
            await live.next(op, timeout=15)
        assert expired.value.code == 4403


async def test_reference_graphql_ws_client(api: Api, js_dir: Path) -> None:
    owner, ws = await _team(api)
    ws_url = _url(api).replace("http://", "ws://")
    proc = await asyncio.create_subprocess_exec(
        "node", str(js_dir / "graphql-ws.mjs"), ws_url, owner["token"], ws,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    if line.decode().strip() != "subscribed":
        _, err = await proc.communicate()
        raise AssertionError(err.decode()[-3000:])
    await api.note(owner, ws, title="From Python")
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    event, completed = out.decode().strip().splitlines()
    assert json.loads(event) == {
        "data": {
            "workspaceEvents": {
                "kind": "CREATED",
                "note": {"title": "From Python"},
                "actor": {"name": "Owner"},
            }
        }
    }
    assert completed == "completed"


async def test_caps_on_subscriptions_and_connections(other_app: Any) -> None:
    async with other_app(max_subscriptions_per_connection=2, max_connections_per_user=2) as api:
        owner, ws = await _team(api)
        first = await GraphQLSocket.open(api.client.session, _url(api), token=owner["token"])
        ops = [await first.subscribe(EVENTS, {"w": ws}) for _ in range(3)]
        refused = await first.next(ops[2])
        assert refused["errors"][0]["message"].startswith("Subscription limit reached: at most 2")
        assert refused["errors"][0]["extensions"] == {"code": "RATE_LIMITED", "retryAfter": 1}
        second = await GraphQLSocket.open(api.client.session, _url(api), token=owner["token"])
        with pytest.raises(Closed) as third:
            await GraphQLSocket.open(api.client.session, _url(api), token=owner["token"])
        assert third.value.code == 4429
        await second.close()
        await asyncio.sleep(0.2)  # a closed connection frees its slot
        again = await GraphQLSocket.open(api.client.session, _url(api), token=owner["token"])
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
        elsewhere = await GraphQLSocket.open(api.client.session, _url(api), token=owner["token"])
        async with other_app(max_connections_per_user=2) as here:
            session, url = here.client.session, _url(here)
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
        session, url = api.client.session, _url(api)
        redis_server.stop()
        try:
            first = await GraphQLSocket.open(session, url, token=owner["token"])
            with pytest.raises(Closed) as refused:
                await GraphQLSocket.open(session, url, token=owner["token"])
            assert refused.value.code == 4429
            await first.close()
        finally:
            redis_server.start()


async def test_a_crashed_workers_connections_drop_off(api: Api, settings: Settings) -> None:
    owner, ws = await _team(api)
    ghost = await api.sign_up("Ghost")
    await api.add(owner, ws, ghost, "VIEWER")
    redis = redis_client.connect(settings, name="tests")
    try:
        # A connection whose worker died: its heartbeat stopped renewing it 50 s ago.
        key = f"notes-bff:presence:{ws}"
        await redis.zadd(key, {f"{ghost['id']}:dead-connection": time.time() - 5})
        online = "query($w: ID!) { workspace(id: $w) { onlineMembers { name } } }"
        assert (await api.ok(online, {"w": ws}, token=owner["token"]))["workspace"][
            "onlineMembers"
        ] == []
        presence = api.client.server.app[REALTIME].presence
        swept = await asyncio.gather(presence.sweep(ws), presence.sweep(ws))
        assert sorted(swept, key=len) == [[], [ghost["id"]]]  # one sweeper reports the leave
        assert await redis.zcard(key) == 0
    finally:
        await redis.aclose()


async def test_shutdown_closes_websockets_with_going_away(other_app: Any) -> None:
    async with other_app() as api:
        owner, ws = await _team(api)
        live = await GraphQLSocket.open(api.client.session, _url(api), token=owner["token"])
        op = await live.subscribe(EVENTS, {"w": ws})
        closing = asyncio.create_task(api.client.server.close())
        with pytest.raises(Closed) as going:
            await live.next(op, timeout=10)
        await closing
    assert going.value.code == 1001
