"""N: the naive Strawberry + aiohttp server a first-time user writes.

Code-first types for the fields the benchmark asks for, named as in the contract; every
resolver queries MongoDB for its own field (no dataloaders, no batching, no caches besides
the excerpt's), Strawberry's stock aiohttp view, no persisted queries.

    python -m bench.contenders.naive [--workers N]   (NOTES_BFF_* configures it)
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from aiohttp import web
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase
from strawberry.aiohttp.views import GraphQLView
from strawberry.types import Info

from bench.contenders.common import (
    CREATED_DESC,
    DB,
    PRIORITIES,
    WRITERS,
    Doc,
    application,
    excerpt,
    iso,
    live_notes,
    now,
    ordered,
    sections,
    serve,
    viewer_of,
)


@strawberry.enum
class Priority(Enum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    URGENT = "URGENT"


@strawberry.enum
class Role(Enum):
    OWNER = "OWNER"
    EDITOR = "EDITOR"
    VIEWER = "VIEWER"


DATETIME = strawberry.scalar(datetime, name="DateTime", serialize=iso, parse_value=None)


def _db(info: Info) -> AsyncDatabase[Doc]:
    db: AsyncDatabase[Doc] = info.context["db"]
    return db


async def _user(info: Info, user_id: ObjectId) -> User:
    return User.of(await _db(info).users.find_one({"_id": user_id}) or {})


@strawberry.type
class User:
    id: strawberry.ID
    name: str

    @classmethod
    def of(cls, doc: Doc) -> User:
        return cls(id=strawberry.ID(str(doc["_id"])), name=doc["name"])


@strawberry.type
class Member:
    role: Role
    user_id: strawberry.Private[ObjectId]

    @strawberry.field
    async def user(self, info: Info) -> User:
        return await _user(info, self.user_id)


@strawberry.type
class Workspace:
    id: strawberry.ID
    name: str
    doc: strawberry.Private[Doc]

    @strawberry.field
    def members(self) -> list[Member]:
        return [Member(role=Role[m["role"]], user_id=m["user_id"]) for m in self.doc["members"]]

    @strawberry.field
    async def notes(self, info: Info, first: int = 20) -> NoteConnection:
        found = _db(info).notes.find(live_notes([self.doc["_id"]]))
        return NoteConnection(
            nodes=[Note.of(d) for d in await found.sort(CREATED_DESC).limit(first).to_list()]
        )

    @classmethod
    def of(cls, doc: Doc) -> Workspace:
        return cls(id=strawberry.ID(str(doc["_id"])), name=doc["name"], doc=doc)


@strawberry.type
class Note:
    id: strawberry.ID
    title: str
    tags: list[str]
    priority: Priority
    due_date: datetime | None
    is_pinned: bool
    updated_at: datetime
    doc: strawberry.Private[Doc]

    @classmethod
    def of(cls, d: Doc) -> Note:
        return cls(
            id=strawberry.ID(str(d["_id"])), title=d["title"], tags=d["tags"],
            priority=Priority[d["priority"]], due_date=d.get("due_date"),
            is_pinned=d["is_pinned"], updated_at=d["updated_at"], doc=d,
        )  # fmt: skip

    @strawberry.field
    async def author(self, info: Info) -> User:
        return await _user(info, self.doc["author_id"])

    @strawberry.field
    async def assignees(self, info: Info) -> list[User]:
        ids = self.doc["assignee_ids"]
        found = await _db(info).users.find({"_id": {"$in": ids}}).to_list()
        return [User.of(d) for d in ordered(found, ids)]

    @strawberry.field
    async def workspace(self, info: Info) -> Workspace:
        return Workspace.of(
            await _db(info).workspaces.find_one({"_id": self.doc["workspace_id"]}) or {}
        )

    @strawberry.field
    def excerpt(self, length: int = 160) -> str:
        return excerpt(self.doc["content"], length)


@strawberry.type
class NoteConnection:
    nodes: list[Note]


@strawberry.type
class PriorityCount:
    priority: Priority
    count: int


@strawberry.type
class WorkspaceCount:
    count: int
    workspace_id: strawberry.Private[ObjectId]

    @strawberry.field
    async def workspace(self, info: Info) -> Workspace:
        return Workspace.of(await _db(info).workspaces.find_one({"_id": self.workspace_id}) or {})


@strawberry.type
class TagCount:
    tag: str
    count: int


async def _count(info: Info, flt: Doc) -> int:
    return await _db(info).notes.count_documents(flt)


async def _groups(info: Info, flt: Doc, key: str) -> list[Doc]:
    unwind = [{"$unwind": f"${key}"}] if key == "tags" else []
    pipeline: list[Doc] = [
        {"$match": flt},
        *unwind,
        {"$group": {"_id": f"${key}", "n": {"$sum": 1}}},
    ]
    return await (await _db(info).notes.aggregate(pipeline)).to_list()


@strawberry.type
class DashboardStats:
    live: strawberry.Private[Doc]
    due: strawberry.Private[dict[str, tuple[Doc, list[tuple[str, int]]]]]

    @strawberry.field
    async def total_notes(self, info: Info) -> int:
        return await _count(info, self.live)

    @strawberry.field
    async def pinned_notes(self, info: Info) -> int:
        return await _count(info, {**self.live, "is_pinned": True})

    @strawberry.field
    async def overdue_notes(self, info: Info) -> int:
        return await _count(info, {**self.live, **self.due["overdue"][0]})

    @strawberry.field
    async def due_this_week(self, info: Info) -> int:
        return await _count(info, {**self.live, **self.due["dueSoon"][0]})

    @strawberry.field
    async def by_priority(self, info: Info) -> list[PriorityCount]:
        counts = {r["_id"]: r["n"] for r in await _groups(info, self.live, "priority")}
        return [PriorityCount(priority=Priority[p], count=counts.get(p, 0)) for p in PRIORITIES]

    @strawberry.field
    async def by_workspace(self, info: Info) -> list[WorkspaceCount]:
        rows = sorted(await _groups(info, self.live, "workspace_id"), key=lambda r: -r["n"])
        return [WorkspaceCount(count=r["n"], workspace_id=r["_id"]) for r in rows]

    @strawberry.field
    async def top_tags(self, info: Info, first: int = 10) -> list[TagCount]:
        rows = sorted(await _groups(info, self.live, "tags"), key=lambda r: (-r["n"], r["_id"]))
        return [TagCount(tag=r["_id"], count=r["n"]) for r in rows[:first]]


def _section(name: str) -> Any:
    """A dashboard section: its own query when it is asked for."""

    async def resolve(root: Dashboard, info: Info, first: int = 10) -> list[Note]:
        extra, order = sections(root.moment, root.viewer)[name]
        found = _db(info).notes.find({**root.live, **extra}).sort(order).limit(first)
        return [Note.of(d) for d in await found.to_list()]

    return strawberry.field(resolver=resolve)


@strawberry.type
class Dashboard:
    live: strawberry.Private[Doc]
    viewer: strawberry.Private[ObjectId]
    moment: strawberry.Private[datetime]

    pinned: list[Note] = _section("pinned")
    due_soon: list[Note] = _section("dueSoon")
    overdue: list[Note] = _section("overdue")
    recent: list[Note] = _section("recent")
    assigned_to_me: list[Note] = _section("assignedToMe")

    @strawberry.field
    def stats(self) -> DashboardStats:
        return DashboardStats(live=self.live, due=sections(self.moment, self.viewer))


def _member(
    doc: Doc | None, viewer: ObjectId, roles: tuple[str, ...] = ("OWNER", "EDITOR", "VIEWER")
) -> bool:
    return doc is not None and any(
        m["user_id"] == viewer and m["role"] in roles for m in doc["members"]
    )


@strawberry.type
class Query:
    @strawberry.field
    async def workspace(self, info: Info, id: strawberry.ID) -> Workspace | None:
        doc = await _db(info).workspaces.find_one({"_id": ObjectId(id)})
        return Workspace.of(doc) if doc and _member(doc, info.context["viewer"]) else None

    @strawberry.field
    async def dashboard(self, info: Info) -> Dashboard:
        viewer = info.context["viewer"]
        spaces = await _db(info).workspaces.find({"members.user_id": viewer}).to_list()
        live = live_notes([w["_id"] for w in spaces])
        return Dashboard(live=live, viewer=viewer, moment=now())


@strawberry.input
class UpdateNoteInput:
    title: str


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def update_note(self, info: Info, id: strawberry.ID, input: UpdateNoteInput) -> Note:
        db, viewer = _db(info), info.context["viewer"]
        note = await db.notes.find_one({"_id": ObjectId(id)})
        space = await db.workspaces.find_one({"_id": note["workspace_id"]}) if note else None
        if not _member(space, viewer, WRITERS):
            raise PermissionError("No such note.")
        changes = {"title": input.title, "updated_at": now(), "last_edited_by_id": viewer}
        after = await db.notes.find_one_and_update(
            {"_id": ObjectId(id)}, {"$set": changes, "$inc": {"version": 1}}, return_document=True
        )
        if after is None:
            raise PermissionError("No such note.")
        return Note.of(after)


class View(GraphQLView[dict[str, Any], None]):
    """Strawberry's aiohttp view; the context holds the database and the viewer."""

    async def get_context(self, request: web.Request, response: Any) -> dict[str, Any]:
        return {"db": request.app[DB], "viewer": viewer_of(request)}


def make_app() -> web.Application:
    """The aiohttp application."""
    schema = strawberry.Schema(
        query=Query, mutation=Mutation, scalar_overrides={datetime: DATETIME}
    )
    return application(View(schema=schema))


if __name__ == "__main__":
    serve(make_app, __doc__)
