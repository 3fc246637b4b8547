"""``Idempotency-Key``: a retried mutation (same key, same caller, same body) gets the first
response again instead of running twice, for 24 hours; the same key with another body is
``CONFLICT``.

Only mutations are recorded (a query runs again, it changes nothing). A record keeps at most
``NOTES_BFF_IDEMPOTENCY_MAX_BYTES`` of response (a larger one is remembered as done, and a
retry is told so instead of getting it), and each caller may have the server keep at most
``NOTES_BFF_IDEMPOTENCY_BYTES_PER_CALLER`` bytes of records a day: past that, a request with
a key is ``RATE_LIMITED`` before it runs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from notes_bff.errors import AppError, Conflict
from notes_bff.http.cookies import ACCESS_COOKIE, bearer_token
from notes_bff.http.responses import error_response
from notes_bff.keys import IDEMPOTENCY_BUDGET, OPERATION_TYPE, REDIS, SESSIONS, SETTINGS
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
        caller = _caller(request)
        slot = f"{PREFIX}{caller}:{key}"
        budget = request.app[IDEMPOTENCY_BUDGET]
        kept = await budget.take(caller, 1)  # refused once the budget is full
        if not kept.allowed:
            error = kept.error()
            retry = str(error.extensions["retryAfter"])
            return error_response(429, error.message, error.code, {"Retry-After": retry})
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
        record = _record(request, response, body_hash)
        if record is None:
            await guard.call(lambda: redis.delete(slot))  # nothing to protect, or retryable
        else:
            await guard.call(lambda: redis.set(slot, record, ex=TTL_S))
            spent = await budget.take(caller, len(record))
            if not spent.allowed:  # it overflows what is left: the budget is full now
                await budget.take(caller, spent.remaining)
        return response

    return middleware


def _record(request: web.Request, response: web.StreamResponse, body_hash: str) -> bytes | None:
    """What to keep of a finished request: mutations that did not fail on the server only,
    their body when it is small enough."""
    if request.get(OPERATION_TYPE) != "mutation" or not isinstance(response, web.Response):
        return None
    if not isinstance(response.body, bytes) or response.status >= 500:
        return None
    limit = request.app[SETTINGS].idempotency_max_bytes
    body = response.body.decode() if len(response.body) <= limit else None
    return orjson.dumps(
        {
            "hash": body_hash,
            "status": response.status,
            "body": body,
            "size": len(response.body),
            "type": response.content_type,
        }
    )


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
    if record["body"] is None:
        return _conflict(
            f"This request already ran; its response ({record['size']} bytes) was too large "
            "to keep for a replay."
        )
    response = web.Response(
        body=record["body"].encode(), status=record["status"], content_type=record["type"]
    )
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _conflict(message: str) -> web.Response:
    return error_response(200, message, Conflict.code)
