"""MongoDB: the clients (the primary's, and where list reads go), and Beanie initialized
(with its indexes) as soon as it answers. Redis clients come from ``redis_client.py``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pymongo
import structlog
from beanie import init_beanie
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.monitoring import CommandListener
from pymongo.read_preferences import (
    Nearest,
    Primary,
    PrimaryPreferred,
    Secondary,
    SecondaryPreferred,
)

from notes_bff.config import IndexHints, ReadPreferenceMode, Settings
from notes_bff.errors import MONGO_OUTAGES
from notes_bff.migrations import backfill_email_skeletons
from notes_bff.models import DOCUMENT_MODELS
from notes_bff.models.index_hints import use_hints
from notes_bff.models.read_routing import ReadAfter

log = structlog.get_logger("notes_bff.db")


def mongo_client(
    settings: Settings, listeners: Sequence[CommandListener] = (), uri: str | None = None
) -> AsyncMongoClient:  # type: ignore[type-arg]
    """A client (of ``NOTES_BFF_MONGODB_URI`` unless told ``uri``) with short timeouts, so a
    dead database fails fast instead of hanging, writing with the configured write concern."""
    uri = uri or settings.mongodb_uri
    if uri is None:
        raise RuntimeError("NOTES_BFF_MONGODB_URI is not set (the CLI starts an embedded server)")
    timeout = settings.mongodb_timeout_ms
    concern = settings.mongodb_write_concern
    return AsyncMongoClient(
        uri,
        w=int(concern) if concern.isdigit() else concern,
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
            use_hints(await sends_hints(client, settings.mongodb_index_hints))
        except MONGO_OUTAGES as exc:
            log.warning("mongodb_not_ready", error=str(exc)[:200], retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
        else:
            ready.set()
            return


async def sends_hints(client: AsyncMongoClient, setting: IndexHints) -> bool:  # type: ignore[type-arg]
    """Whether queries name their index: as set, or (``auto``) unless the server is
    SecantusDB, whose ``buildInfo`` carries ``secantusVersion`` (docs/indexes.md)."""
    if setting is not IndexHints.AUTO:
        return setting is IndexHints.ON
    info = await client.admin.command("buildInfo")
    return "secantusVersion" not in info


SecondaryMode = PrimaryPreferred | SecondaryPreferred | Secondary | Nearest
ReadPreference = Primary | SecondaryMode
_SECONDARY_MODES: dict[ReadPreferenceMode, type[SecondaryMode]] = {
    ReadPreferenceMode.PRIMARY_PREFERRED: PrimaryPreferred,
    ReadPreferenceMode.SECONDARY_PREFERRED: SecondaryPreferred,
    ReadPreferenceMode.SECONDARY: Secondary,
    ReadPreferenceMode.NEAREST: Nearest,
}


def list_read_preference(settings: Settings) -> ReadPreference:
    """The read preference of list reads: mode, tag sets and maximum staleness."""
    mode = settings.mongodb_list_read_preference
    if mode is ReadPreferenceMode.PRIMARY:
        return Primary()
    staleness = settings.mongodb_max_staleness_seconds
    return _SECONDARY_MODES[mode](
        tag_sets=settings.mongodb_read_tags or None,
        max_staleness=-1 if staleness is None else staleness,
    )


class ListReads:
    """Where list reads go: a client (the primary's, or the list-read deployment's) and the
    list read preference. Implements ``models.read_routing.ListReadRoute``."""

    def __init__(
        self,
        client: AsyncMongoClient[Any],
        preference: ReadPreference,
        wait_s: float,
    ) -> None:
        self._client = client
        self._preference = preference
        self._wait_s = wait_s
        self._collections: dict[tuple[str, str], AsyncCollection[Any]] = {}

    def collection(self, primary: AsyncCollection[Any]) -> AsyncCollection[Any]:
        """``primary``'s collection on the list-read client, with the list read preference."""
        key = (primary.database.name, primary.name)
        routed = self._collections.get(key)
        if routed is None:
            routed = self._client[key[0]].get_collection(
                key[1], codec_options=primary.codec_options, read_preference=self._preference
            )
            self._collections[key] = routed
        return routed

    @asynccontextmanager
    async def causal_session(self, after: ReadAfter) -> AsyncIterator[AsyncClientSession]:
        """A causally consistent session that reads after ``after``; its reads wait at most
        ``wait_s`` (MongoDB's ``maxTimeMS``) for a secondary to catch up."""
        async with self._client.start_session(causal_consistency=True) as session:
            session.advance_cluster_time(after.cluster_time)
            session.advance_operation_time(after.operation_time)
            with pymongo.timeout(self._wait_s):
                yield session


async def last_write(client: AsyncMongoClient[Any], database: str) -> ReadAfter | None:
    """A point at or after every write this client has had acknowledged: the operation time
    of a ``ping`` on the primary, in a causally consistent session (None for a server
    without cluster times, a standalone)."""
    async with client.start_session(causal_consistency=True) as session:
        await client[database].command("ping", session=session)
        if session.operation_time is None or session.cluster_time is None:
            return None
        return ReadAfter(session.operation_time, session.cluster_time)
