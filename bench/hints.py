"""Benchmark: does each index hint the application sends pay on SecantusDB?

    .venv/bin/python -m bench.hints [--notes 400] [--repeat 30]

Starts an embedded SecantusDB, seeds it like ``bench/compare.py`` (``notes-bff seed``) and
adds notifications and refresh sessions (the seed writes none), then runs every query shape
that carries a hint in the application (the note listing of ``index_for``, its count and
next page, the dashboard sections and statistics, the per-workspace aggregations, the
notification lists, the signed-in sessions, the DUE_SOON scan, the search indexer's version
scan) ``--repeat`` times with its hint and without, and prints per shape: SecantusDB's CPU
ms per query (/proc), the median latency, and the index each plan reads (``explain``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database

from bench.compare import DB_NAME, environment, seed
from bench.harness import cpu_seconds
from notes_bff.embedded import embedded_servers
from notes_bff.loaders.aggregates import LIVE_NOTES_INDEX, note_count_pipeline, tag_count_pipeline
from notes_bff.models.clock import now
from notes_bff.services.dashboard import DUE_ASC, stats_pipeline
from notes_bff.services.note_queries import SORT_SPECS, NoteQuery, NoteSort, index_for, notes_filter
from notes_bff.services.notifications import NOTIFICATION_SORT

Doc = dict[str, Any]
PAGE = 21  # a page of 20 asks for one more row (pagination.keyset_page)
CREATED = SORT_SPECS[NoteSort.CREATED_AT_DESC]
RECENT = SORT_SPECS[NoteSort.UPDATED_AT_DESC]


@dataclass(frozen=True)
class Shape:
    """A command the application sends with ``hint`` (left out: the same without)."""

    name: str
    command: Doc
    hint: str

    def hinted(self, on: bool) -> Doc:
        """The command with its hint, or without."""
        return self.command | {"hint": self.hint} if on else self.command


def _find(collection: str, flt: Doc, sort: Any, limit: int = PAGE) -> Doc:
    return {"find": collection, "filter": flt, "sort": dict(sort), "limit": limit}


def _notes(name: str, flt: Doc, sort: Any) -> Shape:
    return Shape(name, _find("notes", flt, sort), index_for(flt, sort))


def _aggregate(name: str, pipeline: list[Doc]) -> Shape:
    command = {"aggregate": "notes", "pipeline": pipeline, "cursor": {}}
    return Shape(name, command, LIVE_NOTES_INDEX)


def shapes(db: Database[Doc]) -> list[Shape]:
    """Every hinted query shape, on the demo user's data."""
    viewer = db.users.find_one({"email": "demo@example.com"})
    assert viewer is not None
    me = viewer["_id"]
    spaces = [w["_id"] for w in db.workspaces.find({"members.user_id": me}).sort("created_at")]
    one, moment = spaces[:1], now()
    live = notes_filter(spaces, NoteQuery())
    author = db.notes.find_one({"workspace_id": one[0]})
    assert author is not None
    found = [
        _notes(f"workspace notes {s.value}", notes_filter(one, NoteQuery()), spec)
        for s, spec in SORT_SPECS.items()
    ] + [_notes(f"all notes {s.value}", live, spec) for s, spec in SORT_SPECS.items()]
    page_two = {"$and": [notes_filter(one, NoteQuery()), {"created_at": {"$lt": moment}}]}
    found += [
        _notes("archived included", notes_filter(one, NoteQuery(include_archived=True)), CREATED),
        _notes("by tag", notes_filter(one, NoteQuery(tags=["design"])), CREATED),
        _notes("pinned", notes_filter(one, NoteQuery(is_pinned=True)), CREATED),
        _notes("due before", notes_filter(one, NoteQuery(due_before=moment)), DUE_ASC),
        _notes("due after", notes_filter(one, NoteQuery(due_after=moment)), DUE_ASC),
        _notes("by author", notes_filter(one, NoteQuery(author_id=author["author_id"])), CREATED),
        _notes("assigned to me", notes_filter(spaces, NoteQuery(assignee_id=me)), DUE_ASC),
        Shape("workspace notes, page 2", _find("notes", page_two, CREATED), "ws_created"),
        Shape(
            "workspace notes, totalCount",
            {"count": "notes", "query": notes_filter(one, NoteQuery())},
            "ws_created",
        ),
        _notes("dashboard pinned", {**live, "is_pinned": True}, RECENT),
        _notes(
            "dashboard due soon",
            {**live, "due_sort": {"$gte": moment, "$lte": moment + timedelta(days=7)}},
            DUE_ASC,
        ),
        _notes("dashboard overdue", {**live, "due_sort": {"$lt": moment}}, DUE_ASC),
        _notes("dashboard recent", live, RECENT),
        _notes("dashboard assigned to me", {**live, "assignee_ids": me}, DUE_ASC),
        _aggregate("dashboard stats", stats_pipeline(live, moment)),
        _aggregate("note counts", note_count_pipeline(spaces)),
        _aggregate("tag counts", tag_count_pipeline(spaces)),
        Shape(
            "notifications",
            _find("notifications", {"user_id": me}, NOTIFICATION_SORT),
            "user_created",
        ),
        Shape(
            "unread notifications",
            _find("notifications", {"user_id": me, "read": False}, NOTIFICATION_SORT),
            "user_read_created",
        ),
        Shape(
            "signed-in sessions",
            _find(
                "refresh_sessions",
                {"user_id": me, "used_at": None, "revoked": False, "expires_at": {"$gt": moment}},
                [("created_at", -1)],
                0,
            ),
            "user",
        ),
        Shape(
            "DUE_SOON scan",
            {
                "find": "notes",
                "filter": {
                    "due_sort": {"$gte": moment, "$lte": moment + timedelta(hours=24)},
                    "is_archived": False,
                },
                "limit": 200,
            },
            "due_scan",
        ),
        Shape(
            "search indexer versions",
            {
                "find": "notes",
                "filter": {"workspace_id": {"$in": spaces}},
                "projection": {"version": 1},
            },
            "ws_created",
        ),
    ]
    return found


def add_activity(db: Database[Doc], per_user: int) -> None:
    """Notifications (a third unread) and refresh sessions (most spent) for every user."""
    users = [u["_id"] for u in db.users.find({}, {"_id": 1})]
    moment = now()
    notifications, sessions = [], []
    for user in users:
        for i in range(per_user):
            at = moment - timedelta(minutes=7 * i)
            notifications.append(
                {"user_id": user, "kind": "MENTIONED", "message": f"n{i}", "read": i % 3 != 0}
                | {"created_at": at}
            )
            spent = None if i % 4 else at
            sessions.append(
                {"user_id": user, "family_id": f"f{i // 4}", "used_at": spent, "revoked": False}
                | {"expires_at": at + timedelta(days=30), "created_at": at}
            )
    db.notifications.insert_many(notifications)
    db.refresh_sessions.insert_many(sessions)


def _indexes_read(plan: Any) -> Iterator[str]:
    if isinstance(plan, dict):
        if plan.get("stage") in ("IXSCAN", "COLLSCAN", "COUNT_SCAN"):
            yield str(plan.get("indexName", plan["stage"]))
        for value in plan.values():
            yield from _indexes_read(value)
    elif isinstance(plan, list):
        for item in plan:
            yield from _indexes_read(item)


def plan_of(db: Database[Doc], command: Doc) -> str:
    """The indexes (or COLLSCAN) the winning plan reads."""
    explained = db.command({"explain": command, "verbosity": "queryPlanner"})
    return "+".join(dict.fromkeys(_indexes_read(explained))) or "?"


@dataclass(frozen=True)
class Reading:
    """One shape run one way: CPU ms per query, median latency ms, plan, rows returned."""

    cpu_ms: float
    p50_ms: float
    plan: str
    rows: int


def run(db: Database[Doc], pid: int, command: Doc, repeat: int) -> Reading:
    """``command`` ``repeat`` times (after one warm-up run)."""
    rows = _rows(db.command(command))
    latencies = []
    before = cpu_seconds(pid)
    for _ in range(repeat):
        start = time.perf_counter()
        db.command(command)
        latencies.append(time.perf_counter() - start)
    cpu = (cpu_seconds(pid) - before) * 1000 / repeat
    return Reading(cpu, statistics.median(latencies) * 1000, plan_of(db, command), rows)


def _rows(reply: Doc) -> int:
    if "cursor" in reply:
        return len(reply["cursor"]["firstBatch"])
    return int(reply.get("n", 0))


def measure(db: Database[Doc], pid: int, repeat: int, out: Callable[[str], None]) -> None:
    """Every shape with and without its hint, as a Markdown table."""
    out("| shape | hint | plan with | plan without | rows | SecantusDB CPU ms with "
        "| without | p50 ms with | without |")  # fmt: skip
    out("|---|---|---|---|---|---|---|---|---|")
    for shape in shapes(db):
        on, off = (run(db, pid, shape.hinted(h), repeat) for h in (True, False))
        assert on.rows == off.rows, f"{shape.name}: {on.rows} rows hinted, {off.rows} not"
        out(
            f"| {shape.name} | {shape.hint} | {on.plan} | {off.plan} | {on.rows} "
            f"| {on.cpu_ms:.2f} | {off.cpu_ms:.2f} | {on.p50_ms:.2f} | {off.p50_ms:.2f} |"
        )


def main() -> None:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=400, help="seeded notes (400)")
    parser.add_argument("--repeat", type=int, default=30, help="runs per shape and way (30)")
    parser.add_argument(
        "--activity", type=int, default=200, help="notifications and sessions per user (200)"
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="notes-bff-hints-") as folder,
        embedded_servers(Path(folder), mongodb=True, redis=True) as started,
    ):
        env = environment(started["mongodb"].url, started["redis"].url, Path(folder), DB_NAME)
        seed(env, "--notes", str(args.notes))
        assert started["mongodb"].proc is not None
        client: MongoClient[Doc] = MongoClient(started["mongodb"].url, tz_aware=True)
        try:
            db = client[DB_NAME]
            add_activity(db, args.activity)
            command = " ".join([".venv/bin/python -m bench.hints", *sys.argv[1:]])
            print(f"`{command}` ({db.notes.count_documents({})} notes)\n")
            measure(db, started["mongodb"].proc.pid, args.repeat, print)
        finally:
            client.close()


if __name__ == "__main__":
    main()
