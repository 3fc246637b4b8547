"""Cached answers: a bounded map in each worker (L1) in front of Redis (L2), each entry
valid only while every tag it read still has the version it read."""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from typing import Any

import orjson
from cachetools import TLRUCache
from redis.asyncio import Redis

from notes_bff.metrics import Metrics
from notes_bff.redis_client import get_many
from notes_bff.response_cache.reads import ReadSet
from notes_bff.response_cache.versions import MAX_ENTRY_TTL_S, TagVersions

PREFIX = "notes-bff:rc:e:"
# Shared by every caller: the answer never read who was asking.
EVERYONE = "*"
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Entry:
    """An answer's data and the tag versions it was computed against."""

    versions: dict[str, str]
    data: dict[str, Any]
    expires_at: float
    size: int


def operation_key(query: str, operation_name: str | None, variables: dict[str, Any] | None) -> str:
    """One key per document text, operation and variables."""
    raw = orjson.dumps(
        [query, operation_name, variables or {}], option=orjson.OPT_SORT_KEYS, default=str
    )
    return hashlib.blake2b(raw, digest_size=20).hexdigest()


class ResponseCache:
    """Looks answers up (tier by tier), stores them, and runs concurrent identical misses once."""

    def __init__(
        self,
        redis: Redis,
        versions: TagVersions,
        metrics: Metrics,
        *,
        ttl_s: float,
        l1_entries: int,
    ) -> None:
        self.redis = redis
        self.versions = versions
        self.metrics = metrics
        self.ttl_s = min(ttl_s, MAX_ENTRY_TTL_S)
        self._l1: TLRUCache[tuple[str, str], Entry] = TLRUCache(
            maxsize=l1_entries, ttu=lambda _key, entry, _now: entry.expires_at, timer=time.time
        )
        self._flights: dict[tuple[str, str], asyncio.Future[dict[str, Any] | None]] = {}

    def reads(self) -> ReadSet:
        """A record of what one execution reads."""
        return ReadSet(self.versions, self.ttl_s)

    async def lookup(self, key: str, scopes: list[str]) -> dict[str, Any] | None:
        """The data of a current entry for ``key`` in the first scope that has one."""
        for scope in scopes:
            entry = self._l1.get((key, scope))
            if entry is not None and await self._current(entry):
                self.metrics.response_cache.labels("l1", "hit").inc()
                return entry.data
        self.metrics.response_cache.labels("l1", "miss").inc()
        raw = await self.versions.guard.call(
            lambda: get_many(self.redis, [f"{PREFIX}{key}:{s}" for s in scopes])
        )
        for scope, value in zip(scopes, raw or [], strict=False):
            if value is None:
                continue
            entry = _decode(value)
            if entry is not None and await self._current(entry):
                self._l1[(key, scope)] = entry
                self.metrics.response_cache.labels("l2", "hit").inc()
                return entry.data
        self.metrics.response_cache.labels("l2", "miss").inc()
        return None

    async def _current(self, entry: Entry) -> bool:
        """Whether every tag the entry read still has the version it read."""
        now = await self.versions.read(list(entry.versions))
        return now is not None and all(now.get(t) == v for t, v in entry.versions.items())

    async def store(self, key: str, scope: str, reads: ReadSet, data: dict[str, Any]) -> None:
        """Keep ``data`` for ``key`` in ``scope``, valid while ``reads``' versions hold."""
        ttl = max(1, int(reads.ttl_s))
        body = orjson.dumps({"v": reads.read, "d": data, "x": time.time() + ttl})
        entry = Entry(dict(reads.read), data, time.time() + ttl, len(body))
        self._l1[(key, scope)] = entry
        stored = await self.versions.guard.call(
            lambda: self.redis.set(f"{PREFIX}{key}:{scope}", body, ex=ttl)
        )
        if stored is not None:
            self.metrics.response_cache_stored_bytes.inc(len(body))

    def flight(self, key: str, scope: str) -> asyncio.Future[dict[str, Any] | None] | None:
        """The running execution of the same operation for the same caller, if any."""
        return self._flights.get((key, scope))

    def take_off(self, key: str, scope: str) -> asyncio.Future[dict[str, Any] | None]:
        """Announce an execution that identical concurrent misses may wait for."""
        future: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._flights[(key, scope)] = future
        return future

    def land(self, key: str, scope: str, data: dict[str, Any] | None) -> None:
        """The execution is over: its cacheable data (or None) goes to whoever waited."""
        future = self._flights.pop((key, scope), None)
        if future is not None and not future.done():
            future.set_result(data)


def _decode(raw: bytes | str) -> Entry | None:
    try:
        value = orjson.loads(raw)
        return Entry(
            {str(t): str(v) for t, v in value["v"].items()},
            value["d"],
            float(value["x"]),
            len(raw),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError):
        return None
