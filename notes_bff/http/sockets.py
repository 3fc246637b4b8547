"""Websocket connections: authentication, Origin checks, token expiry, ended sessions,
per-user caps."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from functools import partial
from typing import Any, NoReturn, cast

from aiohttp import web
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET, UnsetType

from notes_bff.errors import AppError
from notes_bff.http.context import HttpContext
from notes_bff.http.cookies import ACCESS_COOKIE, bearer_token
from notes_bff.keys import REALTIME
from notes_bff.realtime.hub import Realtime
from notes_bff.realtime.presence import HEARTBEAT_S

CLOSE_GOING_AWAY = 1001
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY = 4429
# The user and connection id holding one of the user's connection slots.
CONNECTION_SLOT = web.RequestKey("connection_slot", tuple[str, str])


class SocketRegistry:
    """The process's websocket connections; the per-user cap counts the whole deployment's.

    Slots live in Redis (:class:`~notes_bff.realtime.connections.ConnectionSlots`), renewed
    by one task per process while it has connections. While Redis is unreachable, the cap
    counts this process's connections only.
    """

    def __init__(self) -> None:
        self.connections: dict[str, str] = {}  # connection id -> user id
        self.open: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self._renewal: asyncio.Task[None] | None = None
        # A renewal in flight must not write back a slot released meanwhile: the two take turns.
        self._slots = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()  # releases and closes under way
        # connection id -> what stops watching its session for revocation
        self._unwatch: dict[str, Callable[[], None]] = {}

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``work`` as its own task, kept referenced until it is done."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close_all(self, app: web.Application) -> None:
        """``on_shutdown``: close every websocket with 1001 (going away), so clients
        reconnect to another instance (and resume with ``after``)."""
        if self._renewal is not None:
            self._renewal.cancel()
        for socket in list(self.open):
            await socket.close(code=CLOSE_GOING_AWAY, message=b"Server shutting down")

    @contextlib.asynccontextmanager
    async def track(self, request: web.Request) -> AsyncIterator[None]:
        """Release the connection's slot when it ends."""
        try:
            yield
        finally:
            slot = request.get(CONNECTION_SLOT)
            if slot is not None:
                self.connections.pop(slot[1], None)
                unwatch = self._unwatch.pop(slot[1], None)
                if unwatch is not None:
                    unwatch()
                # Its own task: a handler cancelled while it releases (the client went away,
                # the server is stopping) must not leave the slot taken in Redis.
                await asyncio.shield(self._spawn(self._release(request.app[REALTIME], *slot)))

    async def _release(self, realtime: Realtime, user: str, connection: str) -> None:
        async with self._slots:
            await realtime.guard.call(lambda: realtime.connections.release(user, connection))

    async def take_slot(
        self, request: web.Request, realtime: Realtime, cap: int, user: str
    ) -> bool:
        """Take one of the user's ``cap`` connection slots for ``request`` (released by
        :meth:`track`); False when all are taken."""
        connection = uuid.uuid4().hex
        allowed = await realtime.guard.call(
            lambda: realtime.connections.acquire(user, connection, cap)
        )
        if allowed is None:  # Redis unreachable: this process's own count
            allowed = list(self.connections.values()).count(user) < cap
        if allowed:
            self.connections[connection] = user
            request[CONNECTION_SLOT] = (user, connection)
            if self._renewal is None or self._renewal.done():
                self._renewal = asyncio.create_task(self._renew(realtime))
        return allowed

    async def _renew(self, realtime: Realtime) -> None:
        renew = realtime.connections.renew
        while self.connections:
            await asyncio.sleep(HEARTBEAT_S)
            async with self._slots:
                await realtime.guard.call(partial(renew, dict(self.connections)))

    async def _reject(self, context: HttpContext, code: int, reason: str) -> NoReturn:
        await context.close_connection(code, reason)
        raise ConnectionRejectionError({"reason": reason})

    async def authenticate(self, context: HttpContext) -> UnsetType:
        """Accept the connection, or close it: 4401 anonymous, 4403 bad token or ended
        session, 4429 too many. An accepted one is closed with 4403 when its token expires
        or its session ends (log-out, refresh-token reuse, user disabled, on any worker)."""
        params = context.connection_params or {}
        header = params.get("authorization") or params.get("Authorization")
        request = context.request
        if isinstance(header, str) and header.strip():
            token = bearer_token(header)
            if token is None:
                await self._reject(context, CLOSE_FORBIDDEN, "Forbidden: malformed authorization")
            try:
                claims = context.actor.sessions.tokens.verify(token, "access")
                await context.actor.sessions.revocations.check(claims)
            except AppError as exc:
                await self._reject(context, CLOSE_FORBIDDEN, f"Forbidden: {exc.message}")
            context.actor.act_as(claims)
        elif ACCESS_COOKIE in request.cookies:
            # The upgrade's Origin was already checked (same origin or NOTES_BFF_CORS_ORIGINS)
            # by the view before the handshake: a foreign page gets a 403, no socket.
            if context.actor.auth_error is not None or context.actor.claims is None:
                reason = (
                    context.actor.auth_error.message if context.actor.auth_error else "no token"
                )
                await self._reject(context, CLOSE_FORBIDDEN, f"Forbidden: {reason}")
        else:
            await self._reject(context, CLOSE_UNAUTHORIZED, "Unauthorized: sign in first")
        signed_in = context.actor.claims
        assert signed_in is not None
        claims = signed_in
        cap = context.settings.max_connections_per_user
        if not await self.take_slot(request, context.actor.realtime, cap, claims.user_id):
            await self._reject(context, CLOSE_TOO_MANY, "Too many connections for this user")
        if isinstance(context.response, web.WebSocketResponse):
            self.open.add(context.response)
        revocations = context.actor.sessions.revocations
        _, connection = context.request[CONNECTION_SLOT]
        self._unwatch[connection] = revocations.watch(claims, lambda: self._session_ended(context))
        if revocations.ended(claims):  # while the slot was taken
            await self._reject(context, CLOSE_FORBIDDEN, "Forbidden: the session has ended")
        self._close_on_expiry(context, claims.expires_at)
        return cast("UnsetType", UNSET)

    def _session_ended(self, context: HttpContext) -> None:
        self._spawn(context.close_connection(CLOSE_FORBIDDEN, "Session ended"))

    def _close_on_expiry(self, context: HttpContext, expires_at: datetime) -> None:
        delay = max(0.0, (expires_at - datetime.now(UTC)).total_seconds())
        loop = asyncio.get_running_loop()
        loop.call_later(
            delay, lambda: self._spawn(context.close_connection(CLOSE_FORBIDDEN, "Token expired"))
        )
