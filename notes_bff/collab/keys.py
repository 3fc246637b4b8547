"""Where collaborative editing keeps its Redis keys, laid out for a Redis Cluster.

A note's keys (its update log, its relayed awareness, the set that schedules its compaction)
carry the hash tag of one of ``BUCKETS`` buckets, chosen by the note's id. So every script
and transaction touches one slot, and one process's reader follows all its open notes of a
bucket with one blocking ``XREAD``: at most ``BUCKETS`` reads (and connections) per process on
a Cluster, one on a single server, however many notes are open. Bucket ``b``'s tag lies in
the ``b``-th sixteenth of the slot space, so a Cluster whose primaries hold equal ranges of
slots gets equal shares of the buckets (docs/collaboration.md, "Redis keys").
"""

from __future__ import annotations

import itertools
import zlib
from collections import defaultdict
from collections.abc import Iterable

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

BUCKETS = 16
_PREFIX = "notes-bff:collab:"
LEASE_KEY = _PREFIX + "compactor"
CHECKPOINT_PREFIX = _PREFIX + "checkpoint:"


def _tag(bucket: int) -> str:
    """The first ``{collab:<bucket>.<n>}`` whose slot lies in the bucket's share of slots."""
    share = REDIS_CLUSTER_HASH_SLOTS // BUCKETS
    for n in itertools.count():
        tag = f"{{collab:{bucket}.{n}}}"
        if key_slot(tag.encode()) // share == bucket:
            return tag
    raise AssertionError("unreachable")


TAGS = tuple(_tag(b) for b in range(BUCKETS))


def bucket_of(note_id: str) -> int:
    """The bucket of a note's keys."""
    return zlib.crc32(note_id.encode()) % BUCKETS


def by_bucket(note_ids: Iterable[str]) -> dict[int, list[str]]:
    """``note_ids`` grouped by bucket (the notes whose keys share a slot)."""
    groups: dict[int, list[str]] = defaultdict(list)
    for note_id in note_ids:
        groups[bucket_of(note_id)].append(note_id)
    return dict(groups)


def log_key(note_id: str) -> str:
    """The stream of a note's document updates."""
    return f"{_PREFIX}log:{TAGS[bucket_of(note_id)]}:{note_id}"


def awareness_key(note_id: str) -> str:
    """The short, capped stream relaying a note's awareness between workers."""
    return f"{_PREFIX}awareness:{TAGS[bucket_of(note_id)]}:{note_id}"


def dirty_key(note_id: str) -> str:
    """The sorted set of the notes (of this note's bucket) whose log is due for compaction,
    scored by when (ms, Redis clock)."""
    return dirty_key_of_bucket(bucket_of(note_id))


def dirty_key_of_bucket(bucket: int) -> str:
    """The compaction schedule of one bucket's notes."""
    return f"{_PREFIX}dirty:{TAGS[bucket]}"


def wake_key(origin: str, bucket: int | None) -> str:
    """The stream that interrupts a process's blocking read of a bucket (of every note when
    ``bucket`` is None: one server, no slots)."""
    tag = "" if bucket is None else TAGS[bucket] + ":"
    return f"{_PREFIX}wake:{tag}{origin}"


def note_of(key: str) -> str:
    """The note id at the end of a log or awareness key."""
    return key.rpartition(":")[2]


def is_log(key: str) -> bool:
    """Whether ``key`` is a note's update log (else its awareness stream)."""
    return key.startswith(_PREFIX + "log:")
