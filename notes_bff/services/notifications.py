"""Notifications: creating them, listing them, marking them read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from beanie import PydanticObjectId

from notes_bff.config import Settings
from notes_bff.models import Note, Notification, NotificationKind, Workspace
from notes_bff.models.read_routing import list_reads
from notes_bff.notification_text import notification_message
from notes_bff.pagination import Page, keyset_page
from notes_bff.realtime.hub import Realtime
from notes_bff.response_cache import tags
from notes_bff.response_cache.reads import reading
from notes_bff.services.actor import Actor
from notes_bff.services.email_notifications import email_notification
from notes_bff.services.note_queries import DEFAULT_PAGE
from notes_bff.services.preferences import preferences_of
from notes_bff.validation import object_ids

NOTIFICATION_SORT = [("created_at", -1), ("_id", -1)]


async def store_notifications(
    realtime: Realtime,
    settings: Settings,
    kind: NotificationKind,
    user_ids: Sequence[PydanticObjectId],
    message: str,
    *,
    actor: PydanticObjectId | None = None,
    note: Note | None = None,
    workspace: Workspace | None = None,
) -> list[Notification]:
    """Notify each user as their preferences say (one read for all of them): store the
    notification and push it to their live subscription, and email it when they are offline
    (services/email_notifications.py)."""
    if not user_ids:
        return []
    workspace_id = note.workspace_id if note else (workspace.id if workspace else None)
    preferences = await preferences_of(list(dict.fromkeys(user_ids)))
    docs = [
        Notification(
            user_id=user_id,
            kind=kind,
            message=message,
            note_id=note.id if note else None,
            workspace_id=workspace_id,
            actor_id=actor,
        )
        for user_id, prefs in preferences.items()
        if prefs.shows(kind, workspace_id)
    ]
    if docs:
        result = await Notification.insert_many(docs)
        for doc, new_id in zip(docs, result.inserted_ids, strict=True):
            doc.id = new_id
            await realtime.notified(str(doc.user_id), str(new_id))
    emailed = [uid for uid, prefs in preferences.items() if prefs.emails(kind, workspace_id)]
    await email_notification(realtime, settings, kind, emailed, message)
    return docs


async def notify(
    actor: Actor,
    kind: NotificationKind,
    user_ids: Sequence[PydanticObjectId],
    *,
    subject: str,
    note: Note | None = None,
    workspace: Workspace | None = None,
    role: str = "",
) -> list[Notification]:
    """Notify users of the actor's action on ``subject`` (a note title, a workspace name)."""
    if not user_ids:
        return []
    by = actor.require_viewer()
    by_doc = await actor.loaders.user_by_id.load_document(by)
    message = notification_message(
        kind, subject=subject, actor=by_doc.name if by_doc else "Someone", role=role
    )
    return await store_notifications(
        actor.realtime,
        actor.settings,
        kind,
        user_ids,
        message,
        actor=by,
        note=note,
        workspace=workspace,
    )


async def page_of_notifications(
    actor: Actor, unread_only: bool, first: int | None, after: str | None
) -> Page[Notification]:
    """The viewer's notifications, newest first."""
    viewer = actor.require_viewer()
    await reading(tags.notifications(viewer))
    flt: dict[str, Any] = {"user_id": viewer}
    if unread_only:
        flt["read"] = False
    first = DEFAULT_PAGE if first is None else first
    return await keyset_page(
        Notification, Notification, flt, "NOTIFICATIONS", NOTIFICATION_SORT, first, after
    )


async def unread_count(actor: Actor) -> int:
    """How many of the viewer's notifications are unread."""
    viewer = actor.require_viewer()
    await reading(tags.notifications(viewer))
    async with list_reads() as session:
        return await Notification.find({"user_id": viewer, "read": False}, session=session).count()


async def mark_read(actor: Actor, raw_ids: Sequence[str] | None) -> int:
    """Mark the given (or all) of the viewer's notifications read; how many changed."""
    flt: dict[str, Any] = {"user_id": actor.require_viewer(), "read": False}
    if raw_ids is not None:
        flt["_id"] = {"$in": object_ids("ids", list(raw_ids), max_count=1000)}
    result = await Notification.get_pymongo_collection().update_many(flt, {"$set": {"read": True}})
    if result.modified_count:
        await actor.realtime.invalidate(tags.notifications(flt["user_id"]))
    return int(result.modified_count)
