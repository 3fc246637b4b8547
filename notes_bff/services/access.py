"""Who may see and change what: the role rules of every workspace-scoped operation."""

from __future__ import annotations

from beanie import PydanticObjectId

from notes_bff.models import Note, Role, Workspace, member_role, require_role
from notes_bff.services.actor import Actor
from notes_bff.validation import object_id


async def viewer_workspaces(actor: Actor) -> list[Workspace]:
    """The workspaces the signed-in user is a member of (none when anonymous)."""
    viewer = actor.viewer_id
    if viewer is None:
        return []
    return await actor.loaders.workspaces_by_member.load(viewer)


async def visible_workspace(actor: Actor, raw_id: str, field: str = "id") -> Workspace | None:
    """A workspace the viewer is a member of, else None (unknown and foreign look alike)."""
    viewer = actor.require_viewer()
    workspace = await actor.loaders.workspace_by_id.load_document(object_id(field, raw_id))
    return workspace if member_role(workspace, viewer) is not None else None


async def searched_workspace_ids(actor: Actor, raw_id: str | None) -> list[PydanticObjectId]:
    """The workspaces a listing or search covers: ``raw_id`` if the viewer is a member (else
    none), or all of the viewer's when it is not given."""
    if raw_id is None:
        return [w.id for w in await viewer_workspaces(actor) if w.id]
    visible = await visible_workspace(actor, raw_id, "workspaceId")
    return [visible.id] if visible and visible.id else []


async def note_in_workspace(
    actor: Actor, note_id: PydanticObjectId
) -> tuple[Note, Workspace] | None:
    """A note and its workspace, when the viewer is a member there; else None."""
    viewer = actor.require_viewer()
    note = await actor.loaders.note_by_id.load_document(note_id)
    workspace = (
        await actor.loaders.workspace_by_id.load_document(note.workspace_id) if note else None
    )
    if note is None or workspace is None or member_role(workspace, viewer) is None:
        return None
    return note, workspace


async def visible_note(actor: Actor, raw_id: str) -> Note | None:
    """A note in one of the viewer's workspaces, else None."""
    found = await note_in_workspace(actor, object_id("id", raw_id))
    return found[0] if found else None


async def workspace_for_change(
    actor: Actor, raw_id: str, needed: Role, field: str = "id"
) -> Workspace:
    """A workspace the viewer may change with ``needed`` rights."""
    viewer = actor.require_viewer()
    workspace = await actor.loaders.workspace_by_id.load_document(object_id(field, raw_id))
    require_role(member_role(workspace, viewer), needed, "No such workspace.")
    assert workspace is not None
    return workspace


async def note_for_change(actor: Actor, raw_id: str) -> tuple[Note, Workspace]:
    """A note the viewer may edit (EDITOR or OWNER of its workspace), and its workspace."""
    found = await note_in_workspace(actor, object_id("id", raw_id))
    role = member_role(found[1], actor.require_viewer()) if found else None
    require_role(role, Role.EDITOR, "No such note.")
    assert found is not None
    return found
