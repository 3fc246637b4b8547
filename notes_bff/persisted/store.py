"""Where persisted documents live: a process LRU, Redis (shared), MongoDB (trusted, durable)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from cachetools import LRUCache
from graphql import DocumentNode
from redis.asyncio import Redis

from notes_bff.metrics import Metrics
from notes_bff.models import PersistedDocument
from notes_bff.redis_guard import RedisGuard

APQ_PREFIX = "notes-bff:apq:"
TRUSTED_PREFIX = "notes-bff:trusted:"
# An LRU hit refreshes the Redis TTL at most this often (not a Redis call per request).
TTL_REFRESH_INTERVAL_S = 60.0
# A trusted document is looked up again this long after it was cached, so that
# `persisted-queries remove` reaches running processes.
TRUSTED_RECHECK_S = 300.0


def sha256_hex(text: str) -> str:
    """The lowercase hex SHA-256 of ``text`` (UTF-8), as Apollo's clients compute it."""
    return hashlib.sha256(text.encode()).hexdigest()


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


@dataclass
class CachedDocument:
    """A persisted document; parsed and validated once per process, then reused."""

    text: str
    trusted: bool
    document: DocumentNode | None = None
    validated: bool = False
    refreshed_at: float = 0.0


class DocumentStore:
    """Looks persisted documents up by hash and stores new APQ registrations."""

    def __init__(self, redis: Redis, metrics: Metrics, *, ttl_seconds: int, lru_size: int) -> None:
        self.redis = redis
        self.metrics = metrics
        self.ttl_seconds = ttl_seconds
        self.guard = RedisGuard("persisted_queries", metrics)
        self._lru: LRUCache[str, CachedDocument] = LRUCache(maxsize=lru_size)

    def _count(self, event: str) -> None:
        self.metrics.persisted_queries.labels(event).inc()

    def _remember(self, digest: str, text: str, *, trusted: bool) -> CachedDocument:
        entry = CachedDocument(text=text, trusted=trusted, refreshed_at=time.monotonic())
        self._lru[digest] = entry
        return entry

    async def automatic(self, digest: str) -> CachedDocument | None:
        """An APQ document: this process's LRU, else Redis (refreshing its TTL)."""
        entry = self._lru.get(digest)
        if entry is not None:
            self._count("lru")
            if time.monotonic() - entry.refreshed_at > TTL_REFRESH_INTERVAL_S:
                entry.refreshed_at = time.monotonic()
                await self.guard.call(
                    lambda: self.redis.expire(APQ_PREFIX + digest, self.ttl_seconds)
                )
            return entry
        raw = await self.guard.call(
            lambda: self.redis.getex(APQ_PREFIX + digest, ex=self.ttl_seconds)
        )
        if raw is None:
            self._count("miss")
            return None
        self._count("redis")
        return self._remember(digest, _text(raw), trusted=False)

    async def register(self, digest: str, entry: CachedDocument) -> None:
        """Store a validated APQ registration in Redis (with its TTL) and in this process."""
        self._count("registered")
        entry.refreshed_at = time.monotonic()
        self._lru[digest] = entry
        await self.guard.call(
            lambda: self.redis.set(APQ_PREFIX + digest, entry.text, ex=self.ttl_seconds)
        )

    async def trusted(self, digest: str) -> CachedDocument | None:
        """A trusted document: this process's LRU, else Redis, else MongoDB (the source)."""
        entry = self._lru.get(digest)
        if entry is not None and entry.trusted:
            if time.monotonic() - entry.refreshed_at < TRUSTED_RECHECK_S:
                self._count("lru")
                return entry
            del self._lru[digest]
        raw = await self.guard.call(lambda: self.redis.get(TRUSTED_PREFIX + digest))
        if raw is not None:
            self._count("redis")
            return self._remember(digest, _text(raw), trusted=True)
        stored = await PersistedDocument.get(digest)
        if stored is None:
            self._count("miss")
            return None
        self._count("mongodb")
        await self.guard.call(lambda: self.redis.set(TRUSTED_PREFIX + digest, stored.body))
        return self._remember(digest, stored.body, trusted=True)
