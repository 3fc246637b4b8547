"""Subscriptions: every event is authorized again at delivery and resolved with fresh loaders.

A subscriber too slow for its queue gets ``SlowSubscriber`` from the iterator; what that
means for the connection is the transport's business.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from beanie import PydanticObjectId

from notes_bff.errors import Forbidden, NotFound
from notes_bff.models import Notification, Workspace, member_role
from notes_bff.realtime.delivery import Delivery, use_delivery
from notes_bff.realtime.event_log import id_after
from notes_bff.realtime.events import Event, presence_topic, user_topic, workspace_topic
from notes_bff.realtime.presence import HEARTBEAT_S
from notes_bff.response_cache.reads import not_cacheable
from notes_bff.services.access import visible_note, visible_workspace
from notes_bff.services.actor import Actor
from notes_bff.validation import object_id


async def _still_member(
    delivery: Delivery, workspace_id: PydanticObjectId, viewer: PydanticObjectId
) -> Workspace:
    """The workspace as of this event (read once per process); FORBIDDEN for non-members."""
    workspace = await delivery.loaders.workspace_by_id.load(workspace_id)
    if member_role(workspace, viewer) is None:
        raise Forbidden("You are no longer a member of this workspace.")
    assert workspace is not None
    return workspace


async def _subscribable(actor: Actor, raw_id: str) -> tuple[PydanticObjectId, PydanticObjectId]:
    workspace = await visible_workspace(actor, raw_id)
    if workspace is None or workspace.id is None:
        raise NotFound("No such workspace.")
    return actor.require_viewer(), workspace.id


async def workspace_events(actor: Actor, raw_id: str, after: str | None) -> AsyncIterator[Event]:
    """The workspace's note events: first the retained ones after ``after``, then live ones.

    The live subscription starts (its channel subscribed) before the replay is read, and
    events are deduplicated by their log id, so nothing published during the replay is lost
    or delivered twice. A break in the live channel (a slot moved, a failover) is closed by
    the broker from the log (``resumable``).
    """
    viewer, workspace_id = await _subscribable(actor, raw_id)
    topic = workspace_topic(str(workspace_id))
    await actor.realtime.broker.reachable()
    with actor.realtime.broker.subscribe(topic, resumable=True) as live:
        await live.ready()
        last: str | None = None
        if after is not None:
            for event in await actor.realtime.log.replay(str(workspace_id), after):
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


async def note_changes(actor: Actor, raw_id: str) -> AsyncIterator[Event]:
    """Changes to one note, until it is deleted."""
    viewer = actor.require_viewer()
    note = await visible_note(actor, raw_id)
    if note is None:
        raise NotFound("No such note.")
    note_id = str(note.id)
    topic = workspace_topic(str(note.workspace_id))
    await actor.realtime.broker.reachable()
    with actor.realtime.broker.subscribe(topic, resumable=True) as live:
        async for delivery in live:
            await _still_member(delivery, note.workspace_id, viewer)
            event = delivery.event
            if event.note_id != note_id:
                continue
            use_delivery(delivery)
            yield event
            if event.kind == "DELETED":
                return


async def notifications(actor: Actor) -> AsyncIterator[Notification]:
    """The viewer's new notifications."""
    viewer = actor.require_viewer()
    await actor.realtime.broker.reachable()
    with actor.realtime.broker.subscribe(user_topic(str(viewer))) as live:
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


async def presence(actor: Actor, raw_id: str) -> AsyncIterator[PresenceChange]:
    """Mark the viewer online while subscribed; every join and leave in the workspace."""
    viewer, workspace_id = await _subscribable(actor, raw_id)
    realtime, ws, me = actor.realtime, str(workspace_id), str(viewer)
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

    await realtime.broker.reachable()
    with realtime.broker.subscribe(presence_topic(ws), workspace_topic(ws)) as live:
        await live.ready()
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


async def online_members(actor: Actor, workspace: Workspace) -> list[PydanticObjectId]:
    """Members of ``workspace`` with a live presence subscription there."""
    not_cacheable()  # presence changes without a write
    users = (
        await actor.realtime.guard.call(lambda: actor.realtime.presence.online(str(workspace.id)))
        or []
    )
    return [
        PydanticObjectId(u) for u in users if workspace.role_of(PydanticObjectId(u)) is not None
    ]
