"""Who may see and change what: the role rules of every workspace-scoped operation."""

from __future__ import annotations

from beanie import PydanticObjectId

from notes_bff.context import Context
from notes_bff.errors import Forbidden, NotFound
from notes_bff.models import Note, Role, Workspace
from notes_bff.validation import object_id


async def viewer_workspaces(ctx: Context) -> list[Workspace]:
    """The workspaces the signed-in user is a member of (none when anonymous)."""
    viewer = ctx.viewer_id
    if viewer is None:
        return []
    return await ctx.loaders.workspaces_by_member.load(viewer)


async def visible_workspace(ctx: Context, raw_id: str) -> Workspace | None:
    """A workspace the viewer is a member of, else None (unknown and foreign look alike)."""
    viewer = ctx.require_viewer()
    workspace = await ctx.loaders.workspace_by_id.load_document(object_id("id", raw_id))
    if workspace is None or workspace.role_of(viewer) is None:
        return None
    return workspace


async def searched_workspace_ids(ctx: Context, raw_id: str | None) -> list[PydanticObjectId]:
    """The workspaces a listing or search covers: ``raw_id`` if the viewer is a member (else
    none), or all of the viewer's when it is not given."""
    if raw_id is None:
        return [w.id for w in await viewer_workspaces(ctx) if w.id]
    object_id("workspaceId", raw_id)
    visible = await visible_workspace(ctx, raw_id)
    return [visible.id] if visible and visible.id else []


async def visible_note(ctx: Context, raw_id: str) -> Note | None:
    """A note in one of the viewer's workspaces, else None."""
    viewer = ctx.require_viewer()
    note = await ctx.loaders.note_by_id.load_document(object_id("id", raw_id))
    if note is None:
        return None
    workspace = await ctx.loaders.workspace_by_id.load_document(note.workspace_id)
    if workspace is None or workspace.role_of(viewer) is None:
        return None
    return note


def require_role(workspace: Workspace, viewer: PydanticObjectId, needed: Role) -> Role:
    """The viewer's role if it allows ``needed``: NOT_FOUND for non-members, else FORBIDDEN."""
    role = workspace.role_of(viewer)
    if role is None:
        raise NotFound("No such workspace.")
    if not role.allows(needed):
        raise Forbidden(
            f"This needs the {needed.value} role in the workspace; you are {role.value}."
        )
    return role


async def workspace_for_change(
    ctx: Context, raw_id: str, needed: Role, field: str = "id"
) -> Workspace:
    """A workspace the viewer may change with ``needed`` rights."""
    viewer = ctx.require_viewer()
    workspace = await ctx.loaders.workspace_by_id.load_document(object_id(field, raw_id))
    if workspace is None:
        raise NotFound("No such workspace.")
    require_role(workspace, viewer, needed)
    return workspace


async def note_for_change(ctx: Context, raw_id: str) -> tuple[Note, Workspace]:
    """A note the viewer may edit (EDITOR or OWNER of its workspace)."""
    viewer = ctx.require_viewer()
    note = await ctx.loaders.note_by_id.load_document(object_id("id", raw_id))
    workspace = await ctx.loaders.workspace_by_id.load_document(note.workspace_id) if note else None
    if note is None or workspace is None or workspace.role_of(viewer) is None:
        raise NotFound("No such note.")
    require_role(workspace, viewer, Role.EDITOR)
    return note, workspace
