"""Operating a Redis Cluster under a running server: moving the slot of a workspace's event
log to another primary (resharding) loses no live event, and resume still finds them all."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest
from redis.crc import key_slot

from notes_bff.realtime.event_log import stream_key
from tests.conftest import Api
from tests.redis_topologies import Deployment, SlotMove
from tests.subscriptions_helpers import EVENTS, socket

pytestmark = pytest.mark.redis_cluster


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
            await asyncio.sleep(0.2)
            await api.note(owner, ws, title="before")
            await move.begin()
            await api.note(owner, ws, title="migrating")  # the log is still on the source
            assert await move.move_keys() == 1
            await api.note(owner, ws, title="moved")  # the source answers ASK
            await move.finish()
            await api.note(owner, ws, title="after")  # the source answers MOVED
            received = [(await live.next(op))["data"]["workspaceEvents"] for _ in range(4)]
            with pytest.raises(TimeoutError):
                await live.next(op, timeout=1.0)
        assert [e["note"]["title"] for e in received] == ["before", "migrating", "moved", "after"]
        ids = [e["eventId"] for e in received]
        assert ids == sorted(set(ids), key=_order)
        async with socket(api, owner["token"]) as again:
            op = await again.subscribe(EVENTS, {"w": ws, "after": ids[0]})
            resumed = [(await again.next(op))["data"]["workspaceEvents"] for _ in range(3)]
        assert [e["eventId"] for e in resumed] == ids[1:]
