"""Collaborative editing as the schema and the other services use it: tickets, who is
editing, restore points, and the clean-up that follows deleted notes."""

from __future__ import annotations

from collections.abc import Sequence

from beanie import PydanticObjectId

from notes_bff.collab.access import note_for, snapshot_for
from notes_bff.collab.service import Collaboration
from notes_bff.errors import ServiceUnavailable
from notes_bff.models import CollabSnapshot, Note, Role
from notes_bff.response_cache.reads import not_cacheable
from notes_bff.services.actor import Actor
from notes_bff.validation import bounded_int, object_id, single_line

LABEL_LENGTH = (1, 100)
SNAPSHOTS_MAX = 50


def running(actor: Actor) -> Collaboration:
    """The process's collaboration, or ``SERVICE_UNAVAILABLE``."""
    if actor.collab is None:
        raise ServiceUnavailable("Collaborative editing is not running.")
    return actor.collab


async def ticket(actor: Actor, raw_note_id: str) -> str:
    """A short-lived, single-use ticket to open the note's socket (members; viewers read)."""
    note = await note_for(
        actor.loaders, actor.require_viewer(), object_id("noteId", raw_note_id), Role.VIEWER
    )
    assert note.id is not None
    assert actor.claims is not None
    return await running(actor).ticket(actor.claims, note.id)


async def editors(actor: Actor, raw_note_id: str) -> list[PydanticObjectId]:
    """Who has the note open in a collaborative editor now (any member may ask)."""
    not_cacheable()  # editors come and go without a write
    note = await note_for(
        actor.loaders, actor.require_viewer(), object_id("noteId", raw_note_id), Role.VIEWER
    )
    return [PydanticObjectId(e) for e in await running(actor).editors(note)]


async def snapshots(actor: Actor, raw_note_id: str, first: int | None) -> list[CollabSnapshot]:
    """The note's restore points, newest first (editors and owners)."""
    not_cacheable()  # restore points are written without the note's events
    count = bounded_int("first", 20 if first is None else first, 1, SNAPSHOTS_MAX)
    note = await note_for(
        actor.loaders, actor.require_viewer(), object_id("noteId", raw_note_id), Role.EDITOR
    )
    assert note.id is not None
    return await Collaboration.snapshots(note.id, count)


async def create_snapshot(actor: Actor, raw_note_id: str, label: str) -> CollabSnapshot:
    """A named restore point of the note's text as it is now."""
    viewer = actor.require_viewer()
    name = single_line("label", label, LABEL_LENGTH)
    note = await note_for(actor.loaders, viewer, object_id("noteId", raw_note_id), Role.EDITOR)
    return await running(actor).snapshot(note, viewer, name)


async def restore_snapshot(actor: Actor, raw_id: str) -> Note:
    """Make the note read as the restore point again (an edit, so editors keep working)."""
    viewer = actor.require_viewer()
    snapshot = await snapshot_for(actor.loaders, viewer, object_id("id", raw_id))
    await running(actor).restore(snapshot, viewer)
    actor.loaders.note_by_id.clear(snapshot.note_id)
    return await note_for(actor.loaders, viewer, snapshot.note_id, Role.EDITOR)


async def collaborative_notes(workspace_id: PydanticObjectId) -> list[PydanticObjectId]:
    """The workspace's notes that have a collaborative document."""
    return await Collaboration.collaborative_notes(workspace_id)


async def purge(actor: Actor, note_ids: Sequence[PydanticObjectId]) -> None:
    """After notes were deleted: their collaborative documents, restore points and logs go,
    and their open rooms close."""
    if note_ids and actor.collab is not None:
        await actor.collab.purge(list(note_ids))
