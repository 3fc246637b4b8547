"""Subscriptions: every event is authorized again at delivery and resolved with fresh loaders."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TypeVar

from beanie import PydanticObjectId

from notes_bff.context import Context, use_delivery
from notes_bff.errors import Forbidden, NotFound
from notes_bff.models import Notification, Workspace
from notes_bff.realtime.broker import SlowSubscriber
from notes_bff.realtime.delivery import Delivery
from notes_bff.realtime.event_log import id_after
from notes_bff.realtime.events import Event, presence_topic, user_topic, workspace_topic
from notes_bff.realtime.presence import HEARTBEAT_S
from notes_bff.resolvers.access import visible_note, visible_workspace
from notes_bff.validation import object_id

T = TypeVar("T")


async def _still_member(
    delivery: Delivery, workspace_id: PydanticObjectId, viewer: PydanticObjectId
) -> Workspace:
    """The workspace as of this event (read once per process); FORBIDDEN for non-members."""
    workspace = await delivery.loaders.workspace_by_id.load(workspace_id)
    if workspace is None or workspace.role_of(viewer) is None:
        raise Forbidden("You are no longer a member of this workspace.")
    return workspace


async def _subscribable(ctx: Context, raw_id: str) -> tuple[PydanticObjectId, PydanticObjectId]:
    viewer = ctx.require_viewer()
    workspace = await visible_workspace(ctx, raw_id)
    if workspace is None or workspace.id is None:
        raise NotFound("No such workspace.")
    return viewer, workspace.id


CLOSE_SLOW = 4508


async def _cut_off_when_slow(ctx: Context, events: AsyncIterator[T]) -> AsyncIterator[T]:
    """Pass events through; close the connection (4508) when its queue overflowed."""
    try:
        async for item in events:
            yield item
    except SlowSubscriber:
        await ctx.close_connection(
            CLOSE_SLOW, "Subscriber too slow; reconnect (with `after` to resume)"
        )


def workspace_events(ctx: Context, raw_id: str, after: str | None) -> AsyncIterator[Event]:
    """See :func:`_workspace_events`."""
    return _cut_off_when_slow(ctx, _workspace_events(ctx, raw_id, after))


def note_changes(ctx: Context, raw_id: str) -> AsyncIterator[Event]:
    """See :func:`_note_changes`."""
    return _cut_off_when_slow(ctx, _note_changes(ctx, raw_id))


def notifications(ctx: Context) -> AsyncIterator[Notification]:
    """See :func:`_notifications`."""
    return _cut_off_when_slow(ctx, _notifications(ctx))


def presence(ctx: Context, raw_id: str) -> AsyncIterator[PresenceChange]:
    """See :func:`_presence`."""
    return _cut_off_when_slow(ctx, _presence(ctx, raw_id))


async def _workspace_events(ctx: Context, raw_id: str, after: str | None) -> AsyncIterator[Event]:
    """The workspace's note events: first the retained ones after ``after``, then live ones.

    The live subscription starts before the replay is read, and events are deduplicated by
    their log id, so nothing published during the replay is lost or delivered twice.
    """
    viewer, workspace_id = await _subscribable(ctx, raw_id)
    with ctx.realtime.broker.subscribe(workspace_topic(str(workspace_id))) as live:
        last: str | None = None
        if after is not None:
            for event in await ctx.realtime.log.replay(str(workspace_id), after):
                delivery = Delivery(event)
                await _still_member(delivery, workspace_id, viewer)
                use_delivery(delivery)
                last = event.event_id
                yield event
        async for delivery in live:
            await _still_member(delivery, workspace_id, viewer)
            event = delivery.event
            if event.kind == "MEMBERSHIP" or event.event_id is None:
                continue
            if last is not None and not id_after(event.event_id, last):
                continue
            use_delivery(delivery)
            last = event.event_id
            yield event


async def _note_changes(ctx: Context, raw_id: str) -> AsyncIterator[Event]:
    """Changes to one note, until it is deleted."""
    viewer = ctx.require_viewer()
    note = await visible_note(ctx, raw_id)
    if note is None:
        raise NotFound("No such note.")
    note_id = str(note.id)
    with ctx.realtime.broker.subscribe(workspace_topic(str(note.workspace_id))) as live:
        async for delivery in live:
            await _still_member(delivery, note.workspace_id, viewer)
            event = delivery.event
            if event.note_id != note_id:
                continue
            use_delivery(delivery)
            yield event
            if event.kind == "DELETED":
                return


async def _notifications(ctx: Context) -> AsyncIterator[Notification]:
    """The viewer's new notifications."""
    viewer = ctx.require_viewer()
    with ctx.realtime.broker.subscribe(user_topic(str(viewer))) as live:
        async for delivery in live:
            if delivery.event.subject_id is None:
                continue
            found = await Notification.get(object_id("id", delivery.event.subject_id))
            if found is not None and found.user_id == viewer:
                use_delivery(delivery)
                yield found


@dataclass(frozen=True)
class PresenceChange:
    """Who is online now, who just came or went, and who is editing which note (``note``:
    the one whose editors just changed)."""

    workspace_id: PydanticObjectId
    online: list[PydanticObjectId]
    joined: PydanticObjectId | None
    left: PydanticObjectId | None
    editing: dict[str, list[str]]
    note: str | None = None


async def _presence(ctx: Context, raw_id: str) -> AsyncIterator[PresenceChange]:
    """Mark the viewer online while subscribed; every join and leave in the workspace."""
    viewer, workspace_id = await _subscribable(ctx, raw_id)
    realtime, ws, me = ctx.realtime, str(workspace_id), str(viewer)
    connection = uuid.uuid4().hex

    async def online() -> tuple[list[PydanticObjectId], dict[str, list[str]]]:
        users = [PydanticObjectId(u) for u in await realtime.presence.online(ws)]
        return users, await realtime.presence.editing(ws)

    async def keep_alive() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            await realtime.guard.call(lambda: realtime.presence.heartbeat(ws, me, connection))
            for gone in await realtime.guard.call(lambda: realtime.presence.sweep(ws)) or []:
                await realtime.presence_changed(ws, left_id=gone)
            ended = await realtime.guard.call(lambda: realtime.presence.sweep_editing(ws))
            for user, note in ended or []:
                await realtime.presence_changed(ws, left_id=user, note_id=note)

    with realtime.broker.subscribe(presence_topic(ws), workspace_topic(ws)) as live:
        joined = await realtime.presence.enter(ws, me, connection)
        heartbeat = asyncio.create_task(keep_alive())
        try:
            if joined:
                await realtime.presence_changed(ws, joined_id=me)
            users, editing = await online()
            yield PresenceChange(workspace_id, users, viewer if joined else None, None, editing)
            echo_of_own_join = joined  # already announced in the first event
            async for delivery in live:
                await _still_member(delivery, workspace_id, viewer)
                event = delivery.event
                if event.kind != "PRESENCE":
                    continue
                if echo_of_own_join and event.joined_id == me and event.note_id is None:
                    echo_of_own_join = False
                    continue
                use_delivery(delivery)
                users, editing = await asyncio.shield(delivery.shared("online", online))
                note = event.note_id  # set when someone started or stopped editing it
                yield PresenceChange(
                    workspace_id,
                    users,
                    PydanticObjectId(event.joined_id) if event.joined_id and not note else None,
                    PydanticObjectId(event.left_id) if event.left_id and not note else None,
                    editing,
                    note,
                )
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            left = await realtime.guard.call(lambda: realtime.presence.leave(ws, me, connection))
            if left:
                await realtime.presence_changed(ws, left_id=me)


async def online_members(ctx: Context, workspace: Workspace) -> list[PydanticObjectId]:
    """Members of ``workspace`` with a live presence subscription there."""
    users = (
        await ctx.realtime.guard.call(lambda: ctx.realtime.presence.online(str(workspace.id))) or []
    )
    return [
        PydanticObjectId(u) for u in users if workspace.role_of(PydanticObjectId(u)) is not None
    ]
