"""``Idempotency-Key``: a retried POST (same key, same caller, same body) gets the first
response again instead of running twice, for 24 hours; the same key with another body is
``CONFLICT``."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from notes_bff.auth.cookies import ACCESS_COOKIE, bearer_token
from notes_bff.errors import AppError, Conflict
from notes_bff.http.responses import error_response
from notes_bff.keys import REDIS, SESSIONS, SETTINGS
from notes_bff.ratelimit import client_ip
from notes_bff.redis_guard import RedisGuard

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HEADER = "Idempotency-Key"
PREFIX = "notes-bff:idempotency:"
TTL_S = 24 * 3600
PENDING_TTL_S = 60
_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,255}$")


def _caller(request: web.Request) -> str:
    """Who sent it: the access token's user, else the client's IP."""
    token = bearer_token(request.headers.get("Authorization", ""))
    token = token or request.cookies.get(ACCESS_COOKIE)
    if token:
        try:
            return "user:" + request.app[SESSIONS].tokens.verify(token, "access").user_id
        except AppError:
            pass
    return "ip:" + client_ip(request, request.app[SETTINGS].trusted_proxies)


def idempotency(guard: RedisGuard) -> web.middleware:  # type: ignore[valid-type]
    """The middleware for ``POST /graphql``."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        key = request.headers.get(HEADER)
        if key is None or request.method != "POST" or request.path != "/graphql":
            return await handler(request)
        if not _KEY.match(key):
            return error_response(
                400, f"{HEADER} must be 1 to 255 letters, digits or ._:-", "BAD_USER_INPUT"
            )
        body_hash = hashlib.sha256(await request.read()).hexdigest()
        redis = request.app[REDIS]
        slot = f"{PREFIX}{_caller(request)}:{key}"
        claimed = await guard.call(
            lambda: redis.set(slot, f"pending:{body_hash}", nx=True, ex=PENDING_TTL_S)
        )
        if claimed is None and not guard.available:  # Redis is down: run it, unprotected
            return await handler(request)
        if not claimed:
            return await _replay(request, slot, body_hash, guard)
        try:
            response = await handler(request)
        except BaseException:
            await guard.call(lambda: redis.delete(slot))
            raise
        if (
            isinstance(response, web.Response)
            and isinstance(response.body, bytes)
            and response.status < 500
        ):
            record = orjson.dumps(
                {
                    "hash": body_hash,
                    "status": response.status,
                    "body": response.body.decode(),
                    "type": response.content_type,
                }
            )
            await guard.call(lambda: redis.set(slot, record, ex=TTL_S))
        else:
            await guard.call(lambda: redis.delete(slot))  # a failure may be retried
        return response

    return middleware


async def _replay(
    request: web.Request, slot: str, body_hash: str, guard: RedisGuard
) -> web.StreamResponse:
    raw = await guard.call(lambda: request.app[REDIS].get(slot))
    text = raw.decode() if isinstance(raw, bytes) else (raw or "")
    if text.startswith("pending:"):
        if text != f"pending:{body_hash}":
            return _conflict(f"This {HEADER} was used for another request.")
        return _conflict(f"A request with this {HEADER} is still running; retry shortly.")
    if not text:
        return _conflict(f"A request with this {HEADER} just ended; retry.")
    record = orjson.loads(text)
    if record["hash"] != body_hash:
        return _conflict(f"This {HEADER} was used for another request.")
    response = web.Response(
        body=record["body"].encode(), status=record["status"], content_type=record["type"]
    )
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _conflict(message: str) -> web.Response:
    return error_response(200, message, Conflict.code)
