"""Faults with the real embedded servers: MongoDB stopped and started mid-load."""

from __future__ import annotations

import asyncio
import json

from notes_bff.embedded import EmbeddedProcess
from tests.conftest import Api

CREATE = "mutation($w: ID!, $t: String!) { createNote(input: {workspaceId: $w, title: $t}) { id } }"


async def test_mongodb_restart_mid_load_loses_nothing_acknowledged(
    api: Api, servers: dict[str, EmbeddedProcess]
) -> None:
    owner = await api.sign_up()
    ws = await api.workspace(owner)
    acknowledged: list[str] = []
    failures: list[str] = []

    async def writer(n: int) -> None:
        for i in range(n):
            reply = await api.gql(
                CREATE, {"w": ws, "t": f"load {len(acknowledged)}-{i}"}, token=owner["token"]
            )
            assert reply.body.get("errors") or reply.body["data"], "malformed response"
            if reply.errors:
                assert reply.codes[0] in {"SERVICE_UNAVAILABLE"}, reply.body
                assert reply.status == 503
                assert "Traceback" not in json.dumps(reply.body)
                failures.append(reply.codes[0])
            else:
                acknowledged.append(reply.data["createNote"]["id"])
            await asyncio.sleep(0.02)

    load = asyncio.create_task(writer(80))
    await asyncio.sleep(0.5)
    servers["mongodb"].stop()
    # Longer than the server-selection timeout (3 s in tests): some writes must fail.
    await asyncio.sleep(5.0)
    servers["mongodb"].start()
    await load
    assert failures, "the outage was not noticed: the test did not test anything"
    # Recovered by itself: new writes succeed, and every acknowledged note exists.
    for _ in range(50):
        if not (await api.gql(CREATE, {"w": ws, "t": "after"}, token=owner["token"])).errors:
            break
        await asyncio.sleep(0.2)
    data = await api.ok(
        "query($w: ID!) { notes(workspaceId: $w, first: 100) { nodes { id } } }",
        {"w": ws},
        token=owner["token"],
    )
    stored = {n["id"] for n in data["notes"]["nodes"]}
    assert set(acknowledged) <= stored
    ready = await api.client.get("/readyz")
    assert ready.status == 200


async def test_redis_restart_mid_load_keeps_reads_and_writes_working(
    api: Api, servers: dict[str, EmbeddedProcess]
) -> None:
    owner = await api.sign_up()
    ws = await api.workspace(owner)
    acknowledged: list[str] = []
    statuses: list[int] = []

    async def load(n: int) -> None:
        for i in range(n):
            reply = await api.gql(CREATE, {"w": ws, "t": f"r{i}"}, token=owner["token"])
            statuses.append(reply.status)
            assert not reply.errors, reply.body  # Redis is not needed to write a note
            acknowledged.append(reply.data["createNote"]["id"])
            read = await api.gql("{ dashboard { stats { totalNotes } } }", token=owner["token"])
            assert not read.errors, read.body
            await asyncio.sleep(0.02)

    running = asyncio.create_task(load(60))
    await asyncio.sleep(0.3)
    servers["redis"].stop()
    await asyncio.sleep(2.0)
    # Degraded, not unready: every instance shares this Redis, and each still serves.
    ready = await api.client.get("/readyz")
    body = await ready.json()
    assert (ready.status, body["status"], body["failed"]) == (200, "degraded", {})
    assert "redis" in body["degraded"]
    servers["redis"].start()
    await running
    assert set(statuses) == {200}
    count = await api.ok(
        "query($w: ID!) { workspace(id: $w) { noteCount } }", {"w": ws}, token=owner["token"]
    )
    assert count["workspace"]["noteCount"] == len(acknowledged) == 60
    for _ in range(50):
        if (await api.client.get("/readyz")).status == 200:
            break
        await asyncio.sleep(0.2)
    assert (await api.client.get("/readyz")).status == 200
