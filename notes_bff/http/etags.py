"""The browser tier of the response cache: ``ETag`` and ``304 Not Modified`` for GET queries
(persisted queries are GETs a browser and a CDN can keep), ``Cache-Control`` per setting."""

from __future__ import annotations

import hashlib

from aiohttp import web

from notes_bff.http.middlewares import Handler

GRAPHQL_PATH = "/graphql"
KEPT_ON_304 = ("X-Cache", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def etag_of(body: bytes) -> str:
    """A strong validator of an answer's bytes."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def _matches(if_none_match: str, etag: str) -> bool:
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return etag in tags or "*" in tags


def etags(max_age_s: int) -> web.middleware:  # type: ignore[valid-type]
    """Tag successful GET answers of /graphql; answer 304 when the client holds the same.

    Answers are per caller (``private``, ``Vary: Authorization, Cookie``); with
    ``max_age_s`` 0 a browser revalidates every time (a 304 costs no body), above it a
    browser may reuse an answer that long without asking. Answers with errors are not kept.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if (
            request.method != "GET"
            or request.path != GRAPHQL_PATH
            or not isinstance(response, web.Response)
            or response.status != 200
            or response.content_type != "application/json"
            or not isinstance(response.body, bytes)
            or b'"errors"' in response.body
        ):
            return response
        etag = etag_of(response.body)
        headers = {
            "ETag": etag,
            "Cache-Control": f"private, max-age={max_age_s}" if max_age_s else "private, no-cache",
            "Vary": "Authorization, Cookie",
        }
        if _matches(request.headers.get("If-None-Match", ""), etag):
            not_modified = web.Response(status=304, headers=headers)
            for name in KEPT_ON_304:
                if name in response.headers:
                    not_modified.headers[name] = response.headers[name]
            return not_modified
        response.headers.update(headers)
        return response

    return middleware
