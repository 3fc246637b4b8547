"""This process's reader of its open notes' logs and awareness streams, read by id.

Blocking ``XREAD``s on their own client, from each room's last id, so a reader that was slow or
briefly cut off catches up instead of missing entries. A Cluster runs a multi-key command only
within one slot: there is one read per bucket of notes with open rooms (collab/keys.py), each
its own task, so at most ``BUCKETS`` reads wait at once, however many notes are open; one
server (or Sentinel's primary) has no slots, and one read follows every room. A new room
interrupts its read's wait through a wake-up stream of that read. After a Redis outage or a
stall longer than half the log's minimum age (entries not read yet may have been merged and
trimmed meanwhile), the read's rooms first catch up from their persisted state.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, cast

import structlog
from beanie import PydanticObjectId
from redis.asyncio import Redis, RedisCluster

from notes_bff.collab.keys import awareness_key, bucket_of, is_log, log_key, note_of, wake_key
from notes_bff.collab.room import Room
from notes_bff.collab.store import LogEntry, as_text, id_parts
from notes_bff.errors import MONGO_OUTAGES
from notes_bff.models import CollabState
from notes_bff.redis_guard import REDIS_OUTAGES

log = structlog.get_logger("notes_bff.collab")

READ_COUNT = 500
WAKE_TTL_S = 3600
RETRY_S = 1.0
OUTAGES = (*REDIS_OUTAGES, *MONGO_OUTAGES)


class LogReader:
    """Follows the rooms of ``rooms`` (the process's, kept by its owner) from Redis.

    ``redis`` is the reader's own client (its reads block); ``wake_redis`` writes the wake-ups.
    """

    def __init__(
        self, redis: Redis, wake_redis: Redis, rooms: dict[str, Room], origin: str, min_age_s: float
    ) -> None:
        self.rooms = rooms
        self._redis, self._wake_redis = redis, wake_redis
        self._sharded = isinstance(redis, RedisCluster)
        self._origin = origin
        self._min_age_s = min_age_s
        self._block_ms = int(min(5.0, max(0.1, min_age_s / 4)) * 1000)
        self._reads: dict[int | None, asyncio.Task[None]] = {}
        self._stopping = False  # redis-py may turn a cancellation into a timeout error

    def read_of(self, note_id: str) -> int | None:
        """Which read follows the note: its bucket on a Cluster, the only one elsewhere."""
        return bucket_of(note_id) if self._sharded else None

    async def follow(self, room: Room) -> None:
        """Start reading a room just added to ``rooms``: its read starts, or stops waiting."""
        read = self.read_of(room.note_id)
        task = self._reads.get(read)
        if task is None or task.done():
            self._reads[read] = asyncio.create_task(
                self._read(read), name=f"notes-bff-collab-reader-{read}"
            )
            return
        with contextlib.suppress(*REDIS_OUTAGES):  # else it reads the room after its block
            await self._wake(read)

    async def stop(self) -> None:
        """Stop every read (their blocking waits end at once)."""
        self._stopping = True
        for read in list(self._reads):
            with contextlib.suppress(*REDIS_OUTAGES):
                await self._wake(read)
        tasks = list(self._reads.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _wake(self, read: int | None) -> None:
        key = wake_key(self._origin, read)
        async with self._wake_redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, {"w": "1"}, maxlen=10)
            pipe.expire(key, WAKE_TTL_S)
            await pipe.execute()

    def _rooms_of(self, read: int | None) -> list[Room]:
        return [r for r in self.rooms.values() if self.read_of(r.note_id) == read]

    def streams(self, read: int | None, wake_id: str) -> dict[str, str]:
        """What one ``XREAD`` names: the read's wake-up stream and its rooms' streams, each
        from the last id seen (one slot on a Cluster: tests/unit/test_redis_keys.py)."""
        streams = {wake_key(self._origin, read): wake_id}
        for room in self._rooms_of(read):
            streams[log_key(room.note_id)] = room.last_id
            streams[awareness_key(room.note_id)] = room.awareness_id
        return streams

    async def _read(self, read: int | None) -> None:
        """One read's loop, until it has no rooms left (``follow`` starts it again)."""
        loop = asyncio.get_running_loop()
        wake = wake_key(self._origin, read)
        wake_id, behind, last_read = "0-0", True, loop.time()
        while not self._stopping and (rooms := self._rooms_of(read)):
            try:
                if behind or loop.time() - last_read > self._min_age_s / 2:
                    await self._catch_up(rooms)
                    behind = False
                response = await self._xread(self.streams(read, wake_id))
                last_read = loop.time()
            except OUTAGES as exc:
                behind = True
                log.warning("collab_reader_failed", error=str(exc)[:200])
                await asyncio.sleep(RETRY_S)
                continue
            except Exception:  # the reader outlives any one failure: catch up and go on
                behind = True
                log.exception("collab_reader_crashed")
                await asyncio.sleep(RETRY_S)
                continue
            for raw_key, entries in response or []:
                key = as_text(raw_key)
                if key == wake:
                    wake_id = as_text(entries[-1][0])
                else:
                    self._dispatch(key, entries)

    async def _xread(
        self, streams: dict[str, str]
    ) -> list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]] | None:
        """One blocking ``XREAD``. On a Cluster it goes to the node of the streams' slot, named
        here: redis-py would otherwise ask a node for the keys of every ``XREAD`` (its keys
        are movable), one more round trip and one more connection while the others block;
        a ``MOVED`` or ``ASK`` answer is still followed."""
        target: dict[str, Any] = {}
        if self._sharded:
            cluster = await cast("RedisCluster", self._redis).initialize()  # the slot map
            target["target_nodes"] = cluster.get_node_from_key(next(iter(streams)))
        command = ["COUNT", READ_COUNT, "BLOCK", self._block_ms, "STREAMS", *streams]
        response = await self._redis.execute_command("XREAD", *command, *streams.values(), **target)  # type: ignore[no-untyped-call]
        return cast("list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]] | None", response)

    def _dispatch(self, key: str, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        """Hand entries read from a room's log or awareness stream to the room."""
        room = self.rooms.get(note_of(key))
        if room is None:
            return
        if is_log(key):
            room.apply_entries([LogEntry.of(i, f) for i, f in entries])
        else:
            for entry_id, fields in entries:
                room.apply_awareness(as_text(entry_id), fields[b"u"], as_text(fields[b"o"]))

    @staticmethod
    async def _catch_up(rooms: list[Room]) -> None:
        """Bring rooms up to their persisted state (what was trimmed from the log)."""
        for room in rooms:
            state = await CollabState.get(PydanticObjectId(room.note_id))
            if state is not None and id_parts(state.log_id) > id_parts(room.last_id):
                room.absorb(state.state, state.log_id)
