"""Shared by the subscription tests (tests/test_subscriptions_*.py): the workspace events
document, a websocket to the test application, a workspace with its owner."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from tests.conftest import Api
from tests.ws import GraphQLSocket

EVENTS = (
    "subscription($w: ID!, $after: String) { workspaceEvents(workspaceId: $w, after: $after) "
    "{ eventId kind noteId workspaceId at actor { name } note { title version author { name } "
    "workspace { name } } } }"
)


def graphql_url(api: Api) -> str:
    return str(api.client.make_url("/graphql"))


@contextlib.asynccontextmanager
async def socket(api: Api, token: str | None, **kw: Any) -> AsyncIterator[GraphQLSocket]:
    ws = await GraphQLSocket.open(api.client.session, graphql_url(api), token=token, **kw)
    try:
        yield ws
    finally:
        await ws.close()


async def team(api: Api) -> tuple[dict[str, Any], str]:
    owner = await api.sign_up("Owner")
    return owner, await api.workspace(owner, "Live")
