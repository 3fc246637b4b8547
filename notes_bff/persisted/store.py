"""Where persisted documents live: a process LRU, Redis (shared), MongoDB (trusted, durable)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
from graphql import DocumentNode
from redis.asyncio import Redis

from notes_bff.config import RateLimitFallback
from notes_bff.metrics import Metrics
from notes_bff.models import PersistedDocument
from notes_bff.ratelimit import RateLimiter
from notes_bff.redis_guard import RedisGuard

APQ_PREFIX = "notes-bff:apq:"
TRUSTED_PREFIX = "notes-bff:trusted:"
# What a cached document may weigh in memory: its text, and its parsed syntax tree (about
# 135 bytes per byte of text for dense documents, at most ~1.5 MB under the 5,000-token
# limit, measured with tracemalloc).
AST_BYTES_PER_BYTE = 150
AST_MAX_BYTES = 2 * 1024 * 1024
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
    # The operation limits' analyses of the parsed document, reused while it is cached
    # (``execution/limits.py``: by operation and the ``first`` values they read).
    analyses: list[Any] = field(default_factory=list, compare=False, repr=False)

    @property
    def weight(self) -> int:
        """Bytes it may hold once parsed (an upper estimate), for the LRU's bound."""
        size = len(self.text.encode())
        return size + min(size * AST_BYTES_PER_BYTE, AST_MAX_BYTES)


class DocumentStore:
    """Looks persisted documents up by hash and stores new APQ registrations.

    The process cache holds at most ``lru_size`` documents and ``lru_bytes`` bytes (by
    :attr:`CachedDocument.weight`). APQ registrations live ``ttl_seconds`` in Redis (not
    refreshed by use, as in Apollo Server), and each client (user or IP) may register at most
    ``register_bytes`` bytes of documents per TTL: past that, its documents still run but are
    not stored, so no client can make the server keep more than that.
    """

    def __init__(
        self,
        redis: Redis,
        metrics: Metrics,
        *,
        ttl_seconds: int,
        lru_size: int,
        lru_bytes: int,
        register_bytes: int,
        fallback: RateLimitFallback,
    ) -> None:
        self.redis = redis
        self.metrics = metrics
        self.ttl_seconds = ttl_seconds
        self.lru_size = lru_size
        self.guard = RedisGuard("persisted_queries", metrics)
        self._lru: LRUCache[str, CachedDocument] = LRUCache(
            maxsize=lru_bytes, getsizeof=lambda entry: entry.weight
        )
        # Documents sent as text, parsed and validated once too: apart from the persisted
        # ones, so that clients sending many distinct texts never evict those.
        self._texts: LRUCache[str, CachedDocument] = LRUCache(
            maxsize=lru_bytes, getsizeof=lambda entry: entry.weight
        )
        self.registrations = RateLimiter(
            redis, self.guard, "apq-bytes", register_bytes, ttl_seconds, fallback
        )

    def _count(self, event: str) -> None:
        self.metrics.persisted_queries.labels(event).inc()

    def _remember(
        self, digest: str, entry: CachedDocument, lru: LRUCache[str, CachedDocument] | None = None
    ) -> CachedDocument:
        lru = self._lru if lru is None else lru
        if entry.weight > lru.maxsize:
            return entry  # larger than the whole cache: used once, not kept
        while len(lru) >= self.lru_size and digest not in lru:
            lru.popitem()
        lru[digest] = entry
        return entry

    def text(self, query: str) -> CachedDocument:
        """A document sent as text: the one parsed (and validated) before, if still kept."""
        digest = sha256_hex(query)
        entry = self._texts.get(digest)
        if entry is not None and entry.text == query:
            return entry
        return self._remember(digest, CachedDocument(text=query, trusted=False), self._texts)

    async def automatic(self, digest: str) -> CachedDocument | None:
        """An APQ document: this process's LRU, else Redis."""
        entry = self._lru.get(digest)
        if entry is not None:
            self._count("lru")
            return entry
        raw = await self.guard.call(lambda: self.redis.get(APQ_PREFIX + digest))
        if raw is None:
            self._count("miss")
            return None
        self._count("redis")
        return self._remember(digest, CachedDocument(text=_text(raw), trusted=False))

    async def register(self, digest: str, entry: CachedDocument, subject: str) -> bool:
        """Store a validated APQ registration in Redis (with its TTL) and in this process,
        if ``subject`` has registration bytes left; whether it was stored."""
        size = len(entry.text.encode())
        if not (await self.registrations.take(subject, size)).allowed:
            self._count("refused")
            return False
        self._count("registered")
        self._remember(digest, entry)
        await self.guard.call(
            lambda: self.redis.set(APQ_PREFIX + digest, entry.text, ex=self.ttl_seconds)
        )
        return True

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
            return self._remember(digest, self._trusted(_text(raw)))
        stored = await PersistedDocument.get(digest)
        if stored is None:
            self._count("miss")
            return None
        self._count("mongodb")
        await self.guard.call(lambda: self.redis.set(TRUSTED_PREFIX + digest, stored.body))
        return self._remember(digest, self._trusted(stored.body))

    @staticmethod
    def _trusted(text: str) -> CachedDocument:
        return CachedDocument(text=text, trusted=True, refreshed_at=time.monotonic())
