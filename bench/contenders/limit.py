"""L: the limit. A hand-written aiohttp handler per benchmark operation, no GraphQL.

The operation is found by its exact document text or its APQ hash (a dictionary lookup, no
parsing); each runs the fewest MongoDB queries that answer it (concurrently where they do
not depend on each other, reading only the fields it returns) and encodes with orjson.

    python -m bench.contenders.limit [--workers N]   (NOTES_BFF_* configures it)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from bench.apq import DASHBOARD
from bench.contenders.common import (
    CREATED_DESC,
    DB,
    PRIORITIES,
    WRITERS,
    Doc,
    application,
    excerpt,
    iso,
    iso_or_none,
    live_notes,
    now,
    sections,
    serve,
    viewer_of,
)
from bench.workloads import PAGE, RENAME
from notes_bff.persisted.store import sha256_hex
from notes_bff.services.dashboard import stats_pipeline

Operation = Callable[[AsyncDatabase[Doc], ObjectId, dict[str, Any]], Awaitable[Doc]]
PAGE_FIELDS = dict.fromkeys(("title", "tags", "priority", "due_date", "is_pinned"), 1) | {
    "author_id": 1,
    "assignee_ids": 1,
}
# What each dashboard section returns of a note, and how many (the document's `first`).
SECTION_FIELDS = {
    "pinned": (5, ["title", "priority", "due_date", "tags", "author_id"]),
    "dueSoon": (5, ["title", "due_date", "assignee_ids"]),
    "overdue": (5, ["title", "due_date"]),
    "recent": (10, ["title", "content", "updated_at", "workspace_id"]),
    "assignedToMe": (5, ["title", "due_date"]),
}


async def _names(db: AsyncDatabase[Doc], ids: set[ObjectId]) -> dict[ObjectId, str]:
    found = await db.users.find({"_id": {"$in": list(ids)}}, {"name": 1}).to_list()
    return {u["_id"]: u["name"] for u in found}


async def page(db: AsyncDatabase[Doc], viewer: ObjectId, variables: dict[str, Any]) -> Doc:
    """``workspace(id) { members { role user { id name } } notes(first) { nodes … } }``."""
    workspace_id = ObjectId(variables["id"])
    first = 20 if variables.get("first") is None else variables["first"]
    notes = db.notes.find(live_notes([workspace_id]), PAGE_FIELDS).sort(CREATED_DESC).limit(first)
    space, nodes = await asyncio.gather(
        db.workspaces.find_one({"_id": workspace_id}, {"members": 1}), notes.to_list()
    )
    if space is None or all(m["user_id"] != viewer for m in space["members"]):
        return {"workspace": None}
    ids = {m["user_id"] for m in space["members"]} | {n["author_id"] for n in nodes}
    names = await _names(db, ids.union(*(n["assignee_ids"] for n in nodes)))

    def person(user_id: ObjectId) -> Doc:
        return {"id": str(user_id), "name": names[user_id]}

    members = [{"role": m["role"], "user": person(m["user_id"])} for m in space["members"]]
    return {
        "workspace": {
            "members": members,
            "notes": {
                "nodes": [
                    {
                        "id": str(n["_id"]),
                        "title": n["title"],
                        "tags": n["tags"],
                        "priority": n["priority"],
                        "dueDate": iso_or_none(n.get("due_date")),
                        "isPinned": n["is_pinned"],
                        "author": person(n["author_id"]),
                        "assignees": [person(a) for a in n["assignee_ids"]],
                    }
                    for n in nodes
                ]
            },
        }
    }


async def dashboard(db: AsyncDatabase[Doc], viewer: ObjectId, _: dict[str, Any]) -> Doc:
    """The dashboard home document of ``bench/apq.py``: sections, then counters."""
    spaces = await db.workspaces.find({"members.user_id": viewer}, {"name": 1}).to_list()
    workspaces = {w["_id"]: w["name"] for w in spaces}
    live, moment = live_notes(list(workspaces)), now()
    wanted = sections(moment, viewer)
    finds = [
        db.notes.find({**live, **wanted[name][0]}, fields).sort(wanted[name][1]).limit(first)
        for name, (first, fields) in SECTION_FIELDS.items()
    ]
    facet = await db.notes.aggregate(stats_pipeline(live, moment))
    *found, [row] = await asyncio.gather(*(f.to_list() for f in finds), facet.to_list())
    pinned, due_soon, overdue, recent, mine = found
    ids = {n["author_id"] for n in pinned}.union(*(n["assignee_ids"] for n in due_soon))
    names = await _names(db, ids)

    def dated(n: Doc) -> Doc:
        return {"id": str(n["_id"]), "title": n["title"], "dueDate": iso_or_none(n.get("due_date"))}

    def single(name: str) -> int:
        return int(row[name][0]["n"]) if row[name] else 0

    priorities = {r["_id"]: r["n"] for r in row["priority"]}
    tags = sorted(row["tags"], key=lambda r: (-r["n"], r["_id"]))[:8]
    return {
        "dashboard": {
            "pinned": [
                {
                    **dated(n),
                    "priority": n["priority"],
                    "tags": n["tags"],
                    "author": {"name": names[n["author_id"]]},
                }
                for n in pinned
            ],
            "dueSoon": [
                {**dated(n), "assignees": [{"name": names[a]} for a in n["assignee_ids"]]}
                for n in due_soon
            ],
            "overdue": [dated(n) for n in overdue],
            "recent": [
                {
                    "id": str(n["_id"]),
                    "title": n["title"],
                    "excerpt": excerpt(n["content"], 120),
                    "updatedAt": iso(n["updated_at"]),
                    "workspace": {"name": workspaces[n["workspace_id"]]},
                }
                for n in recent
            ],
            "assignedToMe": [dated(n) for n in mine],
            "stats": {
                "totalNotes": single("total"),
                "pinnedNotes": single("pinned"),
                "overdueNotes": single("overdue"),
                "dueThisWeek": single("week"),
                "byPriority": [{"priority": p, "count": priorities.get(p, 0)} for p in PRIORITIES],
                "byWorkspace": [
                    {"workspace": {"name": workspaces[r["_id"]]}, "count": r["n"]}
                    for r in sorted(row["workspace"], key=lambda r: -r["n"])
                ],
                "topTags": [{"tag": r["_id"], "count": r["n"]} for r in tags],
            },
        }
    }


async def rename(db: AsyncDatabase[Doc], viewer: ObjectId, variables: dict[str, Any]) -> Doc:
    """``updateNote(id, input: {title}) { id title }`` where the viewer may edit."""
    writable = await db.workspaces.find(
        {"members": {"$elemMatch": {"user_id": viewer, "role": {"$in": WRITERS}}}}, {"_id": 1}
    ).to_list()
    after = await db.notes.find_one_and_update(
        {"_id": ObjectId(variables["id"]), "workspace_id": {"$in": [w["_id"] for w in writable]}},
        {
            "$set": {"title": variables["title"], "updated_at": now(), "last_edited_by_id": viewer},
            "$inc": {"version": 1},
        },
        projection={"title": 1},
        return_document=True,
    )
    if after is None:
        raise LookupError("No such note.")
    return {"updateNote": {"id": str(after["_id"]), "title": after["title"]}}


OPERATIONS: dict[str, Operation] = {}
for document, operation in ((PAGE, page), (DASHBOARD, dashboard), (RENAME, rename)):
    OPERATIONS[document] = OPERATIONS[sha256_hex(document)] = operation


def _answer(body: Doc) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def handle(request: web.Request) -> web.Response:
    """``POST /graphql``: one of the known operations, by text or by APQ hash."""
    body = orjson.loads(await request.read())
    persisted = (body.get("extensions") or {}).get("persistedQuery") or {}
    operation = OPERATIONS.get(body.get("query") or persisted.get("sha256Hash", ""))
    viewer = viewer_of(request)
    if operation is None or viewer is None:
        return _answer({"errors": [{"message": "unknown operation or not signed in"}]})
    try:
        data = await operation(request.app[DB], viewer, body.get("variables") or {})
    except LookupError as exc:
        return _answer({"data": None, "errors": [{"message": str(exc)}]})
    return _answer({"data": data})


def make_app() -> web.Application:
    """The aiohttp application."""
    return application(handle)


if __name__ == "__main__":
    serve(make_app, __doc__)
