"""Per-workspace aggregates (note counts, tag counts): one aggregation per batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from beanie import PydanticObjectId

from notes_bff.loaders.base import Loader
from notes_bff.models import Note
from notes_bff.models.index_hints import hinted
from notes_bff.models.read_routing import list_reads
from notes_bff.response_cache import tags

# Aggregations over the unarchived notes of some workspaces read this index's prefix.
LIVE_NOTES_INDEX = "ws_created"


def live_notes_of(workspace_ids: Sequence[PydanticObjectId]) -> dict[str, Any]:
    """The filter for the unarchived notes of some workspaces."""
    return {"workspace_id": {"$in": list(set(workspace_ids))}, "is_archived": False}


def note_count_pipeline(keys: Sequence[PydanticObjectId]) -> list[dict[str, Any]]:
    """Unarchived notes per workspace."""
    return [
        {"$match": live_notes_of(keys)},
        {"$group": {"_id": "$workspace_id", "n": {"$sum": 1}}},
    ]


def tag_count_pipeline(keys: Sequence[PydanticObjectId]) -> list[dict[str, Any]]:
    """Tag usage per workspace."""
    return [
        {"$match": live_notes_of(keys)},
        {"$project": {"workspace_id": 1, "tags": 1}},
        {"$unwind": "$tags"},
        {"$group": {"_id": {"ws": "$workspace_id", "tag": "$tags"}, "n": {"$sum": 1}}},
    ]


async def _live_notes_aggregate(pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of an aggregation over live notes (a list read)."""
    async with list_reads() as session:
        found = Note.aggregate(pipeline, session=session, **hinted(LIVE_NOTES_INDEX))
        return await found.to_list()


class NoteCountByWorkspaceLoader(Loader[PydanticObjectId, int]):
    """How many unarchived notes each workspace holds."""

    cache_tag_kind = tags.WORKSPACE_NOTES

    async def batch_load_fn(self, keys: Sequence[PydanticObjectId]) -> list[int]:
        rows = await _live_notes_aggregate(note_count_pipeline(keys))
        counts = {row["_id"]: row["n"] for row in rows}
        return [int(counts.get(key, 0)) for key in keys]


TagCounts = list[tuple[str, int]]


class TagCountsByWorkspaceLoader(Loader[PydanticObjectId, TagCounts]):
    """Tag usage of each workspace's unarchived notes, most used first, then by name."""

    cache_tag_kind = tags.WORKSPACE_NOTES

    async def batch_load_fn(self, keys: Sequence[PydanticObjectId]) -> list[TagCounts]:
        rows = await _live_notes_aggregate(tag_count_pipeline(keys))
        by_workspace: dict[PydanticObjectId, TagCounts] = defaultdict(list)
        for row in rows:
            by_workspace[row["_id"]["ws"]].append((row["_id"]["tag"], int(row["n"])))
        return [sorted(by_workspace[key], key=lambda t: (-t[1], t[0])) for key in keys]
