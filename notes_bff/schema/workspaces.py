"""The Workspace, Member and TagCount types."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from notes_bff.models import Member as MemberDoc
from notes_bff.models import Workspace as WorkspaceDoc
from notes_bff.schema.enums import NoteSort, Role
from notes_bff.schema.info import Info
from notes_bff.schema.users import UserType, load_user, load_users
from notes_bff.services.note_queries import notes_filter, page_of_notes

if TYPE_CHECKING:
    from notes_bff.schema.notes import NoteConnection, NoteFilter

NoteConnectionRef = Annotated["NoteConnection", strawberry.lazy("notes_bff.schema.notes")]
NoteFilterRef = Annotated["NoteFilter", strawberry.lazy("notes_bff.schema.notes")]


@strawberry.type
class TagCount:
    """How many notes carry a tag."""

    tag: str
    count: int


@strawberry.type(name="Member")
class MemberType:
    """A user's membership in a workspace."""

    role: Role
    joined_at: datetime
    doc: strawberry.Private[MemberDoc]

    @strawberry.field
    async def user(self, info: Info) -> UserType:
        return await load_user(info, self.doc.user_id)

    @classmethod
    def from_document(cls, doc: MemberDoc) -> MemberType:
        """Wrap an embedded member."""
        return cls(role=doc.role, joined_at=doc.joined_at, doc=doc)


@strawberry.type(name="Workspace")
class WorkspaceType:
    """A shared space of notes."""

    id: strawberry.ID
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    doc: strawberry.Private[WorkspaceDoc]

    @classmethod
    def from_document(cls, doc: WorkspaceDoc) -> WorkspaceType:
        """Wrap a stored workspace."""
        return cls(
            id=strawberry.ID(str(doc.id)),
            name=doc.name,
            description=doc.description,
            created_at=doc.created_at,
            updated_at=doc.updated_at,
            doc=doc,
        )

    @strawberry.field
    async def owner(self, info: Info) -> UserType:
        return await load_user(info, self.doc.owner_id)

    @strawberry.field(description="The role of the authenticated user in this workspace.")
    def viewer_role(self, info: Info) -> Role:
        role = self.doc.role_of(info.context.require_viewer())
        if role is None:  # only reachable through a workspace the viewer just left
            raise LookupError("viewer is not a member")
        return role

    @strawberry.field(
        description="Members with at least one live connection to this workspace right now."
    )
    async def online_members(self, info: Info) -> list[UserType]:
        from notes_bff.services.live import online_members

        return await load_users(info, await online_members(info.context, self.doc))

    @strawberry.field
    def members(self) -> list[MemberType]:
        return [MemberType.from_document(m) for m in self.doc.members]

    @strawberry.field
    def member_count(self) -> int:
        return len(self.doc.members)

    @strawberry.field
    async def notes(
        self,
        info: Info,
        filter: NoteFilterRef | None = None,
        sort: NoteSort | None = NoteSort.CREATED_AT_DESC,
        first: int | None = 20,
        after: str | None = None,
    ) -> NoteConnectionRef:
        from notes_bff.schema.notes import NoteConnection, to_note_query

        assert self.doc.id is not None
        flt = notes_filter([self.doc.id], to_note_query(filter))
        page = await page_of_notes(
            flt, sort or NoteSort.CREATED_AT_DESC, 20 if first is None else first, after
        )
        return NoteConnection.from_page(page)

    @strawberry.field
    async def note_count(self, info: Info) -> int:
        assert self.doc.id is not None
        return await info.context.loaders.note_count_by_workspace.load(self.doc.id)

    @strawberry.field
    async def tags(self, info: Info) -> list[TagCount]:
        assert self.doc.id is not None
        counts = await info.context.loaders.tag_counts_by_workspace.load(self.doc.id)
        return [TagCount(tag=t, count=n) for t, n in counts]
