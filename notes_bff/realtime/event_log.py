"""A capped Redis stream per workspace: the retained history behind ``workspaceEvents(after:)``."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Sequence
from typing import Any, cast

from redis.asyncio import Redis

from notes_bff.errors import AppError, BadInput
from notes_bff.realtime.events import Event, shard_channel, workspace_topic
from notes_bff.redis_client import run_script

# Its own generator: the global one belongs to the application (and to test tools).
_dice = random.Random()  # noqa: S311 - not security

# Classic pub/sub, read by every process: revocation notices (realtime/broker.py).
CHANNEL = "notes-bff:events"
# Classic pub/sub, read by each host's search writer: note and membership events of every
# workspace (search/indexer.py).
INDEX_CHANNEL = "notes-bff:index"
STREAM_PREFIX = "notes-bff:log:"
RETAIN_EVENTS = 1000
RETAIN_SECONDS = 24 * 3600
HARD_CAP = 10_000
_EVENT_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
# Before any event: where reading an empty log starts.
ORIGIN = "0-0"

# Append to the workspace's stream and publish with the new id, atomically, on the workspace's
# shard channel ARGV[6] (same hash tag, so same slot: the SPUBLISH stays on the stream's shard)
# and on the search writers' channel ARGV[7]: the order of the live channel is the order of the
# log, so subscribers deduplicate by id and close gaps from the log. Now and then (ARGV[3]),
# trim what is older than 24 hours beyond the newest 1,000; never keep more than 10,000.
_APPEND_AND_PUBLISH = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', 'e', ARGV[1])
local message = id .. '|' .. ARGV[1]
redis.call('SPUBLISH', ARGV[6], message)
redis.call('PUBLISH', ARGV[7], message)
if ARGV[3] == '1' then
  local keep = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', ARGV[4])
  if #keep == tonumber(ARGV[4]) then
    local nth = keep[#keep][1]
    local nth_ms = tonumber(string.match(nth, '^(%d+)'))
    local cutoff = tonumber(ARGV[2])
    if nth_ms < cutoff then
      redis.call('XTRIM', KEYS[1], 'MINID', nth)
    else
      redis.call('XTRIM', KEYS[1], 'MINID', tostring(cutoff))
    end
  end
end
return id
"""
TRIM_PROBABILITY = 0.02


class EventHistoryExpired(AppError):
    """``after`` points before the retained history: events in between are gone."""

    code = "EVENT_HISTORY_EXPIRED"


def stream_key(workspace_id: str) -> str:
    """The workspace's event log, hash-tagged ``{ws:<id>}`` like every per-workspace key."""
    return f"{STREAM_PREFIX}{{ws:{workspace_id}}}"


def _channel(topic: str) -> str:
    channel = shard_channel(topic)
    assert channel is not None
    return channel


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _id_key(event_id: str) -> tuple[int, int]:
    ms, seq = event_id.split("-")
    return int(ms), int(seq)


def id_after(event_id: str, other: str) -> bool:
    """Whether ``event_id`` comes after ``other`` in the log."""
    return _id_key(event_id) > _id_key(other)


class EventLog:
    """Appends, publishes and replays workspace events."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._script = redis.register_script(_APPEND_AND_PUBLISH)

    async def append(self, event: Event) -> str:
        """Log a workspace event and publish it with its new id."""
        assert event.workspace_id is not None
        cutoff_ms = int((time.time() - RETAIN_SECONDS) * 1000)
        trim = "1" if _dice.random() < TRIM_PROBABILITY else "0"
        new_id = await run_script(
            self.redis,
            self._script,
            keys=[stream_key(event.workspace_id)],
            args=[
                event.encode(),
                cutoff_ms,
                trim,
                RETAIN_EVENTS,
                HARD_CAP,
                _channel(workspace_topic(event.workspace_id)),
                INDEX_CHANNEL,
            ],
        )
        return new_id.decode() if isinstance(new_id, bytes) else str(new_id)

    async def publish(self, event: Event) -> int:
        """Publish an event that is not logged (notifications, presence, membership,
        revocations) on its topic's shard channel, or on the global one; how many
        connections received it. Membership changes also reach the search writers."""
        message = b"-|" + event.encode()
        channel = shard_channel(event.topic)
        if channel is None:
            return int(await self.redis.publish(CHANNEL, message))
        if event.kind == "MEMBERSHIP":
            await self.redis.publish(INDEX_CHANNEL, message)
        return int(await self.redis.spublish(channel, message))

    async def heads(self, workspace_ids: Sequence[str]) -> list[str]:
        """The newest event id of each workspace's log (``ORIGIN`` for an empty one), in
        one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for workspace_id in workspace_ids:
                pipe.xrevrange(stream_key(workspace_id), "+", "-", count=1)
            newest = cast("list[list[tuple[bytes, Any]]]", await pipe.execute())
        return [_text(found[0][0]) if found else ORIGIN for found in newest]

    async def since(self, positions: Sequence[tuple[str, str]]) -> list[list[Event] | None]:
        """For each (workspace, event id), the events after that id, in one round trip; None
        where the log no longer holds the id itself (trimmed, or lost by a failover): what
        followed it may be gone, so the gap cannot be closed."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for workspace_id, event_id in positions:
                pipe.xrange(stream_key(workspace_id), min="-" if event_id == ORIGIN else event_id)
            found = cast("list[list[tuple[bytes, dict[bytes, bytes]]]]", await pipe.execute())
        gaps: list[list[Event] | None] = []
        for (_, event_id), entries in zip(positions, found, strict=True):
            if event_id != ORIGIN and (not entries or _text(entries[0][0]) != event_id):
                gaps.append(None)
                continue
            gaps.append(
                [
                    Event.decode(fields[b"e"], _text(entry_id))
                    for entry_id, fields in entries
                    if _text(entry_id) != event_id
                ]
            )
        return gaps

    async def replay(self, workspace_id: str, after: str) -> list[Event]:
        """The retained events after ``after``; ``EVENT_HISTORY_EXPIRED`` if some are gone."""
        if not _EVENT_ID.match(after):
            raise BadInput("after", "after is not an eventId of this workspace.")
        key = stream_key(workspace_id)
        first = cast(
            "list[tuple[bytes, dict[bytes, bytes]]]",
            await self.redis.xrange(key, min="-", max="+", count=1),
        )
        # The log no longer holds `after` itself: what followed it may be gone too.
        if not first or id_after(_text(first[0][0]), after):
            raise EventHistoryExpired(
                "Events after this eventId are no longer retained; reload the workspace "
                "and subscribe again without `after`.",
                field="after",
            )
        entries = cast(
            "list[tuple[bytes, dict[bytes, bytes]]]",
            await self.redis.xrange(key, min=f"({after}", max="+"),
        )
        return [Event.decode(fields[b"e"], entry_id.decode()) for entry_id, fields in entries]
