"""The Subscription root and its event types."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

import strawberry
from beanie import PydanticObjectId

from notes_bff.execution.context import Context
from notes_bff.realtime.broker import SlowSubscriber
from notes_bff.realtime.events import Event
from notes_bff.schema.collab import NoteEditing, note_editing
from notes_bff.schema.info import Info
from notes_bff.schema.notes import NoteType
from notes_bff.schema.notifications import NotificationType
from notes_bff.schema.users import UserType, load_user, load_users
from notes_bff.services import live

T = TypeVar("T")


@strawberry.enum
class NoteEventKind(StrEnum):
    """What happened to a note."""

    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"


@strawberry.type
class NoteEvent:
    """A note change in a workspace."""

    event_id: str = strawberry.field(
        description="Opaque, increasing per workspace; pass it back as `after` to resume."
    )
    kind: NoteEventKind
    note_id: strawberry.ID
    workspace_id: strawberry.ID
    at: datetime
    event: strawberry.Private[Event]

    @classmethod
    def of(cls, event: Event) -> NoteEvent:
        """Wrap a logged event."""
        return cls(
            event_id=event.event_id or "",
            kind=NoteEventKind(event.kind),
            note_id=strawberry.ID(event.note_id or ""),
            workspace_id=strawberry.ID(event.workspace_id or ""),
            at=event.moment,
            event=event,
        )

    @strawberry.field(description="The note as it is after the change; null for DELETED.")
    async def note(self, info: Info) -> NoteType | None:
        if self.kind is NoteEventKind.DELETED:
            return None
        doc = await info.context.loaders.note_by_id.load(PydanticObjectId(self.note_id))
        return NoteType.from_document(doc) if doc else None

    @strawberry.field
    async def actor(self, info: Info) -> UserType:
        return await load_user(info, PydanticObjectId(self.event.actor_id))


@strawberry.type
class PresenceEvent:
    """Who is online in a workspace."""

    workspace_id: strawberry.ID
    change: strawberry.Private[live.PresenceChange]

    @strawberry.field
    async def online(self, info: Info) -> list[UserType]:
        return await load_users(info, list(self.change.online))

    @strawberry.field
    async def joined(self, info: Info) -> UserType | None:
        return await load_user(info, self.change.joined) if self.change.joined else None

    @strawberry.field
    async def left(self, info: Info) -> UserType | None:
        return await load_user(info, self.change.left) if self.change.left else None

    @strawberry.field(
        description="Who is editing which note of the workspace now (collaboration sockets "
        "open on it, on any server); notes nobody edits are left out."
    )
    def editing(self) -> list[NoteEditing]:
        return note_editing(self.change.editing)

    @strawberry.field(
        description="The note someone started or stopped editing, when that is what this event "
        "tells (`joined` and `left` are then null); null for coming online or going offline."
    )
    def editing_changed(self) -> strawberry.ID | None:
        return strawberry.ID(self.change.note) if self.change.note else None


async def _until_too_slow(context: Context, items: AsyncIterator[T]) -> AsyncIterator[T]:
    """Pass items through; when the subscriber fell too far behind, the transport ends the
    connection (the client resumes with ``after``)."""
    try:
        async for item in items:
            yield item
    except SlowSubscriber:
        await context.end_slow_subscriber()


@strawberry.type
class Subscription:
    """Live updates over websockets (graphql-transport-ws and graphql-ws)."""

    @strawberry.subscription(
        description=(
            "Every note change in one workspace. With `after`, first replays the retained "
            "events that came after that eventId (at least the last 1,000 or 24 hours), then "
            "continues live, with no gap and no duplicate. An `after` older than the retained "
            "history fails with EVENT_HISTORY_EXPIRED: reload, then subscribe without it."
        )
    )
    async def workspace_events(
        self, info: Info, workspace_id: strawberry.ID, after: str | None = None
    ) -> AsyncGenerator[NoteEvent, None]:
        async for event in _until_too_slow(
            info.context, live.workspace_events(info.context.actor, workspace_id, after)
        ):
            yield NoteEvent.of(event)

    @strawberry.subscription(description="Changes to one note.")
    async def note_changed(
        self,
        info: Info,
        id: strawberry.ID,
    ) -> AsyncGenerator[NoteEvent, None]:
        async for event in _until_too_slow(info.context, live.note_changes(info.context.actor, id)):
            yield NoteEvent.of(event)

    @strawberry.subscription(description="The viewer's own notifications, live.")
    async def notifications(self, info: Info) -> AsyncGenerator[NotificationType, None]:
        async for notification in _until_too_slow(
            info.context, live.notifications(info.context.actor)
        ):
            yield NotificationType.from_document(notification)

    @strawberry.subscription(
        description="Who is online in a workspace; subscribing marks the viewer online there."
    )
    async def presence(
        self, info: Info, workspace_id: strawberry.ID
    ) -> AsyncGenerator[PresenceEvent, None]:
        async for change in _until_too_slow(
            info.context, live.presence(info.context.actor, workspace_id)
        ):
            yield PresenceEvent(workspace_id=strawberry.ID(str(change.workspace_id)), change=change)
