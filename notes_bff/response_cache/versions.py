"""Tag versions in Redis: read before the data they guard, bumped after every write.

A version key missing reads as ``"0"``. Keys expire (``KEY_TTL_S``, renewed by each bump)
long after any entry that could have read them, so an expired key can never make an old
entry look current again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from redis.asyncio import Redis

from notes_bff.metrics import Metrics
from notes_bff.redis_client import get_many
from notes_bff.redis_guard import RedisGuard
from notes_bff.response_cache.tags import GENERATION

PREFIX = "notes-bff:rc:v:"
# Entries live at most MAX_ENTRY_TTL_S; a version key outlives every entry that read it.
MAX_ENTRY_TTL_S = 24 * 3600
KEY_TTL_S = 2 * MAX_ENTRY_TTL_S


def _text(raw: bytes | str | None) -> str:
    if raw is None:
        return "0"
    return raw.decode() if isinstance(raw, bytes) else raw


class TagVersions:
    """Reads and bumps tag versions; a bump Redis could not take drops every entry later."""

    def __init__(self, redis: Redis, metrics: Metrics) -> None:
        self.redis = redis
        self.metrics = metrics
        self.guard = RedisGuard("response_cache", metrics)
        self._lost_bumps = False

    async def read(self, tags: Sequence[str]) -> dict[str, str] | None:
        """The current version of each tag (the generation always included), or None while
        Redis does not answer (the cache is then bypassed)."""
        if self._lost_bumps and not await self._raise_generation():
            return None
        names = [GENERATION, *dict.fromkeys(t for t in tags if t != GENERATION)]
        values = await self.guard.call(lambda: get_many(self.redis, [PREFIX + t for t in names]))
        if values is None:
            return None
        return {name: _text(value) for name, value in zip(names, values, strict=True)}

    async def bump(self, tags: Iterable[str]) -> None:
        """New versions for ``tags``: every entry that read one of them is stale now."""
        names = list(dict.fromkeys(tags))
        if not names:
            return
        if self._lost_bumps:
            await self._raise_generation()
        if await self.guard.call(lambda: self._incr(names)) is None:
            # The write happened but its bump did not: every entry goes once Redis answers.
            self._lost_bumps = True
            return
        self.metrics.response_cache_invalidations.inc(len(names))

    async def _incr(self, names: list[str]) -> bool:
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.incr(PREFIX + name)
                pipe.expire(PREFIX + name, KEY_TTL_S)
            await pipe.execute()
        return True

    async def _raise_generation(self) -> bool:
        """After lost bumps: a new generation, so that no entry from before is served."""
        if await self.guard.call(lambda: self._incr([GENERATION])) is None:
            return False
        self._lost_bumps = False
        return True
