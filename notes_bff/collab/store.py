"""Where a collaborative document lives: a durable Redis stream of updates per note (read by
id, so a reader that missed entries catches up), merged by the compactor into a state in
MongoDB (``collab_states``), after which merged entries older than a minimum age are trimmed.

A document is its persisted state plus the log entries after the state's ``log_id``. Stream
ids increase; :func:`mark` makes them sortable strings (stored as ``Note.collab_mark``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from beanie import PydanticObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError
from redis.asyncio import Redis

from notes_bff.collab.document import build, initial_state, merge, text_of
from notes_bff.collab.keys import (
    BUCKETS,
    awareness_key,
    by_bucket,
    dirty_key,
    dirty_key_of_bucket,
    log_key,
)
from notes_bff.errors import NotFound
from notes_bff.models import CollabState, Note
from notes_bff.models.clock import now

AWARENESS_KEEP = 200
AWARENESS_TTL_S = 120

# Append a batch of updates (ARGV[3..]: actor, update, actor, update…) and mark the note dirty
# (KEYS[2]: its bucket's compaction schedule, in the same slot).
_APPEND = """
local ids = {}
for i = 3, #ARGV, 2 do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', 'u', ARGV[i + 1], 'o', ARGV[2], 'a', ARGV[i])
end
local t = redis.call('TIME')
redis.call('ZADD', KEYS[2], 'NX', tonumber(t[1]) * 1000, ARGV[1])
return ids
"""

# After a merge up to ARGV[2]-ARGV[3]: trim the merged entries older than ARGV[4] ms, then
# schedule the note again (now if unmerged entries remain, else when the rest is old enough),
# or forget it when its log is empty. The stream key stays, so its ids keep increasing.
_TRIM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local min_age = tonumber(ARGV[4])
local ms, seq = tonumber(ARGV[2]), tonumber(ARGV[3]) + 1
if now - min_age < ms then ms, seq = now - min_age, 0 end
redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d-%d', ms, seq))
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
if #first == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1][1]
local lms, lseq = string.match(last, '^(%d+)-(%d+)$')
lms, lseq = tonumber(lms), tonumber(lseq)
local due = tonumber(string.match(first[1][1], '^(%d+)')) + min_age
local merged_ms, merged_seq = tonumber(ARGV[2]), tonumber(ARGV[3])
if lms > merged_ms or (lms == merged_ms and lseq > merged_seq) then
  due = now
end
redis.call('ZADD', KEYS[2], due, ARGV[1])
return 1
"""


def id_parts(entry_id: str) -> tuple[int, int]:
    """A stream id as (milliseconds, sequence)."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def mark(entry_id: str) -> str:
    """A stream id as a string that sorts like the ids."""
    ms, seq = id_parts(entry_id)
    return f"{ms:020d}-{seq:020d}"


INITIAL_MARK = mark("0-0")


def as_text(raw: bytes | str) -> str:
    """A Redis reply as text."""
    return raw.decode() if isinstance(raw, bytes) else raw


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One update in a note's log, with who made it and which process appended it."""

    id: str
    update: bytes
    origin: str
    actor: str

    @classmethod
    def of(cls, entry_id: bytes | str, fields: dict[bytes, bytes]) -> LogEntry:
        """From an XRANGE/XREAD entry."""
        return cls(as_text(entry_id), fields[b"u"], as_text(fields[b"o"]), as_text(fields[b"a"]))


class UpdateLog:
    """The Redis side: appends, reads and trims notes' update logs."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._append = redis.register_script(_APPEND)
        self._trim = redis.register_script(_TRIM)

    async def append(self, note_id: str, origin: str, batch: list[tuple[str, bytes]]) -> list[str]:
        """Append ``(actor, update)`` pairs in order; their new ids."""
        args: list[str | bytes] = [note_id, origin]
        for actor, update in batch:
            args += [actor, update]
        keys = [log_key(note_id), dirty_key(note_id)]
        ids = cast("list[bytes]", await self._append(keys=keys, args=args))
        return [as_text(i) for i in ids]

    async def after(self, note_id: str, last_id: str, count: int | None = None) -> list[LogEntry]:
        """The entries after ``last_id``."""
        raw = cast(
            "list[tuple[bytes, dict[bytes, bytes]]]",
            await self.redis.xrange(log_key(note_id), min=f"({last_id}", max="+", count=count),
        )
        return [LogEntry.of(i, f) for i, f in raw]

    async def trim(self, note_id: str, merged_id: str, min_age_s: float) -> None:
        """Trim entries up to ``merged_id`` that are older than ``min_age_s``."""
        ms, seq = id_parts(merged_id)
        await self._trim(
            keys=[log_key(note_id), dirty_key(note_id)],
            args=[note_id, ms, seq, int(min_age_s * 1000)],
        )

    async def due(self, limit: int) -> list[str]:
        """Notes whose log is due for merging or trimming, the longest due first: one read of
        every bucket's schedule (one round trip per Cluster node)."""
        t = await self.redis.time()
        now_ms = int(t[0]) * 1000 + int(t[1]) // 1000
        async with self.redis.pipeline(transaction=False) as pipe:
            for bucket in range(BUCKETS):
                pipe.zrangebyscore(
                    dirty_key_of_bucket(bucket), "-inf", now_ms, start=0, num=limit, withscores=True
                )
            found = cast("list[list[tuple[bytes, float]]]", await pipe.execute())
        due = sorted((score, as_text(note)) for scheduled in found for note, score in scheduled)
        return [note for _, note in due[:limit]]

    async def relay_awareness(self, note_id: str, origin: str, update: bytes) -> None:
        """Hand an awareness update to the other workers (a capped, expiring stream)."""
        key = awareness_key(note_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, {"u": update, "o": origin, "a": ""}, maxlen=AWARENESS_KEEP)
            pipe.expire(key, AWARENESS_TTL_S)
            await pipe.execute()

    async def forget(self, note_ids: list[str]) -> None:
        """Delete deleted notes' logs: one transaction per bucket (its keys share a slot), so
        a note never loses its schedule while its log stays."""
        for bucket_notes in by_bucket(note_ids).values():
            async with self.redis.pipeline(transaction=True) as pipe:
                for note_id in bucket_notes:
                    pipe.delete(log_key(note_id), awareness_key(note_id))
                    pipe.zrem(dirty_key(note_id), note_id)
                await pipe.execute()


async def state_of(note_id: PydanticObjectId) -> CollabState:
    """The note's persisted document, made from its Markdown the first time.

    The note is first marked collaborative (``collab_mark``), so its content no longer changes
    but through the document; only then is it read, and the first state stored wins.
    """
    found = await CollabState.get(note_id)
    if found is not None:
        return found
    notes = Note.get_pymongo_collection()
    raw = await notes.find_one_and_update(
        {"_id": note_id, "collab_mark": None},
        {"$set": {"collab_mark": INITIAL_MARK}},
        return_document=ReturnDocument.AFTER,
    ) or await notes.find_one({"_id": note_id}, {"content": 1})
    if raw is None:
        raise NotFound("No such note.")
    state = CollabState(id=note_id, state=initial_state(raw.get("content", "")))
    try:
        await state.insert()
    except DuplicateKeyError:
        winner = await CollabState.get(note_id)
        assert winner is not None
        return winner
    return state


async def save_state(
    note_id: PydanticObjectId, previous_id: str, state: bytes, log_id: str
) -> bool:
    """Store a merged state, unless another compactor moved it past ``previous_id`` first."""
    result = await CollabState.get_pymongo_collection().update_one(
        {"_id": note_id, "log_id": previous_id},
        {"$set": {"state": state, "log_id": log_id, "updated_at": now()}},
    )
    return result.modified_count == 1


@dataclass
class Loaded:
    """A document read from the store: its merged update, text, last log id and last actor."""

    update: bytes
    text: str
    last_id: str
    actor: str | None


async def load(log: UpdateLog, note_id: PydanticObjectId) -> Loaded:
    """The document as of now: its state plus the whole log after it."""
    state = await state_of(note_id)
    entries = await log.after(str(note_id), state.log_id)
    update = merge(state.state, (e.update for e in entries))
    return Loaded(
        update,
        str(text_of(build(update))),
        entries[-1].id if entries else state.log_id,
        entries[-1].actor if entries else None,
    )
