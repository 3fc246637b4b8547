"""MongoDB (Beanie) and Redis connections as ``cleanup_ctx`` generators."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import structlog
from aiohttp import web
from beanie import init_beanie
from pymongo import AsyncMongoClient
from pymongo.monitoring import CommandListener
from redis.asyncio import Redis

from notes_bff.config import Settings
from notes_bff.keys import MONGO, REDIS
from notes_bff.models import DOCUMENT_MODELS

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


def mongo_context(listeners: Sequence[CommandListener] = ()):  # type: ignore[no-untyped-def]
    """A cleanup context that opens MongoDB, initializes Beanie (and indexes), then closes."""

    async def mongo(app: web.Application) -> AsyncIterator[None]:
        from notes_bff.keys import SETTINGS

        settings = app[SETTINGS]
        client = mongo_client(settings, listeners)
        await init_beanie(database=client[settings.mongodb_db], document_models=DOCUMENT_MODELS)
        app[MONGO] = client
        yield
        await client.close()

    return mongo


async def redis_context(app: web.Application) -> AsyncIterator[None]:
    """Open the Redis client (connections are made lazily) and close it on shutdown."""
    from notes_bff.keys import SETTINGS

    settings = app[SETTINGS]
    if settings.redis_url is None:
        raise RuntimeError("NOTES_BFF_REDIS_URL is not set (the CLI starts an embedded server)")
    client = Redis.from_url(
        settings.redis_url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
    )
    app[REDIS] = client
    yield
    await client.aclose()
