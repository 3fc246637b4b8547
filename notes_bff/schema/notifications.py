"""The Notification type and its connection."""

from __future__ import annotations

from datetime import datetime

import strawberry

from notes_bff.models import Notification as NotificationDoc
from notes_bff.schema.enums import NotificationKind
from notes_bff.schema.info import Info
from notes_bff.schema.notes import NoteType
from notes_bff.schema.pagination import Connection
from notes_bff.schema.users import UserType, load_user
from notes_bff.schema.workspaces import WorkspaceType
from notes_bff.services.access import visible_note, visible_workspace
from notes_bff.services.notifications import mark_read, page_of_notifications, unread_count


@strawberry.type(name="Notification")
class NotificationType:
    """Something the viewer should know about."""

    id: strawberry.ID
    kind: NotificationKind
    message: str
    read: bool
    created_at: datetime
    doc: strawberry.Private[NotificationDoc]

    @classmethod
    def from_document(cls, doc: NotificationDoc) -> NotificationType:
        """Wrap a stored notification."""
        return cls(
            id=strawberry.ID(str(doc.id)),
            kind=doc.kind,
            message=doc.message,
            read=doc.read,
            created_at=doc.created_at,
            doc=doc,
        )

    @strawberry.field(description="The note, while it exists and the viewer may see it.")
    async def note(self, info: Info) -> NoteType | None:
        if self.doc.note_id is None:
            return None
        doc = await visible_note(info.context.actor, str(self.doc.note_id))
        return NoteType.from_document(doc) if doc else None

    @strawberry.field(description="The workspace, while the viewer is a member.")
    async def workspace(self, info: Info) -> WorkspaceType | None:
        if self.doc.workspace_id is None:
            return None
        doc = await visible_workspace(info.context.actor, str(self.doc.workspace_id))
        return WorkspaceType.from_document(doc) if doc else None

    @strawberry.field
    async def actor(self, info: Info) -> UserType | None:
        return await load_user(info, self.doc.actor_id) if self.doc.actor_id else None


@strawberry.type
class NotificationConnection(Connection[NotificationType]):
    """A page of the viewer's notifications, newest first."""

    @strawberry.field
    async def unread_count(self, info: Info) -> int:
        return await unread_count(info.context.actor)


@strawberry.type
class NotificationsQuery:
    """The notification root fields (a part of ``Query``)."""

    @strawberry.field
    async def notifications(
        self,
        info: Info,
        unread_only: bool | None = False,
        first: int | None = 20,
        after: str | None = None,
    ) -> NotificationConnection:
        page = await page_of_notifications(info.context.actor, bool(unread_only), first, after)
        return NotificationConnection.wrap(page, NotificationType.from_document)


@strawberry.type
class NotificationsMutation:
    """The notification root fields (a part of ``Mutation``)."""

    @strawberry.mutation(
        description=(
            "Marks the given notifications (all when ids is null) as read; "
            "returns how many changed."
        )
    )
    async def mark_notifications_read(
        self, info: Info, ids: list[strawberry.ID] | None = None
    ) -> int:
        return await mark_read(info.context.actor, ids)
