"""The Notification type and its connection."""

from __future__ import annotations

from datetime import datetime

import strawberry

from notes_bff.models import Notification as NotificationDoc
from notes_bff.pagination import Page
from notes_bff.schema.enums import NotificationKind
from notes_bff.schema.info import Info
from notes_bff.schema.notes import NoteType, PageInfo
from notes_bff.schema.users import UserType, load_user
from notes_bff.schema.workspaces import WorkspaceType
from notes_bff.services.access import visible_note, visible_workspace
from notes_bff.services.notifications import unread_count


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
        doc = await visible_note(info.context, str(self.doc.note_id))
        return NoteType.from_document(doc) if doc else None

    @strawberry.field(description="The workspace, while the viewer is a member.")
    async def workspace(self, info: Info) -> WorkspaceType | None:
        if self.doc.workspace_id is None:
            return None
        doc = await visible_workspace(info.context, str(self.doc.workspace_id))
        return WorkspaceType.from_document(doc) if doc else None

    @strawberry.field
    async def actor(self, info: Info) -> UserType | None:
        return await load_user(info, self.doc.actor_id) if self.doc.actor_id else None


@strawberry.type
class NotificationEdge:
    """A notification and its cursor."""

    cursor: str
    node: NotificationType


@strawberry.type
class NotificationConnection:
    """A page of the viewer's notifications, newest first."""

    edges: list[NotificationEdge]
    nodes: list[NotificationType]
    page_info: PageInfo
    page: strawberry.Private[Page[NotificationDoc]]

    @classmethod
    def from_page(cls, page: Page[NotificationDoc]) -> NotificationConnection:
        """Wrap a keyset page."""
        nodes = [NotificationType.from_document(n) for n in page.items]
        return cls(
            edges=[
                NotificationEdge(cursor=c, node=n) for c, n in zip(page.cursors, nodes, strict=True)
            ],
            nodes=nodes,
            page_info=PageInfo.of(page),
            page=page,
        )

    @strawberry.field
    async def total_count(self) -> int:
        return await self.page.count()

    @strawberry.field
    async def unread_count(self, info: Info) -> int:
        return await unread_count(info.context)
