"""``GET /collab/<noteId>``: the y-websocket endpoint of collaborative editing.

Authentication, in order: a ``ticket`` query parameter (``collabTicket``), else, for a browser
page (an ``Origin`` header), the ``nb_access`` cookie. A page's Origin must be the server's own
or one of ``NOTES_BFF_CORS_ORIGINS`` (else HTTP 403 before the upgrade). Refusals after the
upgrade are close codes (docs/collaboration.md). The rules live in ``notes_bff.collab``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

from aiohttp import WSMsgType, web
from beanie import PydanticObjectId
from strawberry.http.websocket_origin import is_same_origin, normalize_origin

from notes_bff import redis_client
from notes_bff.auth.cookies import ACCESS_COOKIE
from notes_bff.auth.tokens import TokenClaims
from notes_bff.collab.access import note_role
from notes_bff.collab.protocol import ProtocolError
from notes_bff.collab.room import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    CLOSE_PROTOCOL,
    CLOSE_TOO_LARGE,
    CLOSE_TOO_MANY,
    CLOSE_UNAUTHORIZED,
    CLOSE_UNAVAILABLE,
    DocumentTooLarge,
    Peer,
    Room,
)
from notes_bff.collab.service import OUTAGES, Collaboration
from notes_bff.errors import AppError
from notes_bff.http.sockets import SocketRegistry
from notes_bff.keys import COLLAB, MONGO_READY, REALTIME, REDIS, SESSIONS, SETTINGS
from notes_bff.loaders import build_loaders
from notes_bff.models import Note, Role

PATH = "/collab/{note_id}"
CLOSE_WAIT_S = 5.0


class Refused(Exception):
    """The connection is closed with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def origin_allowed(request: web.Request, allowed: list[str]) -> bool:
    """No Origin (not a browser), the server's own, or one of ``allowed``."""
    origin = request.headers.get("Origin")
    if origin is None or is_same_origin(origin, request.host):
        return True
    return normalize_origin(origin) in {normalize_origin(o) for o in allowed}


class CollabSocket:
    """The route (``handle``); its connections count toward the per-user websocket cap."""

    def __init__(self, sockets: SocketRegistry) -> None:
        self.sockets = sockets

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Upgrade, authenticate, authorize, then serve the connection."""
        settings = request.app[SETTINGS]
        if not origin_allowed(request, settings.cors_origins):
            raise web.HTTPForbidden(text="This origin may not open collaboration sockets.")
        ws = web.WebSocketResponse(
            max_msg_size=settings.collab_max_message_bytes,
            compress=settings.ws_compression,
            heartbeat=20.0,
        )
        if not ws.can_prepare(request).ok:
            raise web.HTTPBadRequest(text="This endpoint takes websocket upgrades only.")
        await ws.prepare(request)
        self.sockets.open.add(ws)
        async with self.sockets.track(request):
            try:
                await self._serve(request, ws)
            except Refused as refused:
                await ws.close(code=refused.code, message=refused.reason.encode())
            except OUTAGES:
                await ws.close(code=CLOSE_UNAVAILABLE, message=b"Service unavailable; retry")
        return ws

    async def _claims(self, request: web.Request, note_id: str) -> TokenClaims:
        app = request.app
        if not app[MONGO_READY].is_set():
            raise Refused(CLOSE_UNAVAILABLE, "Service unavailable; retry")
        sessions = app[SESSIONS]
        ticket = request.query.get("ticket")
        if ticket is not None:
            claims = await app[COLLAB].tickets.redeem(ticket, note_id)
            if claims is None:
                raise Refused(CLOSE_UNAUTHORIZED, "Invalid, used or expired ticket")
        elif "Origin" in request.headers and ACCESS_COOKIE in request.cookies:
            try:
                claims = sessions.tokens.verify(request.cookies[ACCESS_COOKIE], "access")
            except AppError as exc:
                raise Refused(CLOSE_FORBIDDEN, f"Forbidden: {exc.message}") from exc
        else:
            raise Refused(CLOSE_UNAUTHORIZED, "Unauthorized: pass a ticket (collabTicket)")
        try:
            await sessions.revocations.check(claims)
        except AppError as exc:
            raise Refused(CLOSE_FORBIDDEN, f"Forbidden: {exc.message}") from exc
        return claims

    async def _serve(self, request: web.Request, ws: web.WebSocketResponse) -> None:
        app = request.app
        raw_id = request.match_info["note_id"]
        claims = await self._claims(request, raw_id)
        if not PydanticObjectId.is_valid(raw_id):
            raise Refused(CLOSE_NOT_FOUND, "No such note")
        found = await note_role(
            build_loaders(), PydanticObjectId(claims.user_id), PydanticObjectId(raw_id)
        )
        if found is None:
            raise Refused(CLOSE_NOT_FOUND, "No such note")
        note, role = found
        cap = app[SETTINGS].max_connections_per_user
        if not await self.sockets.take_slot(request, app[REALTIME], cap, claims.user_id):
            raise Refused(CLOSE_TOO_MANY, "Too many connections for this user")

        async def close(code: int, reason: str) -> bool:
            return await ws.close(code=code, message=reason.encode())

        peer = Peer(claims.user_id, role.allows(Role.EDITOR), ws.send_bytes, close)
        revocations = app[SESSIONS].revocations
        unwatch = revocations.watch(claims, lambda: peer.close(CLOSE_FORBIDDEN, "Session ended"))
        try:
            async with self._joined(app[COLLAB], note, peer) as room:
                async for message in ws:
                    if message.type is not WSMsgType.BINARY:
                        peer.close(CLOSE_PROTOCOL, "Binary y-websocket messages only")
                        break
                    if not peer.spend():
                        peer.close(CLOSE_TOO_MANY, "Too many messages; slow down")
                        break
                    try:
                        room.receive(peer, message.data)
                    except ProtocolError as exc:
                        peer.close(CLOSE_PROTOCOL, f"Protocol error: {exc}")
                        break
                    except DocumentTooLarge:
                        peer.close(CLOSE_TOO_LARGE, "The document is over its size limit")
                        break
        finally:
            unwatch()
            await peer.finish(CLOSE_WAIT_S)

    @contextlib.asynccontextmanager
    async def _joined(self, collab: Collaboration, note: Note, peer: Peer) -> AsyncIterator[Room]:
        room = await collab.join(note, peer)
        try:
            yield room
        finally:
            await collab.leave(room, peer)


async def collab_context(app: web.Application) -> AsyncIterator[None]:
    """Start this process's collaboration (its reader has its own Redis connection, since
    its reads block); write every open document back on shutdown."""
    settings = app[SETTINGS]
    name = f"notes-bff:{os.getpid()}:collab"
    reader = redis_client.connect(settings, name=name, socket_timeout=10)
    collab = Collaboration(app[REDIS], reader, app[REALTIME], settings)
    app[COLLAB] = collab
    collab.start()
    yield
    await collab.stop()
    await reader.aclose()
