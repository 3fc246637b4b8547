"""Workspaces and their members: owners manage, the last owner always stays."""

from __future__ import annotations

from typing import Any

from beanie import PydanticObjectId
from pymongo import ReturnDocument

from notes_bff.context import Context
from notes_bff.errors import BadInput, Conflict, NotFound
from notes_bff.keys import COLLAB
from notes_bff.models import Member, Note, Notification, NotificationKind, Role, User, Workspace
from notes_bff.models.clock import now
from notes_bff.ratelimit import refund, spend_all
from notes_bff.resolvers.access import require_role, workspace_for_change
from notes_bff.resolvers.notifications import notify
from notes_bff.validation import (
    DESCRIPTION_MAX,
    WORKSPACE_NAME_LENGTH,
    email,
    multi_line,
    object_id,
    single_line,
)


def _description(field: str, value: str | None) -> str | None:
    if value is None:
        return None
    text = multi_line(field, value, DESCRIPTION_MAX).strip()
    return text or None


async def create_workspace(ctx: Context, name: str, description: str | None) -> Workspace:
    """A new workspace owned by the viewer."""
    viewer = ctx.require_viewer()
    workspace = Workspace(
        name=single_line("input.name", name, WORKSPACE_NAME_LENGTH),
        description=_description("input.description", description),
        owner_id=viewer,
        members=[Member(user_id=viewer, role=Role.OWNER)],
    )
    await workspace.insert()
    return workspace


async def update_workspace(ctx: Context, raw_id: str, given: dict[str, Any]) -> Workspace:
    """Rename or re-describe a workspace (owners only); ``description: None`` clears it."""
    workspace = await workspace_for_change(ctx, raw_id, Role.OWNER)
    changes: dict[str, Any] = {"updated_at": now()}
    if "name" in given:
        if given["name"] is None:
            raise BadInput("input.name", "input.name cannot be null.")
        changes["name"] = single_line("input.name", given["name"], WORKSPACE_NAME_LENGTH)
    if "description" in given:
        changes["description"] = _description("input.description", given["description"])
    return await _apply(workspace.id, {}, {"$set": changes})


async def _apply(
    workspace_id: PydanticObjectId | None,
    guard: dict[str, Any],
    update: dict[str, Any],
    array_filters: list[dict[str, Any]] | None = None,
) -> Workspace:
    """One atomic, guarded update; ``NotFound`` when the guard (or the id) does not match."""
    raw = await Workspace.get_pymongo_collection().find_one_and_update(
        {"_id": workspace_id, **guard},
        update,
        array_filters=array_filters,
        return_document=ReturnDocument.AFTER,
    )
    if raw is None:
        raise NotFound("No such workspace.")
    workspace: Workspace = Workspace.model_validate(raw)
    if workspace.role_of(workspace.owner_id) is not Role.OWNER:
        # The owner shown as Workspace.owner left or was demoted: another owner takes over.
        successor = next(m.user_id for m in workspace.members if m.role is Role.OWNER)
        return await _apply(workspace.id, {}, {"$set": {"owner_id": successor}})
    return workspace


async def delete_workspace(ctx: Context, raw_id: str) -> PydanticObjectId:
    """Delete a workspace with its notes and notifications (owners only)."""
    workspace = await workspace_for_change(ctx, raw_id, Role.OWNER)
    assert workspace.id is not None
    collab = ctx.request.app[COLLAB]
    collaborative = await collab.collaborative_notes(workspace.id)
    await Note.get_pymongo_collection().delete_many({"workspace_id": workspace.id})
    await Notification.get_pymongo_collection().delete_many({"workspace_id": workspace.id})
    await Workspace.get_pymongo_collection().delete_one({"_id": workspace.id})
    viewer = str(ctx.require_viewer())
    await ctx.realtime.membership_changed(str(workspace.id), viewer, viewer)
    await collab.purge(collaborative)
    return workspace.id


async def add_member(ctx: Context, raw_id: str, raw_email: str, role: Role) -> Member:
    """Add a registered user by email (owners only).

    The answer tells an owner that an address has no account, and anyone signed in can own a
    workspace: such misses spend budgets per user and per client address (spent before the
    lookup, so concurrent ones cannot overdraw; given back when the account exists, since
    adding and notifying that user is no quiet probe)."""
    viewer = ctx.require_viewer()
    workspace = await workspace_for_change(ctx, raw_id, Role.OWNER, "workspaceId")
    address = email("email", raw_email)
    limits = ctx.rate_limits
    lookup = await spend_all(
        [(limits.member_lookup, str(viewer)), (limits.member_lookup_ip, ctx.client_ip)]
    )
    user = await User.find_one({"email": address})
    if user is None or user.id is None:
        raise NotFound("No user is registered with that email.")
    await refund(lookup)
    member = Member(user_id=user.id, role=role)
    try:
        workspace = await _apply(
            workspace.id,
            {"members.user_id": {"$ne": user.id}},
            {"$push": {"members": member.model_dump()}, "$set": {"updated_at": now()}},
        )
    except NotFound:
        raise Conflict("That user is already a member.", field="email") from None
    await notify(
        ctx,
        NotificationKind.MEMBER_ADDED,
        [user.id],
        subject=workspace.name,
        role=role.value,
        actor=viewer,
        workspace=workspace,
    )
    return member


def _keeps_another_owner(user_id: PydanticObjectId) -> dict[str, Any]:
    """A guard that holds while someone other than ``user_id`` is an owner."""
    return {"members": {"$elemMatch": {"role": Role.OWNER.value, "user_id": {"$ne": user_id}}}}


async def update_member_role(ctx: Context, raw_id: str, raw_user: str, role: Role) -> Member:
    """Change a member's role (owners only); the last owner cannot be demoted."""
    workspace = await workspace_for_change(ctx, raw_id, Role.OWNER, "workspaceId")
    user_id = object_id("userId", raw_user)
    current = workspace.role_of(user_id)
    if current is None:
        raise NotFound("That user is not a member.")
    guard: dict[str, Any] = {"members.user_id": user_id}
    if current is Role.OWNER and role is not Role.OWNER:
        guard = {"$and": [guard, _keeps_another_owner(user_id)]}
    try:
        workspace = await _apply(
            workspace.id,
            guard,
            {"$set": {"members.$[m].role": role.value, "updated_at": now()}},
            array_filters=[{"m.user_id": user_id}],
        )
    except NotFound:
        raise Conflict("A workspace needs at least one owner.", field="role") from None
    viewer = str(ctx.require_viewer())
    await ctx.realtime.membership_changed(str(workspace.id), viewer, str(user_id))
    return next(m for m in workspace.members if m.user_id == user_id)


async def remove_member(ctx: Context, raw_id: str, raw_user: str) -> PydanticObjectId:
    """Remove a member (owners), or leave (anyone); the last owner cannot leave."""
    viewer = ctx.require_viewer()
    user_id = object_id("userId", raw_user)
    workspace = await ctx.loaders.workspace_by_id.load_document(object_id("workspaceId", raw_id))
    if workspace is None or workspace.role_of(viewer) is None:
        raise NotFound("No such workspace.")
    if user_id != viewer:
        require_role(workspace, viewer, Role.OWNER)
    if workspace.role_of(user_id) is None:
        raise NotFound("That user is not a member.")
    try:
        await _apply(
            workspace.id,
            _keeps_another_owner(user_id)
            if workspace.role_of(user_id) is Role.OWNER
            else {"members.user_id": user_id},
            {"$pull": {"members": {"user_id": user_id}}, "$set": {"updated_at": now()}},
        )
    except NotFound:
        raise Conflict("A workspace needs at least one owner.", field="userId") from None
    await ctx.realtime.membership_changed(str(workspace.id), str(viewer), str(user_id))
    return user_id
