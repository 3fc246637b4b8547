"""Who may do what with a note's collaborative document: members open it (viewers
read-only), editors and owners change it and its restore points."""

from __future__ import annotations

from beanie import PydanticObjectId

from notes_bff.errors import Forbidden, NotFound
from notes_bff.loaders import Loaders
from notes_bff.models import CollabSnapshot, Note, Role


async def note_role(
    loaders: Loaders, viewer: PydanticObjectId, note_id: PydanticObjectId
) -> tuple[Note, Role] | None:
    """The note and the viewer's role in its workspace; None when it does not exist or the
    viewer is not a member (the two look alike)."""
    note = await loaders.note_by_id.load_document(note_id)
    workspace = await loaders.workspace_by_id.load_document(note.workspace_id) if note else None
    role = workspace.role_of(viewer) if workspace else None
    return (note, role) if note is not None and role is not None else None


async def note_for(
    loaders: Loaders, viewer: PydanticObjectId, note_id: PydanticObjectId, needed: Role
) -> Note:
    """The note if the viewer has at least the ``needed`` role: NOT_FOUND for strangers,
    FORBIDDEN for members with less."""
    found = await note_role(loaders, viewer, note_id)
    if found is None:
        raise NotFound("No such note.")
    note, role = found
    if not role.allows(needed):
        raise Forbidden(
            f"This needs the {needed.value} role in the workspace; you are {role.value}."
        )
    return note


async def snapshot_for(
    loaders: Loaders, viewer: PydanticObjectId, snapshot_id: PydanticObjectId
) -> CollabSnapshot:
    """A restore point of a note the viewer may edit."""
    snapshot = await CollabSnapshot.get(snapshot_id)
    if snapshot is None or await note_role(loaders, viewer, snapshot.note_id) is None:
        raise NotFound("No such restore point.")
    await note_for(loaders, viewer, snapshot.note_id, Role.EDITOR)
    return snapshot
