"""The Query and Mutation roots: thin wrappers over ``notes_bff.services``."""

from __future__ import annotations

import strawberry

from notes_bff.execution.rate_limits import RateLimit
from notes_bff.schema.auth import AuthPayload, LogInInput, SignUpInput
from notes_bff.schema.collab import CollabMutation, CollabQuery
from notes_bff.schema.dashboard import Dashboard
from notes_bff.schema.enums import NoteSort, Role
from notes_bff.schema.info import Info
from notes_bff.schema.notes import (
    BulkFailure,
    BulkResult,
    CreateNoteInput,
    NoteConnection,
    NoteFilter,
    NoteType,
    UpdateNoteInput,
    given_fields,
    to_note_query,
)
from notes_bff.schema.notifications import NotificationConnection
from notes_bff.schema.search import SearchQuery, SuggestionMutation
from notes_bff.schema.users import UserType
from notes_bff.schema.workspaces import MemberType, WorkspaceType
from notes_bff.services import auth, note_writes, notifications, workspaces
from notes_bff.services.access import (
    searched_workspace_ids,
    viewer_workspaces,
    visible_note,
    visible_workspace,
)
from notes_bff.services.dashboard import DashboardView
from notes_bff.services.note_queries import notes_filter, page_of_notes


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


def _bulk(outcome: note_writes.BulkOutcome) -> BulkResult:
    return BulkResult(
        succeeded_ids=[strawberry.ID(str(i)) for i in outcome.succeeded],
        failures=[
            BulkFailure(id=strawberry.ID(i), code=e.code, message=e.message)
            for i, e in outcome.failures
        ],
    )


@strawberry.type
class Query(SearchQuery, CollabQuery):
    """Reads."""

    @strawberry.field(description="The authenticated user, or null for an anonymous request.")
    async def me(self, info: Info) -> UserType | None:
        viewer = info.context.viewer_id
        doc = await info.context.loaders.user_by_id.load_document(viewer) if viewer else None
        return UserType.from_document(doc) if doc else None

    @strawberry.field
    async def workspaces(self, info: Info) -> list[WorkspaceType]:
        info.context.require_viewer()
        return [WorkspaceType.from_document(w) for w in await viewer_workspaces(info.context)]

    @strawberry.field(
        description=(
            "Null when it does not exist or the viewer is not a member "
            "(the two are indistinguishable)."
        )
    )
    async def workspace(self, info: Info, id: strawberry.ID) -> WorkspaceType | None:
        doc = await visible_workspace(info.context, id)
        return WorkspaceType.from_document(doc) if doc else None

    @strawberry.field(description="Null when it does not exist or the viewer cannot see it.")
    async def note(self, info: Info, id: strawberry.ID) -> NoteType | None:
        doc = await visible_note(info.context, id)
        return NoteType.from_document(doc) if doc else None

    @strawberry.field(
        description=(
            "Notes across the viewer's workspaces, or one workspace when workspaceId is given."
        )
    )
    async def notes(
        self,
        info: Info,
        workspace_id: strawberry.ID | None = None,
        filter: NoteFilter | None = None,
        sort: NoteSort | None = NoteSort.CREATED_AT_DESC,
        first: int | None = 20,
        after: str | None = None,
    ) -> NoteConnection:
        ctx = info.context
        ctx.require_viewer()
        query = to_note_query(filter)
        ids = await searched_workspace_ids(ctx, workspace_id)
        # No visible workspace: an always-empty filter keeps the page shape and cursors.
        flt = notes_filter(ids, query) if ids else {"_id": {"$in": []}}
        page = await page_of_notes(
            flt, sort or NoteSort.CREATED_AT_DESC, 20 if first is None else first, after
        )
        return NoteConnection.from_page(page)

    @strawberry.field(
        description=(
            "The caller's rate-limit budget after this operation (null when rate limiting "
            "did not run)."
        )
    )
    def rate_limit(self, info: Info) -> RateLimit | None:
        rate = info.context.rate
        return RateLimit.of(rate) if rate else None

    @strawberry.field
    async def dashboard(self, info: Info) -> Dashboard:
        info.context.require_viewer()
        return Dashboard(view=DashboardView(info.context))

    @strawberry.field
    async def notifications(
        self,
        info: Info,
        unread_only: bool | None = False,
        first: int | None = 20,
        after: str | None = None,
    ) -> NotificationConnection:
        page = await notifications.page_of_notifications(
            info.context, bool(unread_only), 20 if first is None else first, after
        )
        return NotificationConnection.from_page(page)


@strawberry.type
class Mutation(CollabMutation, SuggestionMutation):
    """Writes."""

    @strawberry.mutation
    async def sign_up(self, info: Info, input: SignUpInput) -> AuthPayload:
        return AuthPayload.of(
            await auth.sign_up(info.context, input.email, input.password, input.name)
        )

    @strawberry.mutation
    async def log_in(self, info: Info, input: LogInInput) -> AuthPayload:
        return AuthPayload.of(await auth.log_in(info.context, input.email, input.password))

    @strawberry.mutation(
        description="Rotates the refresh token (taken from the argument or the refresh cookie)."
    )
    async def refresh_session(self, info: Info, refresh_token: str | None = None) -> AuthPayload:
        return AuthPayload.of(await auth.refresh_session(info.context, refresh_token))

    @strawberry.mutation(
        description="Revokes the current session's refresh token family and clears the cookies."
    )
    async def log_out(self, info: Info) -> bool:
        return await auth.log_out(info.context)

    @strawberry.mutation
    async def create_workspace(
        self,
        info: Info,
        input: CreateWorkspaceInput,
    ) -> WorkspaceType:
        doc = await workspaces.create_workspace(info.context, input.name, input.description)
        return WorkspaceType.from_document(doc)

    @strawberry.mutation
    async def update_workspace(
        self,
        info: Info,
        id: strawberry.ID,
        input: UpdateWorkspaceInput,
    ) -> WorkspaceType:
        doc = await workspaces.update_workspace(info.context, id, given_fields(input))
        return WorkspaceType.from_document(doc)

    @strawberry.mutation
    async def delete_workspace(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        return strawberry.ID(str(await workspaces.delete_workspace(info.context, id)))

    @strawberry.mutation
    async def add_member(
        self, info: Info, workspace_id: strawberry.ID, email: str, role: Role
    ) -> MemberType:
        member = await workspaces.add_member(info.context, workspace_id, email, role)
        return MemberType.from_document(member)

    @strawberry.mutation
    async def update_member_role(
        self, info: Info, workspace_id: strawberry.ID, user_id: strawberry.ID, role: Role
    ) -> MemberType:
        member = await workspaces.update_member_role(info.context, workspace_id, user_id, role)
        return MemberType.from_document(member)

    @strawberry.mutation
    async def remove_member(
        self, info: Info, workspace_id: strawberry.ID, user_id: strawberry.ID
    ) -> strawberry.ID:
        removed = await workspaces.remove_member(info.context, workspace_id, user_id)
        return strawberry.ID(str(removed))

    @strawberry.mutation
    async def create_note(self, info: Info, input: CreateNoteInput) -> NoteType:
        raw = {k: v for k, v in given_fields(input).items() if v is not None or k == "due_date"}
        workspace_id = str(raw.pop("workspace_id"))
        return NoteType.from_document(
            await note_writes.create_note(info.context, workspace_id, raw)
        )

    @strawberry.mutation(
        description=(
            "Fails with CONFLICT when expectedVersion is given and differs from the stored version."
        )
    )
    async def update_note(
        self,
        info: Info,
        id: strawberry.ID,
        input: UpdateNoteInput,
        expected_version: int | None = None,
    ) -> NoteType:
        doc = await note_writes.update_note(info.context, id, given_fields(input), expected_version)
        return NoteType.from_document(doc)

    @strawberry.mutation
    async def delete_note(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        return strawberry.ID(str(await note_writes.delete_note(info.context, id)))

    @strawberry.mutation
    async def bulk_update_notes(
        self,
        info: Info,
        ids: list[strawberry.ID],
        input: UpdateNoteInput,
    ) -> BulkResult:
        return _bulk(await note_writes.bulk_update_notes(info.context, ids, given_fields(input)))

    @strawberry.mutation
    async def bulk_delete_notes(self, info: Info, ids: list[strawberry.ID]) -> BulkResult:
        return _bulk(await note_writes.bulk_delete_notes(info.context, ids))

    @strawberry.mutation(
        description=(
            "Marks the given notifications (all when ids is null) as read; "
            "returns how many changed."
        )
    )
    async def mark_notifications_read(
        self, info: Info, ids: list[strawberry.ID] | None = None
    ) -> int:
        return await notifications.mark_read(info.context, ids)
