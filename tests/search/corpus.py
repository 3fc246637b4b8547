"""The labelled search corpus (corpus.json): notes, queries with graded relevance, and the
helpers that index it and score rankings."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from notes_bff.config import Settings
from notes_bff.db import mongo_client
from notes_bff.search.backend import Filters, NoteFields, SearchRequest
from notes_bff.search.engine import TantivyBackend
from notes_bff.search.indexer import Indexer, Store
from notes_bff.search.query import parse

DATA = json.loads((Path(__file__).parent / "corpus.json").read_text())
NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
WORKSPACES = {name: f"{i + 1:024x}" for i, name in enumerate(DATA["workspaces"])}
MEMBER_OF = tuple(WORKSPACES[name] for name, role in DATA["workspaces"].items() if role == "member")
PRIVATE = WORKSPACES["private"]
AUTHOR = "f" * 24


@dataclass(frozen=True)
class Labelled:
    """A query and its graded relevance (2: what the user wants, 1: related)."""

    query: str
    kind: str
    relevant: dict[str, int]


QUERIES = [Labelled(q["query"], q["kind"], q["relevant"]) for q in DATA["queries"]]


def note_id(index: int) -> str:
    return f"{0xA0000000 + index:024x}"


def fields(index: int, raw: dict[str, Any]) -> NoteFields:
    due = raw["due_in_days"]
    return NoteFields(
        id=note_id(index),
        workspace_id=WORKSPACES[raw["workspace"]],
        title=raw["title"],
        content=raw["content"],
        tags=tuple(raw["tags"]),
        is_pinned=raw["pinned"],
        priority_rank=1,
        due_date=None if due is None else NOW + timedelta(days=due),
        is_archived=False,
        author_id=AUTHOR,
        assignee_ids=(),
        updated_at=NOW - timedelta(days=raw["days_ago"]),
        version=1,
    )


NOTES = [fields(i, raw) for i, raw in enumerate(DATA["notes"])]
KEYS = {note_id(i): raw["key"] for i, raw in enumerate(DATA["notes"])}


async def _batches(notes: Sequence[NoteFields]) -> AsyncIterator[Sequence[NoteFields]]:
    for start in range(0, len(notes), 100):
        yield notes[start : start + 100]


async def build(path: Path, engine: type[TantivyBackend] = TantivyBackend) -> TantivyBackend:
    """An index of the corpus (writer open, so tests may change it)."""
    backend = engine(path)
    backend.open_writer()
    await backend.rebuild(_batches(NOTES), dict.fromkeys(WORKSPACES.values(), "0-0"))
    return backend


async def ranked(
    backend: TantivyBackend,
    text: str,
    workspace_ids: Sequence[str] = MEMBER_OF,
    limit: int = 10,
    filters: Filters | None = None,
) -> list[str]:
    """The keys of the top ``limit`` hits."""
    request = SearchRequest(
        parse("query", text),
        viewer_id=None,
        workspace_ids=tuple(workspace_ids),
        filters=filters or Filters(),
        limit=limit,
        now=NOW,
    )
    return [KEYS[h.note_id] for h in (await backend.search(request)).hits]


def ndcg(keys: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    """Normalized discounted cumulative gain at ``k`` (gain 2^grade - 1)."""

    def dcg(grades: Sequence[int]) -> float:
        return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(grades[:k]))

    ideal = dcg(sorted(relevant.values(), reverse=True))
    return dcg([relevant.get(key, 0) for key in keys]) / ideal if ideal else 0.0


@asynccontextmanager
async def standalone_indexer(backend: TantivyBackend, settings: Settings) -> AsyncIterator[Indexer]:
    """An indexer of its own writing ``backend``, on the session's servers (closed after)."""
    redis = Redis.from_url(settings.redis_url or "")
    client = mongo_client(settings)
    indexer = Indexer(
        backend,
        Store(client[settings.mongodb_db]),
        redis,
        settings,
        batch_delay_s=0,
        reconcile_interval_s=60,
    )
    try:
        backend.open_writer()
        yield indexer
    finally:
        await backend.close()
        await redis.aclose()
        await client.close()
