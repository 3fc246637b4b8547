"""Workspaces and their members: owners manage, the last owner always stays."""

from __future__ import annotations

from typing import Any

from beanie import PydanticObjectId
from pymongo import ReturnDocument

from notes_bff.errors import BadInput, Conflict, NotFound
from notes_bff.models import (
    Member,
    Note,
    Notification,
    NotificationKind,
    Role,
    User,
    Workspace,
    require_role,
)
from notes_bff.ratelimit import refund, spend_all
from notes_bff.response_cache import tags
from notes_bff.services import collaboration
from notes_bff.services.access import visible_workspace, workspace_for_change
from notes_bff.services.actor import Actor
from notes_bff.services.changes import Keep, WorkspaceChanges
from notes_bff.services.notifications import notify
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


async def _changed(actor: Actor, workspace: Workspace, *, deleted: bool = False) -> None:
    """Drop the cached answers that read the workspace or a member's list of workspaces
    (which shows its name and members); when it is deleted, its notes and notifications."""
    members = [m.user_id for m in workspace.members]
    changed = [tags.workspace(workspace.id), *map(tags.memberships, members)]
    if deleted:
        changed += [tags.workspace_notes(workspace.id), *map(tags.notifications, members)]
    await actor.realtime.invalidate(*changed)


async def create_workspace(actor: Actor, name: str, description: str | None) -> Workspace:
    """A new workspace owned by the viewer."""
    viewer = actor.require_viewer()
    workspace = Workspace(
        name=single_line("input.name", name, WORKSPACE_NAME_LENGTH),
        description=_description("input.description", description),
        owner_id=viewer,
        members=[Member(user_id=viewer, role=Role.OWNER)],
    )
    await workspace.insert()
    await _changed(actor, workspace)
    return workspace


async def update_workspace(actor: Actor, raw_id: str, raw: WorkspaceChanges) -> Workspace:
    """Rename or re-describe a workspace (owners only); ``description: None`` clears it."""
    workspace = await workspace_for_change(actor, raw_id, Role.OWNER)
    changes: dict[str, Any] = {"updated_at": actor.clock()}
    if not isinstance(raw.name, Keep):
        if raw.name is None:
            raise BadInput("input.name", "input.name cannot be null.")
        changes["name"] = single_line("input.name", raw.name, WORKSPACE_NAME_LENGTH)
    if not isinstance(raw.description, Keep):
        changes["description"] = _description("input.description", raw.description)
    updated = await _apply(workspace.id, {}, {"$set": changes})
    await _changed(actor, updated)
    return updated


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


async def delete_workspace(actor: Actor, raw_id: str) -> PydanticObjectId:
    """Delete a workspace with its notes and notifications (owners only)."""
    workspace = await workspace_for_change(actor, raw_id, Role.OWNER)
    assert workspace.id is not None
    collaborative = await collaboration.collaborative_notes(workspace.id)
    await Note.get_pymongo_collection().delete_many({"workspace_id": workspace.id})
    await Notification.get_pymongo_collection().delete_many({"workspace_id": workspace.id})
    await Workspace.get_pymongo_collection().delete_one({"_id": workspace.id})
    await _changed(actor, workspace, deleted=True)
    viewer = str(actor.require_viewer())
    await actor.realtime.membership_changed(str(workspace.id), viewer, viewer)
    await collaboration.purge(actor, collaborative)
    return workspace.id


async def add_member(actor: Actor, raw_id: str, raw_email: str, role: Role) -> Member:
    """Add a registered user by email (owners only).

    The answer tells an owner that an address has no account, and anyone signed in can own a
    workspace: such misses spend budgets per user and per client address (spent before the
    lookup, so concurrent ones cannot overdraw; given back when the account exists, since
    adding and notifying that user is no quiet probe)."""
    viewer = actor.require_viewer()
    workspace = await workspace_for_change(actor, raw_id, Role.OWNER, "workspaceId")
    address = email("email", raw_email)
    limits = actor.rate_limits
    lookup = await spend_all(
        [(limits.member_lookup, str(viewer)), (limits.member_lookup_ip, actor.client_ip)]
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
            {"$push": {"members": member.model_dump()}, "$set": {"updated_at": actor.clock()}},
        )
    except NotFound:
        raise Conflict("That user is already a member.", field="email") from None
    await _changed(actor, workspace)
    await notify(
        actor,
        NotificationKind.MEMBER_ADDED,
        [user.id],
        subject=workspace.name,
        role=role.value,
        workspace=workspace,
    )
    return member


def _keeps_another_owner(user_id: PydanticObjectId) -> dict[str, Any]:
    """A guard that holds while someone other than ``user_id`` is an owner."""
    return {"members": {"$elemMatch": {"role": Role.OWNER.value, "user_id": {"$ne": user_id}}}}


async def update_member_role(actor: Actor, raw_id: str, raw_user: str, role: Role) -> Member:
    """Change a member's role (owners only); the last owner cannot be demoted."""
    workspace = await workspace_for_change(actor, raw_id, Role.OWNER, "workspaceId")
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
            {"$set": {"members.$[m].role": role.value, "updated_at": actor.clock()}},
            array_filters=[{"m.user_id": user_id}],
        )
    except NotFound:
        raise Conflict("A workspace needs at least one owner.", field="role") from None
    await _changed(actor, workspace)
    viewer = str(actor.require_viewer())
    await actor.realtime.membership_changed(str(workspace.id), viewer, str(user_id))
    return next(m for m in workspace.members if m.user_id == user_id)


async def remove_member(actor: Actor, raw_id: str, raw_user: str) -> PydanticObjectId:
    """Remove a member (owners), or leave (anyone); the last owner cannot leave."""
    viewer = actor.require_viewer()
    user_id = object_id("userId", raw_user)
    workspace = await visible_workspace(actor, raw_id, "workspaceId")
    if workspace is None:
        raise NotFound("No such workspace.")
    if user_id != viewer:
        require_role(workspace.role_of(viewer), Role.OWNER, "No such workspace.")
    if workspace.role_of(user_id) is None:
        raise NotFound("That user is not a member.")
    try:
        await _apply(
            workspace.id,
            _keeps_another_owner(user_id)
            if workspace.role_of(user_id) is Role.OWNER
            else {"members.user_id": user_id},
            {"$pull": {"members": {"user_id": user_id}}, "$set": {"updated_at": actor.clock()}},
        )
    except NotFound:
        raise Conflict("A workspace needs at least one owner.", field="userId") from None
    await _changed(actor, workspace)  # as it was: the member who left is in it
    await actor.realtime.membership_changed(str(workspace.id), str(viewer), str(user_id))
    return user_id
