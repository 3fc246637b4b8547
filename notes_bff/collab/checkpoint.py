"""Writing a collaborative document back to its note, and restore points.

The note's ``content`` follows the document: a checkpoint writes the document's text with the
log position it covers (``collab_mark``). A write covering less of the log than the stored
one is refused, so checkpoints from several workers, the compactor and ``updateNote`` may race
in any order and the stored content still ends with the newest text; a write that changes the
text bumps ``version`` and emits ``UPDATED`` like any other edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from beanie import PydanticObjectId
from cachetools import TTLCache
from pymongo import ReturnDocument

from notes_bff.collab.store import mark
from notes_bff.models import CollabSnapshot, Note
from notes_bff.models.clock import now
from notes_bff.realtime.hub import Realtime

CHECKED_NOTES = 100_000


@dataclass(frozen=True)
class SnapshotPolicy:
    """Automatic restore points: at most one per ``interval``, the newest ``kept`` kept.

    ``checked`` remembers the notes found not due (or just given one) for an interval, so
    that checkpoints do not ask MongoDB every time.
    """

    interval: timedelta
    kept: int
    checked: TTLCache[PydanticObjectId, bool] = field(init=False)

    def __post_init__(self) -> None:
        cache: TTLCache[PydanticObjectId, bool] = TTLCache(
            CHECKED_NOTES, self.interval.total_seconds()
        )
        object.__setattr__(self, "checked", cache)


async def checkpoint(
    realtime: Realtime,
    policy: SnapshotPolicy,
    note_id: PydanticObjectId,
    text: str,
    log_id: str,
    actor: str,
) -> bool:
    """Store ``text`` (the document up to ``log_id``) as the note's content; True if the
    content changed. The text before it becomes a restore point when one is due."""
    at = mark(log_id)
    notes = Note.get_pymongo_collection()
    before = await notes.find_one_and_update(
        {"_id": note_id, "collab_mark": {"$lt": at}, "content": {"$ne": text}},
        {
            "$set": {
                "content": text,
                "collab_mark": at,
                "updated_at": now(),
                "last_edited_by_id": PydanticObjectId(actor),
            },
            "$inc": {"version": 1},
        },
        projection={"workspace_id": 1, "content": 1, "last_edited_by_id": 1},
        return_document=ReturnDocument.BEFORE,
    )
    if before is None:  # same text, or an older document: the position only moves forward
        await notes.update_one(
            {"_id": note_id, "collab_mark": {"$lt": at}}, {"$set": {"collab_mark": at}}
        )
        return False
    await realtime.note_changed("UPDATED", str(before["workspace_id"]), str(note_id), actor)
    if await _snapshot_due(note_id, policy):
        await take_snapshot(
            policy, note_id, before.get("content", ""), before.get("last_edited_by_id"), None
        )
    return True


async def _snapshot_due(note_id: PydanticObjectId, policy: SnapshotPolicy) -> bool:
    if note_id in policy.checked:
        return False
    policy.checked[note_id] = True
    latest = await CollabSnapshot.get_pymongo_collection().find_one(
        {"note_id": note_id}, {"created_at": 1}, sort=[("created_at", -1)]
    )
    return latest is None or latest["created_at"] < now() - policy.interval


async def take_snapshot(
    policy: SnapshotPolicy,
    note_id: PydanticObjectId,
    content: str,
    author: PydanticObjectId | None,
    label: str | None,
) -> CollabSnapshot:
    """Store a restore point; only the newest ``policy.kept`` of the note are kept."""
    snapshot = CollabSnapshot(note_id=note_id, content=content, label=label, created_by_id=author)
    await snapshot.insert()
    collection = CollabSnapshot.get_pymongo_collection()
    oldest_kept = await collection.find_one(
        {"note_id": note_id}, {"created_at": 1}, sort=[("created_at", -1)], skip=policy.kept - 1
    )
    if oldest_kept is not None:
        await collection.delete_many(
            {"note_id": note_id, "created_at": {"$lt": oldest_kept["created_at"]}}
        )
    return snapshot
