"""What an execution read: each tag with its version captured *before* the data it guards
was read, so a write that lands in between leaves the entry stale, never wrong."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from notes_bff.response_cache.versions import TagVersions


class ReadSet:
    """The tags one execution read, with their versions; or the reason it cannot be cached."""

    def __init__(self, versions: TagVersions, ttl_s: float) -> None:
        self.versions = versions
        self.ttl_s = ttl_s
        self.read: dict[str, str] = {}
        self.cacheable = True

    async def capture(self, tags: Sequence[str]) -> None:
        """Read the versions of the tags not seen yet (one round trip), before their data."""
        new = [t for t in dict.fromkeys(tags) if t not in self.read]
        if not new or not self.cacheable:
            return
        found = await self.versions.read(new)
        if found is None:
            self.cacheable = False
            return
        for tag, version in found.items():
            self.read.setdefault(tag, version)


_current: ContextVar[ReadSet | None] = ContextVar("response_cache_reads", default=None)


@contextmanager
def recording(reads: ReadSet) -> Iterator[ReadSet]:
    """Record into ``reads`` what the code in this block (and the tasks it starts) reads."""
    token = _current.set(reads)
    try:
        yield reads
    finally:
        _current.reset(token)


async def reading(*tags: str) -> None:
    """Declare that the caller is about to read the data these tags guard."""
    reads = _current.get()
    if reads is not None:
        await reads.capture(tags)


def current() -> ReadSet | None:
    """The record of the execution this task is part of, if any."""
    return _current.get()


def not_cacheable() -> None:
    """What is being computed depends on more than tagged data (presence, a search index
    that lags writes, the caller's rate budget): it is not cached."""
    reads = _current.get()
    if reads is not None:
        reads.cacheable = False


def expires_within(seconds: float) -> None:
    """What is being computed depends on the time: keep it at most this long."""
    reads = _current.get()
    if reads is not None:
        reads.ttl_s = min(reads.ttl_s, seconds)
