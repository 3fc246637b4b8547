"""The drain that begins a graceful shutdown: from SIGTERM on, ``/readyz`` answers 503 while
the server still serves, so load balancers stop sending traffic before the websockets close.

Imports nothing of the server, so the CLI can use it before Prometheus is set up.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiohttp import web

from notes_bff.config import Settings

log = structlog.get_logger("notes_bff.health")
PRODUCTION_DRAIN_S = 5


@dataclass
class Drain:
    """Whether a graceful shutdown has begun."""

    started: bool = False


DRAIN = web.AppKey("drain", Drain)


def drain_seconds(settings: Settings) -> int:
    """How long SIGTERM drains: ``NOTES_BFF_DRAIN_SECONDS``, else 5 s in production, 0 in
    development."""
    if settings.drain_seconds is not None:
        return settings.drain_seconds
    return PRODUCTION_DRAIN_S if settings.is_production else 0


def drain_on_sigterm(settings: Settings) -> Callable[[web.Application], Awaitable[None]]:
    """An ``on_startup`` hook for a served application (tests' own keep their signals).

    SIGTERM marks the application draining, then after :func:`drain_seconds` the process
    sends itself SIGINT, which aiohttp handles as a graceful stop (in ``run_app`` and in its
    gunicorn workers alike): stop accepting, close websockets with 1001, finish requests.
    """
    delay = drain_seconds(settings)

    async def install(app: web.Application) -> None:
        loop = asyncio.get_running_loop()

        def begin() -> None:
            if not app[DRAIN].started:
                app[DRAIN].started = True
                log.info("draining", seconds=delay)
                loop.call_later(delay, os.kill, os.getpid(), signal.SIGINT)

        loop.add_signal_handler(signal.SIGTERM, begin)

    return install
