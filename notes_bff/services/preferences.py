"""Notification preferences: reading them (one query for many users) and changing them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from beanie import PydanticObjectId

from notes_bff.email.unsubscribe import DIGEST_TOPIC
from notes_bff.errors import NotFound
from notes_bff.models import NotificationKind, NotificationPreferences, Workspace
from notes_bff.services.actor import Actor
from notes_bff.services.digest import next_digest_at, zone_of_user
from notes_bff.validation import object_ids

MUTED_MAX = 500


@dataclass(frozen=True)
class ChannelChanges:
    """New channel switches of one kind; None leaves a switch as it is."""

    in_app: bool | None = None
    email: bool | None = None


@dataclass(frozen=True)
class PreferenceChanges:
    """A partial update of a user's preferences; None leaves a part as it is."""

    kinds: dict[NotificationKind, ChannelChanges] = field(default_factory=dict)
    muted_workspace_ids: list[str] | None = None
    daily_digest: bool | None = None


async def preferences_of(
    user_ids: Sequence[PydanticObjectId],
) -> dict[PydanticObjectId, NotificationPreferences]:
    """Each user's preferences (the defaults for users who never changed them), in one query."""
    found = await NotificationPreferences.find({"user_id": {"$in": list(user_ids)}}).to_list()
    stored = {prefs.user_id: prefs for prefs in found}
    return {uid: stored.get(uid) or NotificationPreferences.defaults(uid) for uid in user_ids}


async def my_preferences(actor: Actor) -> NotificationPreferences:
    """The viewer's preferences."""
    viewer = actor.require_viewer()
    return (await preferences_of([viewer]))[viewer]


async def _member_workspaces(
    viewer: PydanticObjectId, raw_ids: list[str]
) -> list[PydanticObjectId]:
    """The ids, each a workspace the viewer belongs to (else ``NOT_FOUND``)."""
    ids = object_ids("input.mutedWorkspaceIds", raw_ids, max_count=MUTED_MAX)
    found = await Workspace.find({"_id": {"$in": ids}, "members.user_id": viewer}).count()
    if found != len(ids):
        raise NotFound("A muted workspace does not exist or you are not a member.")
    return ids


async def _save(user_id: PydanticObjectId, changes: dict[str, Any]) -> None:
    """Apply ``$set`` changes to the user's document, creating it if needed."""
    if changes:
        await NotificationPreferences.get_pymongo_collection().update_one(
            {"user_id": user_id}, {"$set": changes}, upsert=True
        )


async def update_preferences(actor: Actor, changes: PreferenceChanges) -> NotificationPreferences:
    """Change the viewer's preferences. Turning the digest on starts it from now."""
    viewer = actor.require_viewer()
    updates: dict[str, Any] = {}
    for kind, channels in changes.kinds.items():
        for name, value in (("in_app", channels.in_app), ("email", channels.email)):
            if value is not None:
                updates[f"kinds.{kind.value}.{name}"] = value
    if changes.muted_workspace_ids is not None:
        updates["muted_workspace_ids"] = await _member_workspaces(
            viewer, changes.muted_workspace_ids
        )
    if changes.daily_digest is not None:
        updates["daily_digest"] = changes.daily_digest
        if changes.daily_digest and not (await my_preferences(actor)).daily_digest:
            moment = actor.clock()
            user = await actor.loaders.user_by_id.load_document(viewer)
            zone = zone_of_user(user)
            updates["digest_since"] = moment
            updates["digest_due_at"] = next_digest_at(moment, zone, actor.settings.digest_hour)
    await _save(viewer, updates)
    return await my_preferences(actor)


async def unsubscribe(user_id: PydanticObjectId, topic: str) -> bool:
    """Turn off the emails of ``topic`` (a notification kind, or the digest) for a user;
    False for an unknown topic. The one-click link of every such email does this."""
    if topic == DIGEST_TOPIC:
        await _save(user_id, {"daily_digest": False})
        return True
    if topic not in NotificationKind.__members__:
        return False
    await _save(user_id, {f"kinds.{topic}.email": False})
    return True
