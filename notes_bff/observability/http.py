"""Each HTTP request: its id, its span, its metrics and its access log line.

The request id (a well-formed ``X-Request-Id``, else a new one) is bound to every log line
emitted while the request is served, in its own task and the tasks it starts, and echoed in
the response (the websocket handshake included). A websocket counts as an open connection
while it lasts, never as a latency sample.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from notes_bff.keys import REQUEST_ID
from notes_bff.metrics import Metrics
from notes_bff.observability import tracing
from notes_bff.observability.scope import observing

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = structlog.get_logger("notes_bff.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
TRACEPARENT = web.RequestKey("traceparent", str)
# Probes and scrapes are logged at debug: they would drown the lines that matter.
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def _close_code(code: int | None) -> str:
    """A websocket close code as a label: the standard and the application's, else other."""
    if code is not None and (1000 <= code < 1016 or 4000 <= code < 5000):
        return str(code)
    return "other"


def observe(metrics: Metrics) -> web.middleware:  # type: ignore[valid-type]
    """The outermost middleware (see the module's docstring)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        incoming = request.headers.get("X-Request-Id", "")
        request[REQUEST_ID] = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        route = _route(request)
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        bound = structlog.contextvars.bind_contextvars(request_id=request[REQUEST_ID])
        started, status, websocket = time.perf_counter(), 500, False
        with (
            tracing.server_span(request.method, route, request.headers) as span,
            observing(metrics),
        ):
            request[TRACEPARENT] = tracing.traceparent() or ""
            if upgrade:
                metrics.websockets.labels(route).inc()
            try:
                response = await handler(request)
                status = response.status
                if isinstance(response, web.WebSocketResponse):
                    websocket = True
                    metrics.websocket_closes.labels(route, _close_code(response.close_code)).inc()
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                elapsed = time.perf_counter() - started
                if upgrade:
                    metrics.websockets.labels(route).dec()
                metrics.labelled(metrics.requests, route, request.method, str(status)).inc()
                if not websocket:
                    metrics.labelled(metrics.latency, route).observe(elapsed)
                tracing.set_status(span, status)
                (log.debug if request.path in PROBES else log.info)(
                    "websocket" if websocket else "request",
                    method=request.method,
                    path=request.path,
                    route=route,
                    status=status,
                    ms=round(elapsed * 1000, 1),
                )
                structlog.contextvars.reset_contextvars(**bound)

    return middleware


async def identify_response(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the request id (and the trace's ``traceparent``) on every
    response, errors and websocket handshakes included."""
    if REQUEST_ID in request:
        response.headers["X-Request-Id"] = request[REQUEST_ID]
    if request.get(TRACEPARENT):
        response.headers["traceparent"] = request[TRACEPARENT]
