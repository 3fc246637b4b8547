"""Keeping a host's index in step with MongoDB, from the event stream.

One process per host is the writer: whichever worker takes the host's writer lock (an
``flock`` on ``writer.lock`` in the index directory, released by the kernel when that process
dies, so another worker takes over within ``ELECTION_INTERVAL_S``). It:

- listens to the search writers' event channel (its own pub/sub connection) and, for each
  batch of note events, reads the notes' current state from MongoDB and commits them to the
  index together with each workspace's last applied event id, its **checkpoint**: index and
  checkpoint can never disagree;
- on start and after every reconnection, **catches up** from each workspace's retained log
  (``EventLog.replay``) after its checkpoint; a workspace with no checkpoint, or whose log no
  longer reaches back to it, is reconciled instead;
- **reconciles** everything against MongoDB every ``search_reconcile_interval_seconds``
  (versions compared note by note), which repairs what no event announced: writes made while
  Redis was down, deleted workspaces;
- **rebuilds** the index from MongoDB when it has never been built, or when
  ``notes-bff search reindex`` asks (a ``REINDEX`` file in the index directory).

Applying an event means indexing the note as MongoDB has it now (or removing it if it is
gone), so events may arrive twice or out of order without harm.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import structlog
from beanie import PydanticObjectId
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from notes_bff import redis_client
from notes_bff.config import Settings
from notes_bff.errors import MONGO_OUTAGES
from notes_bff.models import Note, Workspace
from notes_bff.realtime.event_log import (
    INDEX_CHANNEL,
    ORIGIN,
    EventHistoryExpired,
    EventLog,
    id_after,
    stream_key,
)
from notes_bff.realtime.events import Event
from notes_bff.redis_guard import REDIS_OUTAGES
from notes_bff.search.backend import Changes, NoteFields
from notes_bff.search.engine import TantivyBackend

log = structlog.get_logger("notes_bff.search")

NOTE_EVENTS = frozenset({"CREATED", "UPDATED", "DELETED"})
ELECTION_INTERVAL_S = 2.0
TICK_S = 1.0
MAX_BATCH = 500
CHUNK = 200
MAX_BACKOFF_S = 10.0
# An interruption after this long a run starts the backoff over.
STABLE_S = 30.0
REINDEX_REQUEST = "REINDEX"


def writer_lock(root: Path) -> WriterLock:
    """The writer lock of the host's search directory ``root``."""
    return WriterLock(root / "writer.lock")


def reindex_request(root: Path) -> Path:
    """The file ``notes-bff search reindex`` creates in ``root`` to ask the running writer."""
    return root / REINDEX_REQUEST


class WriterLock:
    """The host's writer election: an exclusive ``flock`` on a file, never blocking."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock if no other process (or open file) holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        """Give the lock up."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _chunks(items: Sequence[str], size: int = CHUNK) -> Iterable[Sequence[str]]:
    return (items[i : i + size] for i in range(0, len(items), size))


def _oids(ids: Iterable[str]) -> list[PydanticObjectId]:
    return [PydanticObjectId(i) for i in ids]


async def latest_event_ids(redis: Redis, workspace_ids: Sequence[str]) -> dict[str, str]:
    """The newest logged event id of each workspace that has one (one round trip per chunk)."""
    latest: dict[str, str] = {}
    for chunk in _chunks(workspace_ids, 1000):
        async with redis.pipeline(transaction=False) as pipe:
            for workspace in chunk:
                pipe.xrevrange(stream_key(workspace), count=1)
            results = cast("list[list[tuple[bytes, Any]]]", await pipe.execute())
        for workspace, entries in zip(chunk, results, strict=True):
            if entries:
                latest[workspace] = entries[0][0].decode()
    return latest


class Store:
    """The indexer's reads of MongoDB, on a client of its own: its background scans never
    queue behind (or count among) the requests' operations."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self.notes = database[Note.Settings.name]
        self.workspaces = database[Workspace.Settings.name]

    async def workspace_ids(self, among: Iterable[str] | None = None) -> list[str]:
        """Every workspace in MongoDB (or those of ``among`` that exist)."""
        flt = {} if among is None else {"_id": {"$in": _oids(among)}}
        return [str(row["_id"]) for row in await self.workspaces.find(flt, {"_id": 1}).to_list()]

    async def notes_by_id(self, ids: Sequence[str]) -> dict[str, NoteFields]:
        """The current state of these notes (the missing ones are gone)."""
        rows = await self.notes.find({"_id": {"$in": _oids(ids)}}).to_list()
        return {str(row["_id"]): NoteFields.of(Note.model_validate(row)) for row in rows}

    async def versions(self, workspace_ids: Sequence[str]) -> dict[str, int]:
        """The stored version of every note of these workspaces."""
        rows = await self.notes.find(
            {"workspace_id": {"$in": _oids(workspace_ids)}}, {"version": 1}
        ).to_list()
        return {str(row["_id"]): row["version"] for row in rows}

    async def all_notes(self, batch: int = MAX_BATCH) -> AsyncIterator[list[NoteFields]]:
        """Every note, in batches (validated in a thread, off the event loop)."""
        pending: list[dict[str, Any]] = []
        async for row in self.notes.find({}, batch_size=batch):
            pending.append(row)
            if len(pending) >= batch:
                yield await asyncio.to_thread(_fields, pending)
                pending = []
        if pending:
            yield await asyncio.to_thread(_fields, pending)


def _fields(rows: list[dict[str, Any]]) -> list[NoteFields]:
    return [NoteFields.of(Note.model_validate(row)) for row in rows]


async def rebuild(
    backend: TantivyBackend, redis: Redis, store: Store
) -> tuple[int, dict[str, str]]:
    """Replace the index with every note in MongoDB; returns the count and the checkpoints.

    Each workspace's newest event id is read first: what happens during the build is
    applied again afterwards (harmlessly), never missed.
    """
    workspaces = await store.workspace_ids()
    latest = await latest_event_ids(redis, workspaces)
    checkpoints = {w: latest.get(w, ORIGIN) for w in workspaces}
    count = await backend.rebuild(store.all_notes(), checkpoints)
    return count, checkpoints


class Indexer:
    """The writer's loop: events, catch-up, reconciliation and rebuilds (see the module)."""

    def __init__(
        self,
        backend: TantivyBackend,
        store: Store,
        redis: Redis,
        settings: Settings,
        *,
        batch_delay_s: float,
        reconcile_interval_s: float,
    ) -> None:
        self.backend = backend
        self.store = store
        self.redis = redis
        self.settings = settings
        self.batch_delay_s = batch_delay_s
        self.reconcile_interval_s = reconcile_interval_s
        self.lock = writer_lock(backend.path.parent)
        self.log = EventLog(redis)
        self.checkpoints: dict[str, str] = {}

        self.reindex_request = reindex_request(backend.path.parent)

    async def serve(self) -> None:
        """Become the writer once the lock is free, then index until cancelled."""
        while True:
            if self.lock.acquire():
                break
            await asyncio.sleep(ELECTION_INTERVAL_S)
        log.info("search_writer_elected", pid=os.getpid(), path=str(self.backend.path))
        try:
            self.backend.open_writer()
            await self._run()
        finally:
            await self.backend.close()
            self.lock.release()

    async def _run(self) -> None:
        backoff = 0.5
        # The pub/sub connection waits for messages: no socket timeout, but PINGs.
        listener = redis_client.connect(
            self.settings,
            name=f"notes-bff-search:{os.getpid()}",
            socket_timeout=None,
            health_check_interval=15,
        )
        try:
            while True:
                started = time.monotonic()
                try:
                    await self._follow(listener)
                except (*REDIS_OUTAGES, *MONGO_OUTAGES) as exc:
                    log.warning("search_indexer_interrupted", error=str(exc)[:200])
                except Exception:
                    log.exception("search_indexer_failed")
                if time.monotonic() - started > STABLE_S:
                    backoff = 0.5
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
        finally:
            await listener.aclose()

    async def _follow(self, listener: Redis) -> None:
        """Subscribe, catch up, then apply live events until something fails."""
        pubsub = listener.pubsub(ignore_subscribe_messages=True)
        try:
            await listener.ping()  # a Cluster client learns the slots' owners first
            await pubsub.subscribe(INDEX_CHANNEL)
            if self.reindex_request.exists() or not self.backend.is_built:
                await self.rebuild()
            self.checkpoints = await self.backend.checkpoints()
            await self.catch_up()
            next_reconcile = time.monotonic() + self.reconcile_interval_s
            while True:
                events = await self._next_batch(pubsub)
                if events:
                    await self.apply_events(events)
                if self.reindex_request.exists():
                    await self.rebuild()
                if time.monotonic() >= next_reconcile:
                    await self.reconcile()
                    next_reconcile = time.monotonic() + self.reconcile_interval_s
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _next_batch(self, pubsub: Any) -> list[Event]:
        """The events of the next ``batch_delay_s`` after one arrives (empty after a tick)."""
        events: list[Event] = []
        deadline = time.monotonic() + TICK_S
        while len(events) < MAX_BATCH:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=remaining)
            if message is None or message.get("type") != "message":
                continue
            event_id, _, payload = message["data"].partition(b"|")
            event = Event.decode(payload, None if event_id == b"-" else event_id.decode())
            if event.kind in NOTE_EVENTS or event.kind == "MEMBERSHIP":
                if not events:
                    deadline = time.monotonic() + self.batch_delay_s
                events.append(event)
        return events

    def _advance(self, checkpoints: dict[str, str], workspace: str, event_id: str | None) -> None:
        """Record ``event_id`` as reached unless the workspace is already past it."""
        if event_id is None:
            return
        known = checkpoints.get(workspace) or self.checkpoints.get(workspace)
        if known is None or id_after(event_id, known):
            checkpoints[workspace] = event_id

    async def apply_events(self, events: Sequence[Event]) -> None:
        """Index the notes these events name as they are now; drop deleted workspaces."""
        note_ids: set[str] = set()
        checkpoints: dict[str, str] = {}
        touched: set[str] = set()
        for event in events:
            if event.workspace_id is None:
                continue
            if event.kind in NOTE_EVENTS and event.note_id is not None:
                note_ids.add(event.note_id)
                self._advance(checkpoints, event.workspace_id, event.event_id)
            elif event.kind == "MEMBERSHIP":
                touched.add(event.workspace_id)
        current = await self.store.notes_by_id(sorted(note_ids))
        existing = set(await self.store.workspace_ids(touched)) if touched else set()
        await self._commit(
            Changes(
                upserts=list(current.values()),
                deletions=sorted(note_ids - current.keys()),
                dropped_workspaces=sorted(touched - existing),
                checkpoints=checkpoints,
            )
        )

    async def _commit(self, changes: Changes) -> None:
        await self.backend.apply(changes)
        for workspace in changes.dropped_workspaces:
            self.checkpoints.pop(workspace, None)
        self.checkpoints.update(changes.checkpoints)

    async def catch_up(self) -> None:
        """Apply what each workspace's log holds after its checkpoint."""
        workspaces = await self.store.workspace_ids()
        latest = await latest_event_ids(self.redis, workspaces)
        stale: list[str] = []
        pending: list[Event] = []
        for workspace in workspaces:
            reached = self.checkpoints.get(workspace)
            newest = latest.get(workspace)
            if reached is None:
                stale.append(workspace)
            elif newest is not None and id_after(newest, reached):
                try:
                    pending.extend(await self.log.replay(workspace, reached))
                except EventHistoryExpired:
                    stale.append(workspace)
            if len(pending) >= MAX_BATCH:
                await self.apply_events(pending)
                pending = []
        if pending:
            await self.apply_events(pending)
        gone = sorted(self.checkpoints.keys() - set(workspaces))
        await self._commit(Changes(dropped_workspaces=gone))
        await self.reconcile(stale)

    async def reconcile(self, workspaces: Sequence[str] | None = None) -> int:
        """Make the index match MongoDB for these workspaces (all, and drop the deleted ones,
        when None); returns how many notes were out of step."""
        if workspaces is None:
            workspaces = await self.store.workspace_ids()
            gone = sorted(self.checkpoints.keys() - set(workspaces))
            await self._commit(Changes(dropped_workspaces=gone))
        repaired = 0
        for chunk in _chunks(workspaces):
            # Log positions first, then the index, then MongoDB: anything that changes in
            # between is applied again later, never missed.
            latest = await latest_event_ids(self.redis, chunk)
            indexed = await self.backend.versions(chunk)
            stored = await self.store.versions(chunk)
            changed = sorted(i for i, version in stored.items() if indexed.get(i) != version)
            deletions = sorted(indexed.keys() - stored.keys())
            for ids in _chunks(changed, MAX_BATCH):
                current = await self.store.notes_by_id(ids)
                await self._commit(Changes(upserts=list(current.values())))
            checkpoints: dict[str, str] = {}
            for workspace in chunk:
                self._advance(checkpoints, workspace, latest.get(workspace, ORIGIN))
            await self._commit(Changes(deletions=deletions, checkpoints=checkpoints))
            repaired += len(changed) + len(deletions)
        if repaired:
            log.info("search_reconciled", repaired=repaired)
        return repaired

    async def rebuild(self) -> int:
        """Rebuild from MongoDB (and answer a pending ``REINDEX`` request)."""
        started = time.monotonic()
        count, self.checkpoints = await rebuild(self.backend, self.redis, self.store)
        self.reindex_request.unlink(missing_ok=True)
        log.info("search_rebuilt", notes=count, seconds=round(time.monotonic() - started, 2))
        return count
