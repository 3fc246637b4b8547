"""MongoDB: the client, and Beanie initialized (with its indexes) as soon as it answers.
Redis clients come from ``redis_client.py``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from beanie import init_beanie
from pymongo import AsyncMongoClient
from pymongo.monitoring import CommandListener

from notes_bff.config import Settings
from notes_bff.errors import MONGO_OUTAGES
from notes_bff.migrations import backfill_email_skeletons
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
