"""JSON error responses for requests refused before GraphQL runs."""

from __future__ import annotations

import orjson
from aiohttp import web


def error_response(
    status: int, message: str, code: str, headers: dict[str, str] | None = None
) -> web.Response:
    """``{"errors": [{"message", "extensions": {"code"}}]}`` with an HTTP status."""
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )
