"""Every list query shape of the contract is served by an index scan, never a collection scan."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from beanie import PydanticObjectId
from pymongo import AsyncMongoClient

from notes_bff.config import Settings
from notes_bff.loaders.aggregates import LIVE_NOTES_INDEX, note_count_pipeline, tag_count_pipeline
from notes_bff.models.clock import now
from notes_bff.services.dashboard import stats_pipeline
from notes_bff.services.note_queries import (
    SORT_SPECS,
    NoteQuery,
    NoteSort,
    index_for,
    notes_filter,
)
from notes_bff.services.notifications import NOTIFICATION_SORT
from tests.conftest import Api

DUE = SORT_SPECS[NoteSort.DUE_DATE_ASC]
RECENT = SORT_SPECS[NoteSort.UPDATED_AT_DESC]


def _plan_stages(plan: Any) -> list[str]:
    if isinstance(plan, dict):
        found = [plan["stage"]] if "stage" in plan else []
        for value in plan.values():
            found += _plan_stages(value)
        return found
    if isinstance(plan, list):
        return [stage for item in plan for stage in _plan_stages(item)]
    return []


@pytest.fixture(scope="module")
async def world(api_module: Api) -> dict[str, Any]:
    owner, mate = await api_module.sign_up(), await api_module.sign_up()
    spaces = [await api_module.workspace(owner, f"W{i}") for i in range(3)]
    for ws in spaces:
        await api_module.add(owner, ws, mate, "EDITOR")
        for i in range(20):
            await api_module.note(
                owner, ws, title=f"n{i}", tags=["a", "b"] if i % 2 else ["c"], isPinned=i % 5 == 0,
                dueDate="2030-01-01T00:00:00Z" if i % 3 else None, assigneeIds=[mate["id"]] if i % 4 == 0 else [],
            )  # fmt: skip
    return {"owner": PydanticObjectId(owner["id"]), "mate": PydanticObjectId(mate["id"]),
            "spaces": [PydanticObjectId(w) for w in spaces]}  # fmt: skip


def _index_scans(plan: Any) -> list[dict[str, Any]]:
    if isinstance(plan, dict):
        found = [plan] if plan.get("stage") == "IXSCAN" else []
        return found + [s for value in plan.values() for s in _index_scans(value)]
    if isinstance(plan, list):
        return [s for item in plan for s in _index_scans(item)]
    return []


def _scan_problem(plan: Any, flt: dict[str, Any]) -> str | None:
    """Why ``plan`` is not an index scan bounded by the filter, or None when it is."""
    stages = _plan_stages(plan)
    if "COLLSCAN" in stages or "IXSCAN" not in stages:
        return f"stages {stages}"
    for scan in _index_scans(plan):
        leading = next(iter(scan["keyPattern"]))
        if leading not in flt:
            return f"index {scan['indexName']} leads with {leading}, which the filter leaves open"
    return None


def _pipelines(world: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    spaces = world["spaces"]
    return {
        "note counts": note_count_pipeline(spaces),
        "tag counts": tag_count_pipeline(spaces),
        "dashboard stats": stats_pipeline(notes_filter(spaces, NoteQuery()), now()),
    }


def _shapes(world: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any], Any]]:
    one, many = world["spaces"][:1], world["spaces"]
    moment = now()
    live = notes_filter(many, NoteQuery())
    shapes: dict[str, tuple[str, dict[str, Any], Any]] = {}
    for sort, spec in SORT_SPECS.items():
        shapes[f"workspace notes {sort.value}"] = ("notes", notes_filter(one, NoteQuery()), spec)
        shapes[f"all notes {sort.value}"] = ("notes", live, spec)
    shapes |= {
        "archived included": ("notes", notes_filter(one, NoteQuery(include_archived=True)), SORT_SPECS[NoteSort.CREATED_AT_DESC]),
        "by tag": ("notes", notes_filter(one, NoteQuery(tags=["a"])), SORT_SPECS[NoteSort.CREATED_AT_DESC]),
        "pinned": ("notes", notes_filter(one, NoteQuery(is_pinned=True)), SORT_SPECS[NoteSort.CREATED_AT_DESC]),
        "due before": ("notes", notes_filter(one, NoteQuery(due_before=moment)), DUE),
        "due after": ("notes", notes_filter(one, NoteQuery(due_after=moment)), DUE),
        "by author": ("notes", notes_filter(one, NoteQuery(author_id=world["owner"])), SORT_SPECS[NoteSort.CREATED_AT_DESC]),
        "assigned to me": ("notes", notes_filter(many, NoteQuery(assignee_id=world["mate"])), DUE),
        "dashboard pinned": ("notes", {**live, "is_pinned": True}, [("updated_at", -1), ("_id", -1)]),
        "dashboard due soon": ("notes", {**live, "due_sort": {"$gte": moment, "$lte": moment + timedelta(days=7)}}, DUE),
        "dashboard overdue": ("notes", {**live, "due_sort": {"$lt": moment}}, DUE),
        "dashboard recent": ("notes", live, RECENT),
        "dashboard assigned to me": ("notes", {**live, "assignee_ids": world["mate"]}, DUE),
        "notifications": ("notifications", {"user_id": world["mate"]}, NOTIFICATION_SORT),
        "unread notifications": ("notifications", {"user_id": world["mate"], "read": False}, NOTIFICATION_SORT),
        "workspaces of a member": ("workspaces", {"members.user_id": world["mate"]}, [("created_at", 1)]),
        "user by email": ("users", {"email": "nobody@example.com"}, None),
    }  # fmt: skip
    return shapes


def _settings_shapes(world: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any], Any]]:
    """The queries of sessions, data export and erasure (one user, every workspace)."""
    moment = now()
    return {
        "sessions of a user": ("refresh_sessions", {"user_id": world["mate"], "used_at": None, "revoked": False, "expires_at": {"$gt": moment}}, [("created_at", -1)]),
        "notes by a user anywhere": ("notes", {"author_id": world["owner"]}, None),
        "notes assigned to a user anywhere": ("notes", {"assignee_ids": world["mate"]}, None),
        "notes mentioning a user anywhere": ("notes", {"mention_ids": world["mate"]}, None),
        "notifications by an actor": ("notifications", {"actor_id": world["owner"]}, None),
        "accounts due for erasure": ("users", {"deletion_scheduled_for": {"$lte": moment}}, None),
        "exports of a user": ("data_exports", {"user_id": world["mate"]}, None),
        "an export's chunks": ("data_export_chunks", {"export_id": world["owner"]}, [("n", 1)]),
    }  # fmt: skip


async def test_every_list_query_uses_an_index(world: dict[str, Any], settings: Settings) -> None:
    client: AsyncMongoClient[Any] = AsyncMongoClient(settings.mongodb_uri)
    try:
        db = client[settings.mongodb_db]
        failures = {}
        for name, (collection, flt, sort) in _shapes(world).items():
            command: dict[str, Any] = {"find": collection, "filter": flt, "limit": 21}
            if sort:
                command["sort"] = dict(sort)
            if collection == "notes":  # the hint the application sends real MongoDB
                command["hint"] = index_for(flt, sort)
            explained = await db.command({"explain": command, "verbosity": "queryPlanner"})
            if problem := _scan_problem(explained["queryPlanner"]["winningPlan"], flt):
                failures[name] = problem
        for name, pipeline in _pipelines(world).items():
            command = {
                "aggregate": "notes",
                "pipeline": pipeline,
                "cursor": {},
                "hint": LIVE_NOTES_INDEX,
            }
            explained = await db.command({"explain": command, "verbosity": "queryPlanner"})
            if problem := _scan_problem(explained, pipeline[0]["$match"]):
                failures[name] = problem
        assert failures == {}
    finally:
        await client.close()


async def test_settings_queries_use_an_index(world: dict[str, Any], settings: Settings) -> None:
    client: AsyncMongoClient[Any] = AsyncMongoClient(settings.mongodb_uri)
    try:
        db = client[settings.mongodb_db]
        failures = {}
        for name, (collection, flt, sort) in _settings_shapes(world).items():
            command: dict[str, Any] = {"find": collection, "filter": flt}
            if sort:
                command["sort"] = dict(sort)
            if collection == "refresh_sessions":  # the hint services/sessions.py sends
                command["hint"] = "user"
            explained = await db.command({"explain": command, "verbosity": "queryPlanner"})
            if problem := _scan_problem(explained["queryPlanner"]["winningPlan"], flt):
                failures[name] = problem
        assert failures == {}
    finally:
        await client.close()
