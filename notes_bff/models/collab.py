"""Collaborative editing: a note's persisted Yjs document and its restore points."""

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import DESCENDING, IndexModel

from notes_bff.models.clock import now


class CollabState(Document):
    """A note's collaborative document up to an entry of its Redis log (``log_id``).

    ``state`` is one Yjs update (v1) merging every update up to ``log_id``; the document is
    this plus the log's entries after it. ``id`` is the note's id.
    """

    id: PydanticObjectId
    state: bytes
    log_id: str = "0-0"
    updated_at: datetime = Field(default_factory=now)

    class Settings:
        name = "collab_states"


class CollabSnapshot(Document):
    """A restore point: the note's text at one moment (automatic, named, or before a restore)."""

    note_id: PydanticObjectId
    content: str
    label: str | None = None
    created_by_id: PydanticObjectId | None = None
    created_at: datetime = Field(default_factory=now)

    class Settings:
        name = "collab_snapshots"
        indexes = [
            IndexModel([("note_id", 1), ("created_at", DESCENDING)], name="note_created"),
        ]
