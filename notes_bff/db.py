"""MongoDB (Beanie) and Redis connections as ``cleanup_ctx`` generators."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta

import structlog
from aiohttp import web
from beanie import init_beanie
from pymongo import AsyncMongoClient
from pymongo.monitoring import CommandListener

from notes_bff import redis_client
from notes_bff.auth.revocation import Revocations
from notes_bff.auth.sessions import SessionService
from notes_bff.auth.tokens import TokenService
from notes_bff.config import Settings
from notes_bff.errors import MONGO_OUTAGES
from notes_bff.http.idempotency import TTL_S as IDEMPOTENCY_TTL_S
from notes_bff.keys import (
    DOCUMENTS,
    IDEMPOTENCY_BUDGET,
    METRICS,
    MONGO,
    MONGO_READY,
    RATE_LIMITS,
    REALTIME,
    REDIS,
    SESSIONS,
    SETTINGS,
)
from notes_bff.migrations import backfill_email_skeletons
from notes_bff.models import DOCUMENT_MODELS
from notes_bff.persisted.store import DocumentStore
from notes_bff.ratelimit import AuthLimits, RateLimiter, RateLimits
from notes_bff.realtime.hub import Realtime
from notes_bff.realtime.scheduler import DueSoonScheduler
from notes_bff.redis_guard import RedisGuard

log = structlog.get_logger("notes_bff.db")


def mongo_client(settings: Settings, listeners: Sequence[CommandListener] = ()) -> AsyncMongoClient:  # type: ignore[type-arg]
    """A client with short timeouts, so a dead database fails fast instead of hanging."""
    if settings.mongodb_uri is None:
        raise RuntimeError("NOTES_BFF_MONGODB_URI is not set (the CLI starts an embedded server)")
    timeout = settings.mongodb_timeout_ms
    return AsyncMongoClient(
        settings.mongodb_uri,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout,
        connectTimeoutMS=timeout,
        socketTimeoutMS=timeout * 2,
        appname="notes-bff",
        event_listeners=list(listeners),
    )


async def _init_beanie_until_ready(
    client: AsyncMongoClient,  # type: ignore[type-arg]
    settings: Settings,
    ready: asyncio.Event,
) -> None:
    """Initialize Beanie (and build indexes), retrying with backoff while MongoDB is down."""
    delay = 0.5
    while True:
        try:
            await init_beanie(database=client[settings.mongodb_db], document_models=DOCUMENT_MODELS)
            await backfill_email_skeletons()
        except MONGO_OUTAGES as exc:
            log.warning("mongodb_not_ready", error=str(exc)[:200], retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
        else:
            ready.set()
            return


def mongo_context(
    listeners: Sequence[CommandListener] = (),
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that opens MongoDB and initializes Beanie, then closes the client.

    The first initialization is awaited, so a healthy server starts fully ready. When
    MongoDB does not answer, the server starts anyway (``/readyz`` says 503, operations
    answer ``SERVICE_UNAVAILABLE``) and keeps retrying in the background until it does.
    """

    async def mongo(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        client = mongo_client(settings, listeners)
        ready = asyncio.Event()
        app[MONGO] = client
        app[MONGO_READY] = ready
        task = asyncio.create_task(_init_beanie_until_ready(client, settings, ready))
        await asyncio.wait([task], timeout=settings.mongodb_timeout_ms / 1000 + 1)
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.close()

    return mongo


async def redis_context(app: web.Application) -> AsyncIterator[None]:
    """Open the Redis client (connections are made lazily) and close it on shutdown."""
    settings = app[SETTINGS]
    name = f"notes-bff:{os.getpid()}"
    client = redis_client.connect(settings, name=name, metrics=app[METRICS])
    # The broker's one pub/sub connection waits for messages: no socket timeout, but PINGs.
    broker_client = redis_client.connect(
        settings, name=f"{name}:broker", socket_timeout=None, health_check_interval=15
    )
    app[REDIS] = client
    realtime = Realtime(client, broker_client, app[METRICS], settings.subscriber_queue_size)
    app[REALTIME] = realtime
    realtime.broker.start()
    revocations = Revocations(
        client,
        RedisGuard("revocations", app[METRICS]),
        timedelta(seconds=settings.access_token_ttl_seconds),
        settings.revocation_cache_seconds,
    )
    app[SESSIONS] = SessionService(TokenService.from_settings(settings), revocations)
    revocations.start(realtime.broker)
    app[DOCUMENTS] = DocumentStore(
        client,
        app[METRICS],
        ttl_seconds=settings.apq_ttl_seconds,
        lru_size=settings.document_cache_size,
        lru_bytes=settings.document_cache_bytes,
        register_bytes=settings.apq_register_bytes,
        fallback=settings.rate_limit_fallback,
    )
    guard = RedisGuard("rate_limits", app[METRICS])

    def limiter(name: str, limit: int, period: float) -> RateLimiter:
        return RateLimiter(client, guard, name, limit, period, settings.rate_limit_fallback)

    app[RATE_LIMITS] = RateLimits(
        user=limiter("user", settings.rate_limit_points, settings.rate_limit_period_seconds),
        anonymous=limiter(
            "ip", settings.rate_limit_anonymous_points, settings.rate_limit_period_seconds
        ),
        auth=AuthLimits(
            client,
            guard,
            per_pair=limiter("auth-pair", settings.auth_attempts, settings.auth_period_seconds),
            per_account=limiter(
                "auth-account", settings.auth_account_attempts, settings.auth_account_period_seconds
            ),
            per_address=limiter(
                "auth-ip", settings.auth_attempts_per_ip, settings.auth_period_seconds
            ),
            refreshes_per_address=limiter(
                "refresh-ip", settings.refresh_attempts_per_ip, settings.auth_period_seconds
            ),
            known_ttl_s=settings.known_address_ttl_seconds,
        ),
        member_lookup=limiter(
            "member-lookup", settings.member_lookup_misses, settings.member_lookup_period_seconds
        ),
        member_lookup_ip=limiter(
            "member-lookup-ip",
            settings.member_lookup_misses_per_ip,
            settings.member_lookup_period_seconds,
        ),
    )
    app[IDEMPOTENCY_BUDGET] = RateLimiter(
        client,
        RedisGuard("idempotency", app[METRICS]),
        "idempotency-bytes",
        settings.idempotency_bytes_per_caller,
        IDEMPOTENCY_TTL_S,
        settings.rate_limit_fallback,
    )
    scheduler = DueSoonScheduler(client, realtime, settings.due_soon_interval_seconds)
    scheduler.start()
    yield
    await scheduler.stop()
    await revocations.stop()
    await realtime.broker.stop()
    await broker_client.aclose()
    await client.aclose()
