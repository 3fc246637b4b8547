"""Who may subscribe and keep receiving: websocket authentication, membership checked on
subscribing and re-checked per event, token expiry."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import WSServerHandshakeError

from tests.conftest import Api
from tests.subscriptions_helpers import EVENTS, graphql_url, socket, team
from tests.ws import Closed, GraphQLSocket

pytestmark = pytest.mark.redis_topologies


async def test_websocket_authentication(api: Api) -> None:
    owner, _ = await team(api)
    session, url = api.client.session, graphql_url(api)
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
    owner, ws = await team(api)
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


async def test_non_members_cannot_subscribe(api: Api) -> None:
    _, ws = await team(api)
    stranger = await api.sign_up("Stranger")
    async with socket(api, stranger["token"]) as live:
        op = await live.subscribe(EVENTS, {"w": ws})
        refused = await live.next(op)
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["NOT_FOUND"]


async def test_token_expiry_closes_the_socket(other_app: Any) -> None:
    async with other_app(access_token_ttl_seconds=5) as api:
        owner, ws = await team(api)
        live = await GraphQLSocket.open(api.client.session, graphql_url(api), token=owner["token"])
        op = await live.subscribe(EVENTS, {"w": ws})
        with pytest.raises(Closed) as expired:
            await live.next(op, timeout=15)
        assert expired.value.code == 4403
