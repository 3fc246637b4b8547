"""The dashboard domain: the Dashboard and DashboardStats types and `Query.dashboard`."""

from __future__ import annotations

import strawberry

from notes_bff.schema.enums import NotePriority
from notes_bff.schema.info import Info
from notes_bff.schema.notes import NoteType, note_parts
from notes_bff.schema.workspaces import TagCount, WorkspaceType
from notes_bff.services.dashboard import DashboardStatsData, DashboardView
from notes_bff.services.note_queries import Listed
from notes_bff.validation import bounded_int

TOP_TAGS_MAX = 100


@strawberry.type
class PriorityCount:
    """How many notes have a priority."""

    priority: NotePriority
    count: int


@strawberry.type
class WorkspaceCount:
    """How many notes a workspace holds."""

    count: int
    workspace_id: strawberry.Private[object]

    @strawberry.field
    async def workspace(self, info: Info) -> WorkspaceType:
        doc = await info.context.loaders.workspace_by_id.load_document(self.workspace_id)  # type: ignore[arg-type]
        if doc is None:
            raise LookupError("workspace vanished")
        return WorkspaceType.from_document(doc)


@strawberry.type
class DashboardStats:
    """Counters across the viewer's workspaces (unarchived notes)."""

    total_notes: int
    pinned_notes: int
    overdue_notes: int
    due_this_week: int
    by_priority: list[PriorityCount]
    by_workspace: list[WorkspaceCount]
    data: strawberry.Private[DashboardStatsData]

    @strawberry.field
    def top_tags(self, first: int | None = 10) -> list[TagCount]:
        first = bounded_int("first", 10 if first is None else first, 1, TOP_TAGS_MAX)
        return [TagCount(tag=t, count=n) for t, n in self.data.tags[:first]]


def _ten(first: int | None) -> int:
    """``first`` of a dashboard section; an explicit null means the default, 10."""
    return 10 if first is None else first


def _notes(docs: list[Listed]) -> list[NoteType]:
    return [NoteType.from_document(d) for d in docs]


@strawberry.type(
    description="Everything the dashboard home shows, across all of the viewer's workspaces."
)
class Dashboard:
    """The viewer's dashboard."""

    view: strawberry.Private[DashboardView]

    @strawberry.field
    async def pinned(self, info: Info, first: int | None = 10) -> list[NoteType]:
        return _notes(await self.view.pinned(_ten(first), note_parts(info)))

    @strawberry.field
    async def due_soon(
        self, info: Info, days: int | None = 7, first: int | None = 10
    ) -> list[NoteType]:
        days = 7 if days is None else days
        return _notes(await self.view.due_soon(days, _ten(first), note_parts(info)))

    @strawberry.field
    async def overdue(self, info: Info, first: int | None = 10) -> list[NoteType]:
        return _notes(await self.view.overdue(_ten(first), note_parts(info)))

    @strawberry.field
    async def recent(self, info: Info, first: int | None = 10) -> list[NoteType]:
        return _notes(await self.view.recent(_ten(first), note_parts(info)))

    @strawberry.field
    async def assigned_to_me(self, info: Info, first: int | None = 10) -> list[NoteType]:
        return _notes(await self.view.assigned_to_me(_ten(first), note_parts(info)))

    @strawberry.field
    async def stats(self) -> DashboardStats:
        data = await self.view.stats()
        return DashboardStats(
            total_notes=data.total,
            pinned_notes=data.pinned,
            overdue_notes=data.overdue,
            due_this_week=data.due_this_week,
            by_priority=[PriorityCount(priority=p, count=n) for p, n in data.by_priority],
            by_workspace=[WorkspaceCount(count=n, workspace_id=w) for w, n in data.by_workspace],
            data=data,
        )


@strawberry.type
class DashboardQuery:
    """The dashboard root field (a part of ``Query``)."""

    @strawberry.field
    async def dashboard(self, info: Info) -> Dashboard:
        actor = info.context.actor
        actor.require_viewer()
        return Dashboard(view=DashboardView(actor))
