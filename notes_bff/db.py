"""MongoDB (Beanie) and Redis connections: the clients, and opening MongoDB."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any

import structlog
from beanie import init_beanie
from pymongo import AsyncMongoClient
from pymongo.monitoring import CommandListener
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from notes_bff.config import Settings
from notes_bff.errors import MONGO_OUTAGES
from notes_bff.metrics import Metrics
from notes_bff.migrations import backfill_email_skeletons
from notes_bff.models import DOCUMENT_MODELS
from notes_bff.observability.services import ObservedRedis

# Redis connections one process may hold for commands (the broker holds one more): the count
# never grows with requests or subscribers.
REDIS_POOL_SIZE = 16

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


async def init_beanie_until_ready(
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


def redis_client(settings: Settings, metrics: Metrics) -> Redis:
    """The process's Redis client for commands: a bounded pool whose connections are made
    lazily, with short timeouts, retrying a command once on a connection Redis closed."""
    if settings.redis_url is None:
        raise RuntimeError("NOTES_BFF_REDIS_URL is not set (the CLI starts an embedded server)")
    return ObservedRedis(
        metrics,
        connection_pool=BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=REDIS_POOL_SIZE,
            timeout=2,
            socket_timeout=2,
            socket_connect_timeout=2,
            health_check_interval=30,
            client_name=_client_name(),
            # A pooled connection that Redis closed (a restart) fails on first use: retry
            # such a command on a fresh connection instead of failing the request.
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
            retry_on_error=[RedisConnectionError],
        ),
    )


def redis_waiting_client(settings: Settings, role: str, **options: Any) -> Redis:
    """A client whose one connection waits on Redis (pub/sub, blocking reads): no shared
    pool, so its waits never hold a command connection."""
    if settings.redis_url is None:
        raise RuntimeError("NOTES_BFF_REDIS_URL is not set (the CLI starts an embedded server)")
    return Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=2,
        client_name=f"{_client_name()}:{role}",
        **options,
    )


def _client_name() -> str:
    return f"notes-bff:{os.getpid()}"
