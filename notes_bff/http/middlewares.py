"""Middlewares: JSON errors, CORS, security headers, compression (request ids, access logs
and metrics: ``observability/http.py``)."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import brotli
from aiohttp import hdrs, web

from notes_bff.config import Settings
from notes_bff.http.responses import error_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CORS_HEADERS = (
    "Content-Type, Authorization, Apollo-Require-Preflight, X-Apollo-Operation-Name, "
    "X-Requested-With, X-Request-Id, Idempotency-Key, X-Notes-Consistency"
)
# Response headers a page of another allowed origin may read (docs/frontend.md).
CORS_EXPOSED_HEADERS = (
    "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, X-Request-Id, "
    "Idempotent-Replayed, ETag, X-Cache, X-Notes-Consistency"
)
# Brotli quality 4 compresses JSON answers within 5 % of quality 5 for 60 % of its CPU
# time. Bodies from OFF_LOOP_BYTES on (0.5 ms of compression and more) are compressed in
# threads of their own: brotli and zlib release the GIL, so the loop keeps serving, and
# password hashing in the default executor cannot delay them (docs/security.md).
BROTLI_QUALITY = 4
GZIP_LEVEL = 6
OFF_LOOP_BYTES = 64 * 1024
_compressors = ThreadPoolExecutor(max_workers=2, thread_name_prefix="compress")


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own refusals on /graphql (413 body too large, 405…) as GraphQL-style JSON."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if request.path != "/graphql" or exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return error_response(exc.status, exc.reason, "BAD_USER_INPUT", headers)


def cors(settings: Settings) -> web.middleware:  # type: ignore[valid-type]
    """CORS for the configured origins, with credentials (cookies) allowed."""
    allowed = set(settings.cors_origins)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN, "").rstrip("/")
        preflight = (
            request.method == "OPTIONS" and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
        )
        if preflight:
            response: web.StreamResponse = web.Response(status=204)
        else:
            response = await handler(request)
        if origin and origin in allowed:
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"
            if preflight:
                response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = "GET, POST, OPTIONS"
                response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = CORS_HEADERS
                response.headers[hdrs.ACCESS_CONTROL_MAX_AGE] = "600"
            else:
                response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = CORS_EXPOSED_HEADERS
        response.headers.add(hdrs.VARY, "Origin")
        return response

    return middleware


def security_headers(settings: Settings) -> web.middleware:  # type: ignore[valid-type]
    """Headers every response carries (HSTS in production)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if settings.is_production:
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        return response

    return middleware


def _accepts(accept_encoding: str, coding: str) -> bool:
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() == coding:
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _compress(coding: str, body: bytes) -> bytes:
    if coding == "br":
        return bytes(brotli.compress(body, quality=BROTLI_QUALITY))
    return zlib.compress(body, GZIP_LEVEL, wbits=31)  # wbits=31: the gzip format


def compression(min_bytes: int) -> web.middleware:  # type: ignore[valid-type]
    """Brotli (when the client sends ``br``) or gzip for bodies of at least ``min_bytes``."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if not isinstance(response, web.Response) or hdrs.CONTENT_ENCODING in response.headers:
            return response
        body = response.body
        accept = request.headers.get(hdrs.ACCEPT_ENCODING, "")
        coding = "br" if _accepts(accept, "br") else "gzip" if _accepts(accept, "gzip") else None
        if not isinstance(body, bytes) or len(body) < min_bytes or coding is None:
            return response
        if len(body) < OFF_LOOP_BYTES:
            response.body = _compress(coding, body)
        else:
            loop = asyncio.get_running_loop()
            response.body = await loop.run_in_executor(_compressors, _compress, coding, body)
        response.headers[hdrs.CONTENT_ENCODING] = coding
        response.headers.add(hdrs.VARY, "Accept-Encoding")
        return response

    return middleware
