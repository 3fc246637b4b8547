"""Presence: who is online in a workspace, several tabs counted as one user, a crashed
worker's connections dropping off."""

from __future__ import annotations

import asyncio
import time

import pytest

from notes_bff import redis_client
from notes_bff.config import Settings
from notes_bff.keys import REALTIME
from tests.conftest import Api
from tests.subscriptions_helpers import graphql_url, team
from tests.ws import GraphQLSocket

pytestmark = pytest.mark.redis_topologies

PRESENCE = "subscription($w: ID!) { presence(workspaceId: $w) { online { name } joined { name } left { name } } }"


async def test_presence_counts_tabs_as_one_user(api: Api) -> None:
    owner, ws = await team(api)
    mate = await api.sign_up("Mate")
    await api.add(owner, ws, mate, "EDITOR")
    online = "query($w: ID!) { workspace(id: $w) { onlineMembers { name } } }"
    tab1 = await GraphQLSocket.open(api.client.session, graphql_url(api), token=owner["token"])
    op1 = await tab1.subscribe(PRESENCE, {"w": ws})
    first = (await tab1.next(op1))["data"]["presence"]
    assert first == {"online": [{"name": "Owner"}], "joined": {"name": "Owner"}, "left": None}
    tab2 = await GraphQLSocket.open(api.client.session, graphql_url(api), token=owner["token"])
    op2 = await tab2.subscribe(PRESENCE, {"w": ws})
    assert (await tab2.next(op2))["data"]["presence"]["joined"] is None  # already online
    mate_ws = await GraphQLSocket.open(api.client.session, graphql_url(api), token=mate["token"])
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


async def test_a_crashed_workers_connections_drop_off(api: Api, settings: Settings) -> None:
    owner, ws = await team(api)
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
