"""Every long-lived component of a process, each opened and closed by one ``cleanup_ctx``
generator; :func:`components` lists them in the order they start (they stop in reverse)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta

import structlog
from aiohttp import web
from pymongo.monitoring import CommandListener

from notes_bff import redis_client
from notes_bff.auth.consistency import ConsistencyTokens, token_key
from notes_bff.auth.revocation import Revocations
from notes_bff.auth.sessions import SessionService
from notes_bff.auth.tokens import TokenService
from notes_bff.collab.service import Collaboration
from notes_bff.db import ListReads, init_beanie_until_ready, list_read_preference, mongo_client
from notes_bff.email.sender import EmailSender
from notes_bff.http.idempotency import TTL_S as IDEMPOTENCY_TTL_S
from notes_bff.keys import (
    COLLAB,
    CONSISTENCY,
    DOCUMENTS,
    IDEMPOTENCY_BUDGET,
    METRICS,
    MONGO,
    MONGO_READY,
    RATE_LIMITS,
    REALTIME,
    REDIS,
    RESPONSE_CACHE,
    SESSIONS,
    SETTINGS,
)
from notes_bff.models import read_routing
from notes_bff.observability.process import process_metrics
from notes_bff.persisted.store import DocumentStore
from notes_bff.ratelimit import AuthLimits, RateLimiter, RateLimits
from notes_bff.realtime.hub import Realtime
from notes_bff.redis_guard import RedisGuard
from notes_bff.response_cache.store import ResponseCache
from notes_bff.search import service as search_service
from notes_bff.services.digest import DigestScheduler
from notes_bff.services.due_soon import DueSoonScheduler
from notes_bff.services.erasure import AccountErasure, Eraser

log = structlog.get_logger("notes_bff.wiring")
CleanupContext = Callable[[web.Application], AsyncIterator[None]]


def process_name() -> str:
    """How this process's Redis connections are named in ``CLIENT LIST``."""
    return f"notes-bff:{os.getpid()}"


def components(mongo_listeners: Sequence[CommandListener] = ()) -> list[CleanupContext]:
    """The process's components, in start order."""
    return [
        process_metrics,
        mongo(mongo_listeners),
        list_reads(mongo_listeners),
        redis,
        realtime,
        response_cache,
        sessions,
        document_store,
        rate_limits,
        collaboration,
        due_soon_scheduler,
        digest_scheduler,
        email_sender,
        account_erasure,
        search,
    ]


def mongo(listeners: Sequence[CommandListener] = ()) -> CleanupContext:
    """MongoDB and Beanie.

    The first initialization is awaited, so a healthy server starts fully ready. When
    MongoDB does not answer, the server starts anyway (``/readyz`` says 503, operations
    answer ``SERVICE_UNAVAILABLE``) and keeps retrying in the background until it does.
    """

    async def open_mongo(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        client = mongo_client(settings, listeners)
        ready = asyncio.Event()
        app[MONGO] = client
        app[MONGO_READY] = ready
        task = asyncio.create_task(init_beanie_until_ready(client, settings, ready))
        await asyncio.wait([task], timeout=settings.mongodb_timeout_ms / 1000 + 1)
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.close()

    return open_mongo


def list_reads(listeners: Sequence[CommandListener] = ()) -> CleanupContext:
    """Where list reads go, and consistency tokens, when list reads may leave the primary
    (a secondary read preference, or a list-read deployment); nothing otherwise."""

    async def open_list_reads(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        if not settings.list_reads_routed:
            yield
            return
        primary = app[MONGO]
        uri = settings.mongodb_list_read_uri
        client = mongo_client(settings, listeners, uri) if uri else primary
        route = ListReads(
            client, list_read_preference(settings), settings.mongodb_timeout_ms / 1000
        )
        app[CONSISTENCY] = ConsistencyTokens(token_key(settings), primary, settings.mongodb_db)
        with read_routing.installed(route):
            yield
        if client is not primary:
            await client.close()

    return open_list_reads


async def redis(app: web.Application) -> AsyncIterator[None]:
    """The Redis client for commands (connections are made lazily)."""
    client = redis_client.connect(app[SETTINGS], name=process_name(), metrics=app[METRICS])
    app[REDIS] = client
    yield
    await client.aclose()


async def realtime(app: web.Application) -> AsyncIterator[None]:
    """Live events: the broker's pub/sub link waits for messages (no socket timeout, but
    PINGs, and no retries: it closes its gaps itself), the event log and presence share the
    command client."""
    settings = app[SETTINGS]
    broker_client = redis_client.connect(
        settings,
        name=f"{process_name()}:broker",
        socket_timeout=None,
        health_check_interval=15,
        retries=0,
    )
    hub = Realtime(app[REDIS], broker_client, app[METRICS], settings.subscriber_queue_size)
    app[REALTIME] = hub
    hub.broker.start()
    yield
    await hub.broker.stop()
    await broker_client.aclose()


async def response_cache(app: web.Application) -> AsyncIterator[None]:
    """Query answers (unless turned off), invalidated through the realtime hub's writes."""
    settings = app[SETTINGS]
    if settings.response_cache:
        app[RESPONSE_CACHE] = ResponseCache(
            app[REDIS],
            app[REALTIME].versions,
            app[METRICS],
            ttl_s=settings.response_cache_ttl_seconds,
            l1_entries=settings.response_cache_entries,
        )
    yield


async def sessions(app: web.Application) -> AsyncIterator[None]:
    """Tokens and sessions; ended sessions are learnt from every worker through the broker."""
    settings = app[SETTINGS]
    revocations = Revocations(
        app[REDIS],
        RedisGuard("revocations", app[METRICS]),
        timedelta(seconds=settings.access_token_ttl_seconds),
        settings.revocation_cache_seconds,
    )
    app[SESSIONS] = SessionService(TokenService.from_settings(settings), revocations)
    revocations.start(app[REALTIME].broker)
    yield
    await revocations.stop()


async def document_store(app: web.Application) -> AsyncIterator[None]:
    """Persisted and APQ documents: Redis, with a bounded cache in the process."""
    settings = app[SETTINGS]
    app[DOCUMENTS] = DocumentStore(
        app[REDIS],
        app[METRICS],
        ttl_seconds=settings.apq_ttl_seconds,
        lru_size=settings.document_cache_size,
        lru_bytes=settings.document_cache_bytes,
        register_bytes=settings.apq_register_bytes,
        fallback=settings.rate_limit_fallback,
    )
    yield


async def rate_limits(app: web.Application) -> AsyncIterator[None]:
    """Every budget: operations, sign-in attempts, member lookups, password-reset requests,
    idempotency bytes."""
    settings = app[SETTINGS]
    client = app[REDIS]
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
        password_reset=limiter(
            "password-reset",
            settings.password_reset_requests,
            settings.password_reset_period_seconds,
        ),
        password_reset_ip=limiter(
            "password-reset-ip",
            settings.password_reset_requests_per_ip,
            settings.password_reset_period_seconds,
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
    yield


async def collaboration(app: web.Application) -> AsyncIterator[None]:
    """Collaborative editing (its reader has its own connection, since its reads block);
    every open document is written back on shutdown."""
    settings = app[SETTINGS]
    reader = redis_client.connect(settings, name=f"{process_name()}:collab", socket_timeout=10)
    collab = Collaboration(app[REDIS], reader, app[REALTIME], settings)
    app[COLLAB] = collab
    collab.start()
    yield
    await collab.stop()
    await reader.aclose()


async def due_soon_scheduler(app: web.Application) -> AsyncIterator[None]:
    """DUE_SOON notifications (one scanner in the deployment at a time)."""
    scheduler = DueSoonScheduler(app[REDIS], app[REALTIME], app[SETTINGS])
    scheduler.start()
    yield
    await scheduler.stop()


async def digest_scheduler(app: web.Application) -> AsyncIterator[None]:
    """Daily digest emails (one scanner in the deployment at a time)."""
    scheduler = DigestScheduler(app[REDIS], app[METRICS], app[SETTINGS])
    scheduler.start()
    yield
    await scheduler.stop()


async def email_sender(app: web.Application) -> AsyncIterator[None]:
    """Sends the email outbox through SMTP; without an SMTP host, emails wait in it."""
    settings = app[SETTINGS]
    if settings.smtp_host is None:
        log.warning("email_not_sent", reason="no NOTES_BFF_SMTP_HOST: emails wait in the outbox")
        yield
        return
    sender = EmailSender(settings, app[METRICS])
    sender.start()
    yield
    await sender.stop()


async def account_erasure(app: web.Application) -> AsyncIterator[None]:
    """Erasing accounts whose deletion grace period is over (one process at a time)."""
    eraser = Eraser(app[REALTIME], app[SESSIONS].revocations, app[REDIS])
    interval = app[SETTINGS].account_erasure_interval_seconds
    job = AccountErasure(app[REDIS], app[METRICS], interval, eraser)
    job.start()
    yield
    await job.stop()


async def search(app: web.Application) -> AsyncIterator[None]:
    """The process's search service and, when it wins the host's election, the indexer."""
    async with search_service.running(app[SETTINGS], app[REDIS], app[METRICS]):
        yield
