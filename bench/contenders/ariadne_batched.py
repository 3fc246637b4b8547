"""A: Ariadne, schema-first from the project's ``schema.graphql``, with aiodataloader batching.

Resolvers are bound to the fields the benchmark asks for (the rest of the SDL stays unbound);
users and workspaces load through per-request DataLoaders (one ``$in`` query per batch); the
dashboard's counters are one ``$facet`` aggregation. Automatic persisted queries, kept
cheap: a registered hash maps to its parsed document, which is not validated again.

    python -m bench.contenders.ariadne_batched [--workers N]   (NOTES_BFF_* configures it)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiodataloader import DataLoader
from aiohttp import web
from ariadne import MutationType, ObjectType, QueryType, ScalarType, graphql, make_executable_schema
from bson import ObjectId
from graphql import DocumentNode, GraphQLResolveInfo, parse
from pymongo.asynchronous.collection import AsyncCollection

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
    sections,
    serve,
    viewer_of,
)
from notes_bff.services.dashboard import stats_pipeline

SDL = (Path(__file__).parents[2] / "schema.graphql").read_text()
query, mutation = QueryType(), MutationType()
workspace, member, note = ObjectType("Workspace"), ObjectType("Member"), ObjectType("Note")
dashboard, stats = ObjectType("Dashboard"), ObjectType("DashboardStats")
workspace_count, user = ObjectType("WorkspaceCount"), ObjectType("User")
date_time = ScalarType("DateTime", serializer=iso)
Info = GraphQLResolveInfo


class ByIdLoader(DataLoader[ObjectId, Doc | None]):
    """Documents of one collection by id: one ``find({_id: {$in: …}})`` per batch."""

    def __init__(self, collection: AsyncCollection[Doc]) -> None:
        super().__init__()
        self.collection = collection

    async def batch_load_fn(self, keys: Sequence[ObjectId]) -> list[Doc | None]:
        found = await self.collection.find({"_id": {"$in": list(set(keys))}}).to_list()
        by_id = {doc["_id"]: doc for doc in found}
        return [by_id.get(key) for key in keys]


def _ctx(info: Info) -> dict[str, Any]:
    context: dict[str, Any] = info.context
    return context


for type_ in (workspace, note, user):
    type_.set_field("id", lambda obj, _info: str(obj["_id"]))


@query.field("workspace")
async def resolve_workspace(_: None, info: Info, id: str) -> Doc | None:
    doc: Doc | None = await _ctx(info)["workspaces"].load(ObjectId(id))
    viewer = _ctx(info)["viewer"]
    return doc if doc and any(m["user_id"] == viewer for m in doc["members"]) else None


@workspace.field("notes")
async def resolve_notes(ws: Doc, info: Info, first: int = 20, **_: Any) -> Doc:
    found = _ctx(info)["db"].notes.find(live_notes([ws["_id"]])).sort(CREATED_DESC).limit(first)
    return {"nodes": await found.to_list()}


@member.field("user")
async def resolve_member_user(m: Doc, info: Info) -> Doc | None:
    return await _ctx(info)["users"].load(m["user_id"])  # type: ignore[no-any-return]


@note.field("author")
async def resolve_author(n: Doc, info: Info) -> Doc | None:
    return await _ctx(info)["users"].load(n["author_id"])  # type: ignore[no-any-return]


@note.field("assignees")
async def resolve_assignees(n: Doc, info: Info) -> list[Doc]:
    return [u for u in await _ctx(info)["users"].load_many(n["assignee_ids"]) if u]


@note.field("workspace")
@workspace_count.field("workspace")
async def resolve_note_workspace(obj: Doc, info: Info) -> Doc | None:
    return await _ctx(info)["workspaces"].load(obj["workspace_id"])  # type: ignore[no-any-return]


@note.field("excerpt")
def resolve_excerpt(n: Doc, _info: Info, length: int = 160) -> str:
    return excerpt(n["content"], length)


@query.field("dashboard")
async def resolve_dashboard(_: None, info: Info) -> Doc:
    viewer = _ctx(info)["viewer"]
    spaces = await _ctx(info)["db"].workspaces.find({"members.user_id": viewer}).to_list()
    for space in spaces:
        _ctx(info)["workspaces"].prime(space["_id"], space)
    return {"live": live_notes([w["_id"] for w in spaces]), "viewer": viewer, "moment": now()}


def _section(name: str) -> Any:
    async def resolve(d: Doc, info: Info, first: int = 10, **_: Any) -> list[Doc]:
        extra, order = sections(d["moment"], d["viewer"])[name]
        found = _ctx(info)["db"].notes.find({**d["live"], **extra}).sort(order).limit(first)
        return await found.to_list()  # type: ignore[no-any-return]

    return resolve


for field in ("pinned", "dueSoon", "overdue", "recent", "assignedToMe"):
    dashboard.set_field(field, _section(field))


@dashboard.field("stats")
async def resolve_stats(d: Doc, info: Info) -> Doc:
    pipeline = stats_pipeline(d["live"], d["moment"])
    [row] = await (await _ctx(info)["db"].notes.aggregate(pipeline)).to_list()

    def single(name: str) -> int:
        return int(row[name][0]["n"]) if row.get(name) else 0

    priorities = {r["_id"]: r["n"] for r in row["priority"]}
    return {
        "total_notes": single("total"),
        "pinned_notes": single("pinned"),
        "overdue_notes": single("overdue"),
        "due_this_week": single("week"),
        "by_priority": [{"priority": p, "count": priorities.get(p, 0)} for p in PRIORITIES],
        "by_workspace": [
            {"workspace_id": r["_id"], "count": r["n"]}
            for r in sorted(row["workspace"], key=lambda r: -r["n"])
        ],
        "tags": sorted(row["tags"], key=lambda r: (-r["n"], r["_id"])),
    }


@stats.field("topTags")
def resolve_top_tags(s: Doc, _info: Info, first: int = 10) -> list[Doc]:
    return [{"tag": r["_id"], "count": r["n"]} for r in s["tags"][:first]]


@mutation.field("updateNote")
async def resolve_update_note(_: None, info: Info, id: str, input: Doc, **__: Any) -> Doc:
    ctx = _ctx(info)
    found = await ctx["db"].notes.find_one({"_id": ObjectId(id)})
    space = await ctx["workspaces"].load(found["workspace_id"]) if found else None
    if not space or not any(
        m["user_id"] == ctx["viewer"] and m["role"] in WRITERS for m in space["members"]
    ):
        raise PermissionError("No such note.")
    changes = {"title": input["title"], "updated_at": now(), "last_edited_by_id": ctx["viewer"]}
    return await ctx["db"].notes.find_one_and_update(  # type: ignore[no-any-return]
        {"_id": found["_id"]}, {"$set": changes, "$inc": {"version": 1}}, return_document=True
    )


SCHEMA = make_executable_schema(
    SDL, query, mutation, workspace, member, note, dashboard, stats, workspace_count, user,
    date_time, convert_names_case=True,
)  # fmt: skip
DOCUMENTS: dict[str, tuple[str, DocumentNode]] = {}


def _persisted(data: Doc) -> tuple[Doc, DocumentNode | None] | str:
    """The request with its APQ document filled in, and that document when it is known
    (then already validated), or the error to answer."""
    wanted = (data.get("extensions") or {}).get("persistedQuery", {}).get("sha256Hash")
    if wanted is None:
        return data, None
    if "query" in data:
        if hashlib.sha256(data["query"].encode()).hexdigest() != wanted:
            return "provided sha does not match query"
        DOCUMENTS[wanted] = (data["query"], parse(data["query"]))
        return data, None
    if wanted not in DOCUMENTS:
        return "PersistedQueryNotFound"
    text, document = DOCUMENTS[wanted]
    return {**data, "query": text}, document


def _unvalidated(*_: Any, **__: Any) -> list[Any]:
    return []


async def handle(request: web.Request) -> web.Response:
    """``POST /graphql``."""
    persisted = _persisted(await request.json())
    if isinstance(persisted, str):
        return web.json_response({"errors": [{"message": persisted}]})
    data, document = persisted
    db = request.app[DB]
    context = {
        "db": db,
        "viewer": viewer_of(request),
        "users": ByIdLoader(db.users),
        "workspaces": ByIdLoader(db.workspaces),
    }
    _, result = await graphql(
        SCHEMA, data, context_value=context, query_document=document,
        query_validator=_unvalidated if document is not None else None,
    )  # fmt: skip
    return web.json_response(result)


def make_app() -> web.Application:
    """The aiohttp application."""
    return application(handle)


if __name__ == "__main__":
    serve(make_app, __doc__)
