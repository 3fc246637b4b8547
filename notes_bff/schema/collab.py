"""Collaborative editing in GraphQL: tickets for the ``/collab/<noteId>`` socket, who is
editing, and restore points. Root-field mixins of ``Query`` and ``Mutation``."""

from __future__ import annotations

from datetime import datetime

import strawberry
from beanie import PydanticObjectId

from notes_bff.models import CollabSnapshot
from notes_bff.schema.info import Info
from notes_bff.schema.notes import NoteType
from notes_bff.schema.users import UserType, load_users
from notes_bff.services import collaboration


@strawberry.type(name="NoteSnapshot")
class NoteSnapshotType:
    """A restore point: a note's text at one moment."""

    id: strawberry.ID
    note_id: strawberry.ID
    label: str | None = strawberry.field(
        description="Given when made with createNoteSnapshot or before a restore; null for "
        "automatic restore points."
    )
    content: str
    created_at: datetime
    doc: strawberry.Private[CollabSnapshot]

    @classmethod
    def from_document(cls, doc: CollabSnapshot) -> NoteSnapshotType:
        """Wrap a stored restore point."""
        return cls(
            id=strawberry.ID(str(doc.id)),
            note_id=strawberry.ID(str(doc.note_id)),
            label=doc.label,
            content=doc.content,
            created_at=doc.created_at,
            doc=doc,
        )

    @strawberry.field(description="Who made it, or who wrote the text of an automatic one.")
    async def created_by(self, info: Info) -> UserType | None:
        author = self.doc.created_by_id
        found = await load_users(info, [author]) if author else []
        return found[0] if found else None


@strawberry.type
class NoteEditing:
    """Who is editing one note: users with a collaboration socket open on it."""

    note_id: strawberry.ID
    user_ids: strawberry.Private[list[str]]

    @strawberry.field
    async def editors(self, info: Info) -> list[UserType]:
        return await load_users(info, [PydanticObjectId(u) for u in self.user_ids])


def note_editing(editing: dict[str, list[str]]) -> list[NoteEditing]:
    """``Presence.editing``'s answer as GraphQL objects."""
    return [NoteEditing(note_id=strawberry.ID(n), user_ids=users) for n, users in editing.items()]


@strawberry.type
class CollabQuery:
    """Reads of collaborative editing."""

    @strawberry.field(
        description="Who has the note open in a collaborative editor now (any member may ask)."
    )
    async def note_editors(self, info: Info, note_id: strawberry.ID) -> list[UserType]:
        return await load_users(info, await collaboration.editors(info.context.actor, note_id))

    @strawberry.field(
        description="The note's restore points, newest first (editors and owners): automatic "
        "ones while it is edited, named ones, and one before every restore."
    )
    async def note_snapshots(
        self, info: Info, note_id: strawberry.ID, first: int | None = 20
    ) -> list[NoteSnapshotType]:
        found = await collaboration.snapshots(info.context.actor, note_id, first)
        return [NoteSnapshotType.from_document(s) for s in found]


@strawberry.type
class CollabMutation:
    """Writes of collaborative editing."""

    @strawberry.mutation(
        description="A short-lived, single-use ticket to open the note's collaboration socket "
        "(`/collab/<noteId>?ticket=…`); viewers get read-only access."
    )
    async def collab_ticket(self, info: Info, note_id: strawberry.ID) -> str:
        return await collaboration.ticket(info.context.actor, note_id)

    @strawberry.mutation(description="A named restore point of the note's text as it is now.")
    async def create_note_snapshot(
        self, info: Info, note_id: strawberry.ID, label: str
    ) -> NoteSnapshotType:
        snapshot = await collaboration.create_snapshot(info.context.actor, note_id, label)
        return NoteSnapshotType.from_document(snapshot)

    @strawberry.mutation(
        description="Make the note read as the restore point again: applied as an edit, so "
        "anyone editing keeps working; the text before becomes a restore point."
    )
    async def restore_note_snapshot(self, info: Info, id: strawberry.ID) -> NoteType:
        return NoteType.from_document(await collaboration.restore_snapshot(info.context.actor, id))
