"""A small GraphQL-over-websocket client for tests: graphql-transport-ws and graphql-ws."""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from typing import Any

import aiohttp

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
_ids = itertools.count(1)


class Closed(Exception):
    """The server closed the websocket."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed {code}: {reason}")
        self.code = code
        self.reason = reason


class GraphQLSocket:
    """One websocket connection speaking either subprotocol."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol
        self.pending: dict[str, list[dict[str, Any]]] = defaultdict(list)

    @classmethod
    async def open(
        cls,
        session: aiohttp.ClientSession,
        url: str,
        *,
        token: str | None = None,
        protocol: str = TRANSPORT_WS,
        headers: dict[str, str] | None = None,
    ) -> GraphQLSocket:
        """Connect and send ``connection_init`` (with the token, if any); wait for the ack."""
        ws = await session.ws_connect(url, protocols=[protocol], headers=headers or {})
        socket = cls(ws, protocol)
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await ws.send_json({"type": "connection_init", "payload": payload})
        while True:
            message = await socket.receive()
            if message["type"] == "connection_ack":
                return socket
            if message["type"] != "ka":
                raise AssertionError(f"unexpected {message}")

    async def receive(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next message (keep-alives included); ``Closed`` when the server closed."""
        msg = await self.ws.receive(timeout=timeout)
        if msg.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.CLOSING,
        ):
            raise Closed(self.ws.close_code, str(msg.extra or ""))
        data: dict[str, Any] = msg.json()
        return data

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        """Start a subscription; its id."""
        op_id = str(next(_ids))
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        payload = {"query": query, "variables": variables or {}}
        await self.ws.send_json({"id": op_id, "type": kind, "payload": payload})
        return op_id

    async def next(self, op_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next result of one subscription: {"data": …} or {"errors": …}; "complete" ends."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self.pending[op_id]:
                message = self.pending[op_id].pop(0)
            else:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    raise TimeoutError(f"no result for subscription {op_id}")
                message = await self.receive(remaining)
                if message["type"] in ("ka", "ping", "pong") or "id" not in message:
                    continue
                if message["id"] != op_id:
                    self.pending[message["id"]].append(message)  # another subscription's
                    continue
            if message["type"] in ("next", "data"):
                result: dict[str, Any] = message["payload"]
                return result
            if message["type"] == "error":
                errors = message["payload"]
                return {"errors": errors if isinstance(errors, list) else [errors]}
            if message["type"] == "complete":
                return {"complete": True}

    async def close(self) -> None:
        """Close from the client side."""
        await self.ws.close()
