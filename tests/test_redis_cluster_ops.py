"""Operating a Redis Cluster under a running server: moving the slot of a workspace's event
log (and of its shard channel) to another primary (resharding) loses no live event: the
broker subscribes again on the new owner and closes the gap from the log; and the log loses
nothing: a resume finds every event."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from redis.crc import key_slot

from notes_bff.realtime.event_log import stream_key
from tests.conftest import Api
from tests.redis_topologies import Deployment, SlotMove
from tests.subscriptions_helpers import EVENTS, socket
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


async def _titles_until_quiet(live: GraphQLSocket, op: str) -> list[str]:
    """The titles of the test's events delivered live until none comes for 2 s."""
    titles: list[str] = []
    with contextlib.suppress(TimeoutError):
        while True:
            event = (await live.next(op, timeout=2.0))["data"]["workspaceEvents"]
            if not event["note"]["title"].startswith("warm-up"):
                titles.append(event["note"]["title"])
    return titles
