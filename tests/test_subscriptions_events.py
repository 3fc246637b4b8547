"""Subscription events over real websockets: workspaceEvents over both protocols and a
reference client, resume with ``after`` (no gap, no duplicate), expired history, noteChanged."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from notes_bff import redis_client
from notes_bff.config import Settings
from notes_bff.realtime.event_log import stream_key
from tests.conftest import Api
from tests.subscriptions_helpers import EVENTS, graphql_url, socket, team
from tests.ws import LEGACY_WS, TRANSPORT_WS

pytestmark = pytest.mark.redis_topologies


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_workspace_events_over_both_protocols(api: Api, protocol: str) -> None:
    owner, ws = await team(api)
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


async def test_resume_after_a_disconnect_has_no_gap_and_no_duplicate(api: Api) -> None:
    owner, ws = await team(api)
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
    owner, ws = await team(api)
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
    owner, ws = await team(api)
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


async def test_reference_graphql_ws_client(api: Api, js_dir: Path) -> None:
    owner, ws = await team(api)
    ws_url = graphql_url(api).replace("http://", "ws://")
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
