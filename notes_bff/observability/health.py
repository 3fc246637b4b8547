"""Probes: liveness and readiness.

``/healthz`` (liveness) says only that the process serves. ``/readyz`` (readiness) says
whether this instance can do useful work: MongoDB answers and Beanie is initialized. Redis
down is reported as ``degraded`` but stays 200, since every part degrades without it, and a
shared Redis failing must not take every instance out of the load balancer. From SIGTERM on,
``/readyz`` answers 503 while the server still serves, so balancers stop sending traffic
before the websockets are closed (``drain.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import orjson
from aiohttp import web

from notes_bff.keys import METRICS, MONGO, MONGO_READY, REDIS
from notes_bff.observability.drain import DRAIN

READY_TIMEOUT_S = 2.0


async def healthz(request: web.Request) -> web.Response:
    """Liveness: 200 while the process serves."""
    return web.json_response({"status": "ok"})


async def _failure(probe: Awaitable[object]) -> str | None:
    """What went wrong with ``probe`` (within ``READY_TIMEOUT_S``), or None."""
    try:
        await asyncio.wait_for(probe, READY_TIMEOUT_S)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


def _answer(request: web.Request, status: str, **problems: dict[str, str]) -> web.Response:
    """The readiness answer (503 unless ``ready`` or ``degraded``), counted in the metrics."""
    request.app[METRICS].readiness.labels(status).inc()
    body = {"status": status, "failed": {}, "degraded": {}, **problems}
    code = 200 if status in ("ready", "degraded") else 503
    return web.Response(body=orjson.dumps(body), status=code, content_type="application/json")


async def readyz(request: web.Request) -> web.Response:
    """Readiness: 200 ``ready`` or ``degraded`` (Redis down); 503 ``unavailable`` (MongoDB
    down or initializing) or ``draining``."""
    app = request.app
    if app[DRAIN].started:
        return _answer(request, "draining")
    mongodb, redis = await asyncio.gather(
        _failure(app[MONGO].admin.command("ping")), _failure(app[REDIS].ping())
    )
    if mongodb is None and not app[MONGO_READY].is_set():
        mongodb = "initializing (indexes)"
    degraded = {"redis": redis} if redis else {}
    if mongodb:
        return _answer(request, "unavailable", failed={"mongodb": mongodb}, degraded=degraded)
    return _answer(request, "degraded" if redis else "ready", degraded=degraded)
