"""This process's collaborative editing: its rooms, the log reader, checkpoints, the compactor,
and the operations GraphQL offers (tickets, merged edits, restore points, who is editing).

- **Reader.** Blocking ``XREAD``s follow the logs of the notes the process has rooms for, from
  each room's last id (collab/reader.py).
- **Checkpoints.** A room's text is written to the note at most every
  ``NOTES_BFF_COLLAB_CHECKPOINT_SECONDS`` while it changes, and when its last connection leaves
  (after its queued updates are appended and the log read to its end).
- **Compactor.** Every worker tries every ``NOTES_BFF_COLLAB_COMPACT_INTERVAL_SECONDS``; the
  holder of a Redis lease merges due logs into their persisted state (compare-and-set on the
  state's ``log_id``: two compactors never lose or double anything), checkpoints the text (so
  edits of a worker that died reach the note) and trims merged entries older than
  ``NOTES_BFF_COLLAB_LOG_MIN_AGE_SECONDS``.
- **Rights.** A room follows its workspace's membership events: a removed member's connections
  close (4403) and a downgraded one's turn read-only at once; a deleted note closes them (4404).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import cast

import structlog
from beanie import PydanticObjectId
from pycrdt import Text
from redis.asyncio import Redis

from notes_bff.auth.tokens import TokenClaims
from notes_bff.background import BackgroundTasks
from notes_bff.collab.checkpoint import SnapshotPolicy, checkpoint, take_snapshot
from notes_bff.collab.document import EMPTY_UPDATE, build, merge, text_of
from notes_bff.collab.keys import CHECKPOINT_PREFIX, LEASE_KEY, awareness_key
from notes_bff.collab.protocol import permission_denied
from notes_bff.collab.reader import OUTAGES as OUTAGES  # also the socket's
from notes_bff.collab.reader import RETRY_S, LogReader
from notes_bff.collab.room import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_FOUND,
    Limits,
    Peer,
    Room,
)
from notes_bff.collab.store import UpdateLog, as_text, load, save_state
from notes_bff.collab.textmerge import apply, rebase, replace
from notes_bff.collab.tickets import Tickets
from notes_bff.config import Settings
from notes_bff.errors import MONGO_OUTAGES, Conflict, ServiceUnavailable
from notes_bff.models import CollabSnapshot, CollabState, Note, Role, Workspace
from notes_bff.realtime.broker import SlowSubscriber
from notes_bff.realtime.events import workspace_topic
from notes_bff.realtime.hub import Realtime
from notes_bff.realtime.presence import HEARTBEAT_S

# Its own generator: the global one belongs to the application (and to test tools).
_jitter = random.Random()  # noqa: S311 - not security

log = structlog.get_logger("notes_bff.collab")

COMPACT_NOTES = 100
COMPACT_ENTRIES = 10_000
TICK_S = 5.0
# Take the compactor lease, or extend it if this process holds it.
_LEASE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0
"""


class Collaboration:
    """Collaborative editing in this process (one per application)."""

    def __init__(
        self, redis: Redis, reader_redis: Redis, realtime: Realtime, settings: Settings
    ) -> None:
        """``reader_redis`` is the reader's own client (its ``XREAD`` blocks)."""
        self.log = UpdateLog(redis)
        self.tickets = Tickets(redis, settings.collab_ticket_ttl_seconds)
        self.realtime = realtime
        self.limits = Limits(settings.collab_max_document_bytes)
        self.policy = SnapshotPolicy(
            timedelta(seconds=settings.collab_snapshot_interval_seconds),
            settings.collab_snapshots_kept,
        )
        self.rooms: dict[str, Room] = {}
        self._redis = redis
        self._checkpoint_s = settings.collab_checkpoint_seconds
        self._compact_s = settings.collab_compact_interval_seconds
        self._min_age_s = settings.collab_log_min_age_seconds
        self._origin = uuid.uuid4().hex  # this process: lease holder, API edits
        self.reader = LogReader(reader_redis, redis, self.rooms, self._origin, self._min_age_s)
        self._lease = redis.register_script(_LEASE)
        self._opening: dict[str, asyncio.Future[Room]] = {}
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._tasks = BackgroundTasks()
        self._leaving: set[asyncio.Task[None]] = set()
        self._unpurged: set[str] = set()  # deleted notes whose logs are still to delete
        # redis-py may turn a cancellation into a timeout error: loops also stop on this flag.
        self._stopping = False

    def start(self) -> None:
        """Start the compactor and the heartbeat (the reader starts with the first room)."""
        self._tasks.start(
            collab_compactor=self._compact_loop(),
            collab_heartbeat=self._heartbeat(),
        )

    async def stop(self) -> None:
        """Write every room back, then stop (connections were closed before)."""
        await asyncio.gather(*self._leaving, return_exceptions=True)
        for room in list(self.rooms.values()):
            await (room.closing or self._close(room))
        self._stopping = True
        await self.reader.stop()
        await self._tasks.stop()

    # Rooms

    async def join(self, note: Note, peer: Peer) -> Room:
        """Connect ``peer`` to the note's room, opening it (state plus log) if needed."""
        note_id = str(note.id)
        while True:  # until a room that is not closing (the last one out may have left)
            room = self.rooms.get(note_id)
            if room is None:
                opening = self._opening.get(note_id)
                if opening is None:
                    opening = self._opening[note_id] = asyncio.ensure_future(self._open(note))
                    opening.add_done_callback(lambda _: self._opening.pop(note_id, None))
                room = await asyncio.shield(opening)
            if room.closing is None:
                break
            await asyncio.shield(room.closing)
        room.join(peer)
        try:
            await self._editing(room, peer, started=True)
        except BaseException:  # cancelled: the connection went away meanwhile
            await self.leave(room, peer)
            raise
        return room

    async def _open(self, note: Note) -> Room:
        assert note.id is not None
        note_id = str(note.id)
        loaded = await load(self.log, note.id)
        room = Room(note_id, str(note.workspace_id), loaded, self.log, self.limits, self._changed)
        last = cast(
            "list[tuple[bytes, object]]",
            await self._redis.xrevrange(awareness_key(note_id), count=1),
        )
        room.awareness_id = as_text(last[0][0]) if last else "0-0"
        self.rooms[note_id] = room
        self._watchers[note_id] = asyncio.create_task(self._watch(room))
        await self.reader.follow(room)
        return room

    async def leave(self, room: Room, peer: Peer) -> None:
        """Disconnect ``peer``; the last one out writes the room back and closes it. Runs to
        its end even when the connection's handler is cancelled meanwhile (the client went
        away), so neither its presence nor an empty room is left behind."""
        task = asyncio.create_task(self._leave(room, peer))
        self._leaving.add(task)
        task.add_done_callback(self._leaving.discard)
        await asyncio.shield(task)

    async def _leave(self, room: Room, peer: Peer) -> None:
        room.leave(peer)
        await self._editing(room, peer, started=False)
        if not room.peers and room.closing is None:
            room.closing = asyncio.create_task(self._close(room))
            await room.closing

    async def _editing(self, room: Room, peer: Peer, *, started: bool) -> None:
        """Mark the connection as editing (or not) in the workspace's presence; the user's
        first connection to the note, or last, is announced to ``presence`` subscribers."""
        presence, workspace = self.realtime.presence, room.workspace_id
        change = presence.start_editing if started else presence.stop_editing
        if await self.realtime.guard.call(
            lambda: change(workspace, room.note_id, peer.user_id, peer.id)
        ):
            who = {"joined_id" if started else "left_id": peer.user_id}
            await self.realtime.presence_changed(workspace, note_id=room.note_id, **who)

    async def _close(self, room: Room) -> None:
        try:
            if room.timer is not None:
                room.timer.cancel()
            await room.flushed()
            room.apply_entries(await self.log.after(room.note_id, room.last_id))
            await self._save(room)
        except OUTAGES as exc:
            log.warning("collab_close_failed", note=room.note_id, error=str(exc)[:200])
        finally:
            if self.rooms.get(room.note_id) is room:
                del self.rooms[room.note_id]
            watcher = self._watchers.pop(room.note_id, None)
            if watcher is not None:
                watcher.cancel()

    def _changed(self, room: Room) -> None:
        """Schedule the room's next checkpoint (one at a time, at most one per interval)."""
        room.dirty = True
        if room.timer is None and room.closing is None:
            loop = asyncio.get_running_loop()
            room.timer = loop.call_later(
                self._checkpoint_s, lambda: room.spawn(self._scheduled_save(room))
            )

    async def _scheduled_save(self, room: Room) -> None:
        try:
            if await self._may_save(room):
                await self._save(room)
            else:
                room.dirty = True  # another worker's room of the note saved just now
        except OUTAGES as exc:
            room.dirty = True
            log.warning("collab_checkpoint_failed", note=room.note_id, error=str(exc)[:200])
        finally:
            room.timer = None
            if room.dirty:
                self._changed(room)

    async def _may_save(self, room: Room) -> bool:
        """One checkpoint per note per interval, whichever worker's room comes first (each
        room still saves when it closes); without Redis, every room saves."""
        key, ttl_ms = CHECKPOINT_PREFIX + room.note_id, int(self._checkpoint_s * 1000)

        async def take() -> bool:
            return bool(await self._redis.set(key, room.origin, nx=True, px=ttl_ms))

        taken = await self.realtime.guard.call(take)
        return taken is None or taken

    async def _save(self, room: Room) -> None:
        """Write the room's text to its note."""
        room.dirty = False
        if room.last_actor is not None:
            text, last_id = str(room.text), room.last_id
            await checkpoint(
                self.realtime,
                self.policy,
                PydanticObjectId(room.note_id),
                text,
                last_id,
                room.last_actor,
            )

    # Rights

    async def _watch(self, room: Room) -> None:
        """Follow the workspace's membership and the note's deletion while the room lives."""
        topic = workspace_topic(room.workspace_id)
        while not room.deleted:
            with (
                contextlib.suppress(ServiceUnavailable, SlowSubscriber, *MONGO_OUTAGES),
                self.realtime.broker.subscribe(topic) as events,
            ):
                await events.ready()
                await self._recheck(room)  # what happened while not subscribed
                async for delivery in events:
                    event = delivery.event
                    if event.kind == "MEMBERSHIP":
                        await self._recheck(room)
                    elif event.kind == "DELETED" and event.note_id == room.note_id:
                        await self.purge([PydanticObjectId(room.note_id)])
                    if room.deleted:
                        return
            await asyncio.sleep(RETRY_S)

    async def _recheck(self, room: Room) -> None:
        """Apply the members' current roles: removed members leave, viewers turn read-only;
        a deleted note or workspace closes the room."""
        note_id = PydanticObjectId(room.note_id)
        workspace = await Workspace.get(PydanticObjectId(room.workspace_id))
        note = await Note.get_pymongo_collection().find_one({"_id": note_id}, {"_id": 1})
        if workspace is None or note is None:
            await self.purge([note_id])
            return
        for peer in list(room.peers):
            role = workspace.role_of(PydanticObjectId(peer.user_id))
            if role is None:
                peer.close(CLOSE_FORBIDDEN, "You are no longer a member of this workspace")
            else:
                writable = role.allows(Role.EDITOR)
                if peer.writable and not writable:
                    peer.told_read_only = True
                    peer.push(permission_denied("read-only: you are now a viewer"))
                peer.writable = writable

    @staticmethod
    async def collaborative_notes(workspace_id: PydanticObjectId) -> list[PydanticObjectId]:
        """The workspace's notes that have a collaborative document."""
        found = Note.get_pymongo_collection().find(
            {"workspace_id": workspace_id, "collab_mark": {"$ne": None}}, {"_id": 1}
        )
        return [doc["_id"] async for doc in found]

    async def purge(self, note_ids: list[PydanticObjectId]) -> None:
        """Close this process's rooms of deleted notes (4404) and delete the notes' documents,
        restore points and logs (the logs as soon as Redis answers). Whoever deletes notes
        calls it; so do the rooms of other workers, told by the ``DELETED`` event, and the
        compactor when it finds a log without its note."""
        if not note_ids:
            return
        for note_id in note_ids:  # this process's rooms of them close at once
            room = self.rooms.get(str(note_id))
            if room is not None and not room.deleted:
                room.deleted = True
                for peer in list(room.peers):
                    peer.close(CLOSE_NOT_FOUND, "The note was deleted")
        try:
            await CollabState.get_pymongo_collection().delete_many({"_id": {"$in": note_ids}})
            await CollabSnapshot.get_pymongo_collection().delete_many(
                {"note_id": {"$in": note_ids}}
            )
        except MONGO_OUTAGES as exc:
            log.warning("collab_purge_failed", notes=len(note_ids), error=str(exc)[:200])
        self._unpurged.update(str(i) for i in note_ids)
        await self._purge_logs()

    async def _purge_logs(self) -> None:
        pending = list(self._unpurged)

        async def forget() -> bool:
            await self.log.forget(pending)
            return True

        if pending and await self.realtime.guard.call(forget) is not None:
            self._unpurged.difference_update(pending)

    async def _heartbeat(self) -> None:
        """Expire other workers' dead awareness clients; renew this process's editors."""
        ticks = 0
        while not self._stopping:
            await asyncio.sleep(TICK_S)
            ticks += 1
            for room in list(self.rooms.values()):
                room.expire_awareness()
                if ticks % int(HEARTBEAT_S / TICK_S) == 0:
                    await self.realtime.guard.call(partial(self._renew, room))

    async def _renew(self, room: Room) -> None:
        connections = [(peer.user_id, peer.id) for peer in room.peers]
        await self.realtime.presence.renew_editing(room.workspace_id, room.note_id, connections)

    # The compactor

    async def _compact_loop(self) -> None:
        lease_ms = int(self._compact_s * 3000)
        while not self._stopping:
            await asyncio.sleep(self._compact_s * _jitter.uniform(0.8, 1.2))
            try:
                await self._purge_logs()  # those Redis did not take when their notes went
                if await self._lease(keys=[LEASE_KEY], args=[self._origin, lease_ms]):
                    for note_id in await self.log.due(COMPACT_NOTES):
                        await self.compact(note_id)
            except OUTAGES as exc:
                log.warning("collab_compaction_failed", error=str(exc)[:200])
            except Exception:  # a background loop outlives any one failure; the next round retries
                log.exception("collab_compaction_crashed")

    async def compact(self, note_id: str) -> None:
        """Merge a note's log into its persisted state, write its text back, trim the log."""
        if not PydanticObjectId.is_valid(note_id):
            await self.log.forget([note_id])
            return
        oid = PydanticObjectId(note_id)
        state = await CollabState.get(oid)
        note = await Note.get_pymongo_collection().find_one({"_id": oid}, {"_id": 1})
        if state is None or note is None:
            await self.purge([oid])
            return
        merged_id = state.log_id
        entries = await self.log.after(note_id, state.log_id, COMPACT_ENTRIES)
        if entries:
            merged = merge(state.state, (e.update for e in entries))
            if not await save_state(oid, state.log_id, merged, entries[-1].id):
                return  # another compactor got there first
            merged_id = entries[-1].id
            text = str(text_of(build(merged)))
            await checkpoint(self.realtime, self.policy, oid, text, merged_id, entries[-1].actor)
        await self.log.trim(note_id, merged_id, self._min_age_s)

    # What GraphQL offers

    async def ticket(self, claims: TokenClaims, note_id: PydanticObjectId) -> str:
        """A ticket for this session to open the note's collaboration socket."""
        return await self.tickets.issue(claims, str(note_id))

    async def editors(self, note: Note) -> list[str]:
        """Who has the note open, on any worker."""
        editing = await self.realtime.presence.editing(str(note.workspace_id))
        return editing.get(str(note.id), [])

    async def edit(
        self, note_id: PydanticObjectId, actor: PydanticObjectId, change: Callable[[Text], None]
    ) -> None:
        """Make a change to the document as one more editor (appended to its log, so live
        rooms everywhere receive it), then write the document back to the note."""
        loaded = await load(self.log, note_id)
        doc = build(loaded.update)
        text = text_of(doc)
        before = doc.get_state()
        change(text)
        update = doc.get_update(before)
        last_id = loaded.last_id
        if update != EMPTY_UPDATE:
            await self.log.append(str(note_id), self._origin, [(str(actor), update)])
            entries = await self.log.after(str(note_id), loaded.last_id)
            for entry in entries:  # ours, and whatever others appended meanwhile
                doc.apply_update(entry.update)
            last_id = entries[-1].id
        await checkpoint(self.realtime, self.policy, note_id, str(text), last_id, str(actor))

    async def merge_content(
        self, note: Note, content: str, actor: PydanticObjectId, expected_version: int | None
    ) -> None:
        """``updateNote``'s content for a note under collaboration: the writer's changes to
        the text it read, merged into the live document, so nobody's edits are lost."""
        assert note.id is not None
        if expected_version is not None and expected_version != note.version:
            raise Conflict(
                f"The note changed since version {expected_version}; reload and retry.",
                field="expectedVersion",
            )
        base = note.content

        def change(text: Text) -> None:
            live = str(text)
            apply(text, live, rebase(base, content, live))

        await self.edit(note.id, actor, change)

    async def snapshot(
        self, note: Note, actor: PydanticObjectId, label: str | None
    ) -> CollabSnapshot:
        """A named restore point of the note's text as it is now."""
        assert note.id is not None
        live = note.collab_mark is not None
        text = (await load(self.log, note.id)).text if live else note.content
        return await take_snapshot(self.policy, note.id, text, actor, label)

    @staticmethod
    async def snapshots(note_id: PydanticObjectId, first: int) -> list[CollabSnapshot]:
        """The note's restore points, newest first."""
        found = CollabSnapshot.find({"note_id": note_id}).sort("-created_at").limit(first)
        return await found.to_list()

    async def restore(self, snapshot: CollabSnapshot, actor: PydanticObjectId) -> None:
        """Make the document read as the restore point (an edit, so live editors keep
        working); the text before becomes a restore point itself."""
        current = await load(self.log, snapshot.note_id)
        moment = snapshot.created_at.strftime("%Y-%m-%d %H:%M UTC")
        await take_snapshot(
            self.policy, snapshot.note_id, current.text, actor, f"Before restoring {moment}"
        )
        await self.edit(snapshot.note_id, actor, lambda text: replace(text, snapshot.content))
