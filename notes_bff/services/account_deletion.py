"""The right to erasure, asked for: ``deleteMyAccount`` schedules it after a grace period
that ``cancelAccountDeletion`` cancels; services/erasure.py carries it out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from beanie import PydanticObjectId

from notes_bff.email.outbox import enqueue
from notes_bff.errors import Conflict, Unauthenticated
from notes_bff.models import EmailTemplate, Role, User, Workspace
from notes_bff.response_cache import tags
from notes_bff.services.account import confirm_password
from notes_bff.services.actor import Actor
from notes_bff.services.sessions import end_other_sessions


@dataclass(frozen=True)
class ScheduledDeletion:
    """When the account will be erased, and whether its notes go with it."""

    scheduled_for: datetime
    delete_notes: bool


def needs_another_owner(workspace: Workspace, user_id: PydanticObjectId) -> bool:
    """Whether ``user_id`` is the only owner of ``workspace`` while others are members."""
    owners = [m.user_id for m in workspace.members if m.role is Role.OWNER]
    return owners == [user_id] and len(workspace.members) > 1


async def workspaces_to_hand_over(user_id: PydanticObjectId) -> list[Workspace]:
    """The shared workspaces that would be left without an owner."""
    owned = await Workspace.find(
        {"members": {"$elemMatch": {"user_id": user_id, "role": Role.OWNER.value}}}
    ).to_list()
    return [ws for ws in owned if needs_another_owner(ws, user_id)]


async def delete_my_account(actor: Actor, password: str, delete_notes: bool) -> ScheduledDeletion:
    """Schedule the viewer's erasure (password required): refused (``CONFLICT``, the
    workspaces listed in ``extensions.workspaces``) while they are the last owner of a shared
    workspace. Every other session ends now; this one stays so the user may cancel."""
    viewer = actor.require_viewer()
    user = await User.get(viewer)
    if user is None or user.erased_at is not None or user.disabled:
        raise Unauthenticated()
    await confirm_password(actor, user, password, "password")
    blocking = await workspaces_to_hand_over(viewer)
    if blocking:
        raise Conflict(
            "Make someone else an owner of these workspaces (or remove their other members) "
            "before deleting your account.",
            reason="LAST_OWNER",
            workspaces=[{"id": str(ws.id), "name": ws.name} for ws in blocking],
        )
    when = actor.clock() + timedelta(seconds=actor.settings.account_deletion_grace_seconds)
    await User.get_pymongo_collection().update_one(
        {"_id": viewer, "disabled": False},
        {"$set": {"deletion_scheduled_for": when, "delete_notes_on_erasure": delete_notes}},
    )
    await actor.realtime.invalidate(tags.user(viewer))
    await end_other_sessions(actor, viewer)
    await enqueue(
        user.email,
        EmailTemplate.DELETION_SCHEDULED,
        user_id=viewer,
        values={"when": when.strftime("%Y-%m-%d %H:%M UTC")},
    )
    return ScheduledDeletion(when, delete_notes)


async def cancel_account_deletion(actor: Actor) -> bool:
    """Cancel the viewer's scheduled erasure; False when none is pending (or it began)."""
    viewer = actor.require_viewer()
    cancelled = await User.get_pymongo_collection().update_one(
        {"_id": viewer, "deletion_scheduled_for": {"$ne": None}, "disabled": False},
        {"$set": {"deletion_scheduled_for": None, "delete_notes_on_erasure": False}},
    )
    await actor.realtime.invalidate(tags.user(viewer))
    return cancelled.modified_count == 1
