"""The dashboard: note sections and statistics across the viewer's workspaces."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from beanie import PydanticObjectId

from notes_bff.loaders.aggregates import LIVE_NOTES_INDEX
from notes_bff.models import Note, NotePriority
from notes_bff.models.index_hints import hinted
from notes_bff.models.read_routing import list_reads
from notes_bff.response_cache.reads import expires_within
from notes_bff.services.access import viewer_workspaces
from notes_bff.services.actor import Actor
from notes_bff.services.note_queries import (
    SORT_SPECS,
    Listed,
    NoteParts,
    NoteQuery,
    NoteSort,
    notes_filter,
    reading_notes_of,
    top_notes,
)
from notes_bff.validation import bounded_int

DUE_ASC = SORT_SPECS[NoteSort.DUE_DATE_ASC]
RECENT = SORT_SPECS[NoteSort.UPDATED_AT_DESC]
MAX_DAYS = 366
DASHBOARD_CACHE_S = 30


@dataclass
class DashboardStatsData:
    """The dashboard's counters."""

    total: int
    pinned: int
    overdue: int
    due_this_week: int
    by_priority: list[tuple[NotePriority, int]]
    by_workspace: list[tuple[PydanticObjectId, int]]
    tags: list[tuple[str, int]]


class DashboardView:
    """The viewer's dashboard; each section is one indexed query."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.moment = actor.clock()
        # Sections depend on the time (due soon, overdue): cached answers stay briefly.
        expires_within(DASHBOARD_CACHE_S)

    async def _live(self) -> dict[str, Any] | None:
        ids = [ws.id for ws in await viewer_workspaces(self.actor) if ws.id is not None]
        return notes_filter(ids, NoteQuery()) if ids else None

    async def _section(
        self, extra: dict[str, Any], sort: Any, first: int, parts: NoteParts
    ) -> list[Listed]:
        live = await self._live()
        return await top_notes({**live, **extra}, sort, first, parts) if live else []

    async def pinned(self, first: int, parts: NoteParts = NoteParts.FULL) -> list[Listed]:
        """Pinned notes, most recently updated first (``parts`` of each)."""
        return await self._section({"is_pinned": True}, RECENT, first, parts)

    async def due_soon(
        self, days: int, first: int, parts: NoteParts = NoteParts.FULL
    ) -> list[Listed]:
        """Notes due from now to ``days`` ahead, soonest first."""
        until = self.moment + timedelta(days=bounded_int("days", days, 1, MAX_DAYS))
        return await self._section(
            {"due_sort": {"$gte": self.moment, "$lte": until}}, DUE_ASC, first, parts
        )

    async def overdue(self, first: int, parts: NoteParts = NoteParts.FULL) -> list[Listed]:
        """Notes whose due date has passed, oldest due first."""
        return await self._section({"due_sort": {"$lt": self.moment}}, DUE_ASC, first, parts)

    async def recent(self, first: int, parts: NoteParts = NoteParts.FULL) -> list[Listed]:
        """Most recently updated notes."""
        return await self._section({}, RECENT, first, parts)

    async def assigned_to_me(self, first: int, parts: NoteParts = NoteParts.FULL) -> list[Listed]:
        """Notes assigned to the viewer, soonest due first."""
        viewer = self.actor.require_viewer()
        return await self._section({"assignee_ids": viewer}, DUE_ASC, first, parts)

    async def stats(self) -> DashboardStatsData:
        """Every counter in one aggregation (``$facet``)."""
        live = await self._live()
        row: dict[str, list[dict[str, Any]]] = {}
        if live is not None:
            await reading_notes_of(live)
            pipeline = stats_pipeline(live, self.moment)
            async with list_reads() as session:
                stats = Note.aggregate(pipeline, session=session, **hinted(LIVE_NOTES_INDEX))
                [row] = await stats.to_list()

        def single(name: str) -> int:
            return int(row[name][0]["n"]) if row.get(name) else 0

        priorities = {r["_id"]: int(r["n"]) for r in row.get("priority", [])}
        workspaces = [(r["_id"], int(r["n"])) for r in row.get("workspace", [])]
        tags = [(r["_id"], int(r["n"])) for r in row.get("tags", [])]
        return DashboardStatsData(
            total=single("total"),
            pinned=single("pinned"),
            overdue=single("overdue"),
            due_this_week=single("week"),
            by_priority=[(p, priorities.get(p.value, 0)) for p in reversed(NotePriority)],
            by_workspace=sorted(workspaces, key=lambda t: -t[1]),
            tags=sorted(tags, key=lambda t: (-t[1], t[0])),
        )


def stats_pipeline(live: dict[str, Any], moment: datetime) -> list[dict[str, Any]]:
    """The dashboard counters of the notes matching ``live``, as one ``$facet``."""
    week = moment + timedelta(days=7)
    facets = {
        "total": [{"$count": "n"}],
        "pinned": [{"$match": {"is_pinned": True}}, {"$count": "n"}],
        "overdue": [{"$match": {"due_sort": {"$lt": moment}}}, {"$count": "n"}],
        "week": [{"$match": {"due_sort": {"$gte": moment, "$lte": week}}}, {"$count": "n"}],
        "priority": [{"$group": {"_id": "$priority", "n": {"$sum": 1}}}],
        "workspace": [{"$group": {"_id": "$workspace_id", "n": {"$sum": 1}}}],
        "tags": [{"$unwind": "$tags"}, {"$group": {"_id": "$tags", "n": {"$sum": 1}}}],
    }
    projection = {"priority": 1, "workspace_id": 1, "tags": 1, "is_pinned": 1, "due_sort": 1}
    return [{"$match": live}, {"$project": projection}, {"$facet": facets}]
