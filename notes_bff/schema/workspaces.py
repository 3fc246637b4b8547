"""The workspaces domain: the Workspace, Member and TagCount types, the workspace inputs,
and the workspace and membership root fields."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from notes_bff.execution.subtree_reuse import document_view
from notes_bff.models import Member as MemberDoc
from notes_bff.models import Workspace as WorkspaceDoc
from notes_bff.schema.enums import NoteSort, Role
from notes_bff.schema.info import Info
from notes_bff.schema.users import UserType, load_user, load_users
from notes_bff.services import workspaces
from notes_bff.services.access import viewer_workspaces, visible_workspace
from notes_bff.services.changes import KEEP, WorkspaceChanges
from notes_bff.services.live import online_members
from notes_bff.services.note_queries import note_page

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

    @strawberry.field(graphql_type=UserType)
    def user(self, info: Info) -> Awaitable[UserType]:
        return load_user(info, self.doc.user_id)

    @classmethod
    def from_document(cls, doc: MemberDoc) -> MemberType:
        """Wrap an embedded member."""
        return cls(role=doc.role, joined_at=doc.joined_at, doc=doc)


@document_view
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

    @strawberry.field(graphql_type=UserType)
    def owner(self, info: Info) -> Awaitable[UserType]:
        return load_user(info, self.doc.owner_id)

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
        return await load_users(info, await online_members(info.context.actor, self.doc))

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
        from notes_bff.schema.notes import NoteConnection, note_parts, to_note_query

        assert self.doc.id is not None
        query, parts = to_note_query(filter), note_parts(info)
        page = await note_page([self.doc.id], query, sort, first, after, parts)
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


@strawberry.input
class CreateWorkspaceInput:
    """A new workspace."""

    name: str
    description: str | None = None


@strawberry.input
class UpdateWorkspaceInput:
    """Changes to a workspace; ``description: null`` clears it."""

    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET

    def changes(self) -> WorkspaceChanges:
        """The changes sent (fields left out are kept)."""
        return WorkspaceChanges(
            name=KEEP if self.name is strawberry.UNSET else self.name,
            description=KEEP if self.description is strawberry.UNSET else self.description,
        )


@strawberry.type
class WorkspacesQuery:
    """The workspace root fields (a part of ``Query``)."""

    @strawberry.field
    async def workspaces(self, info: Info) -> list[WorkspaceType]:
        actor = info.context.actor
        actor.require_viewer()
        return [WorkspaceType.from_document(w) for w in await viewer_workspaces(actor)]

    @strawberry.field(
        description=(
            "Null when it does not exist or the viewer is not a member "
            "(the two are indistinguishable)."
        )
    )
    async def workspace(self, info: Info, id: strawberry.ID) -> WorkspaceType | None:
        doc = await visible_workspace(info.context.actor, id)
        return WorkspaceType.from_document(doc) if doc else None


@strawberry.type
class WorkspacesMutation:
    """The workspace and membership root fields (a part of ``Mutation``)."""

    @strawberry.mutation
    async def create_workspace(self, info: Info, input: CreateWorkspaceInput) -> WorkspaceType:
        doc = await workspaces.create_workspace(info.context.actor, input.name, input.description)
        return WorkspaceType.from_document(doc)

    @strawberry.mutation
    async def update_workspace(
        self, info: Info, id: strawberry.ID, input: UpdateWorkspaceInput
    ) -> WorkspaceType:
        doc = await workspaces.update_workspace(info.context.actor, id, input.changes())
        return WorkspaceType.from_document(doc)

    @strawberry.mutation
    async def delete_workspace(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        return strawberry.ID(str(await workspaces.delete_workspace(info.context.actor, id)))

    @strawberry.mutation
    async def add_member(
        self, info: Info, workspace_id: strawberry.ID, email: str, role: Role
    ) -> MemberType:
        member = await workspaces.add_member(info.context.actor, workspace_id, email, role)
        return MemberType.from_document(member)

    @strawberry.mutation
    async def update_member_role(
        self, info: Info, workspace_id: strawberry.ID, user_id: strawberry.ID, role: Role
    ) -> MemberType:
        member = await workspaces.update_member_role(
            info.context.actor, workspace_id, user_id, role
        )
        return MemberType.from_document(member)

    @strawberry.mutation
    async def remove_member(
        self, info: Info, workspace_id: strawberry.ID, user_id: strawberry.ID
    ) -> strawberry.ID:
        removed = await workspaces.remove_member(info.context.actor, workspace_id, user_id)
        return strawberry.ID(str(removed))
