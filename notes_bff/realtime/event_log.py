"""A capped Redis stream per workspace: the retained history behind ``workspaceEvents(after:)``."""

from __future__ import annotations

import random
import re
import time
from typing import cast

from redis.asyncio import Redis

from notes_bff.errors import AppError, BadInput
from notes_bff.realtime.events import Event

# Its own generator: the global one belongs to the application (and to test tools).
_dice = random.Random()  # noqa: S311 - not security

CHANNEL = "notes-bff:events"
STREAM_PREFIX = "notes-bff:log:"
RETAIN_EVENTS = 1000
RETAIN_SECONDS = 24 * 3600
HARD_CAP = 10_000
_EVENT_ID = re.compile(r"^\d{1,20}-\d{1,20}$")

# Append to the workspace's stream and publish with the new id on channel ARGV[6], atomically:
# the order of the live channel is the order of the log, so resume can deduplicate by id. Now
# and then (ARGV[3]), trim what is older than 24 hours beyond the newest 1,000; never keep more
# than 10,000. The channel is not a key: a Cluster routes the script by the stream's slot alone.
_APPEND_AND_PUBLISH = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', 'e', ARGV[1])
redis.call('PUBLISH', ARGV[6], id .. '|' .. ARGV[1])
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
        new_id = await self._script(
            keys=[stream_key(event.workspace_id)],
            args=[event.encode(), cutoff_ms, trim, RETAIN_EVENTS, HARD_CAP, CHANNEL],
        )
        return new_id.decode() if isinstance(new_id, bytes) else str(new_id)

    async def publish(self, event: Event) -> int:
        """Publish an event that is not logged (notifications, presence, membership); how
        many processes received it."""
        return int(await self.redis.publish(CHANNEL, b"-|" + event.encode()))

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
