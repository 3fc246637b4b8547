"""Search benchmark: 20,000 notes across 50 workspaces.

- index throughput of the embedded engine: a full rebuild, and live batches of 50 notes
  committed one by one (the indexer's path), with the event loop's lag meanwhile;
- query latency (p50/p95) of the engine for typed queries (typos, prefixes, phrases,
  several words), a viewer in 5 and in all 50 workspaces;
- the old ``filter.search`` (a case-insensitive regular expression in MongoDB, here the
  embedded SecantusDB) on the same notes, for comparison.

Run: ``.venv/bin/python -m bench.search [--notes 20000 --workspaces 50] [--semantic]``
(``--semantic``: the hybrid engine of the ``semantic`` extra, embeddings included).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import random
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from beanie import PydanticObjectId, init_beanie
from bson import ObjectId
from faker import Faker
from pymongo import AsyncMongoClient

from notes_bff.embedded import embedded_servers
from notes_bff.models import DOCUMENT_MODELS, Note
from notes_bff.search.backend import Changes, Filters, NoteFields, SearchRequest
from notes_bff.search.engine import TantivyBackend
from notes_bff.search.query import parse
from notes_bff.services.note_queries import NoteQuery, NoteSort, notes_filter, page_of_notes
from notes_bff.validation import search_pattern

QUERIES = ["meeting", "meetng", "roadmap review", "secur", '"next step"', "budget customer"]
TAGS = ["design", "backend", "meeting", "bug", "release", "security", "roadmap", "customer"]


def corpus(count: int, workspaces: int) -> list[NoteFields]:
    """Realistic Markdown notes (faker), reproducible."""
    fake = Faker()
    Faker.seed(7)
    rng = random.Random(7)  # noqa: S311 - reproducible data, not security
    spaces = [str(ObjectId()) for _ in range(workspaces)]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    notes = []
    for _ in range(count):
        content = "\n\n".join(
            [
                f"## {fake.catch_phrase()}",
                fake.paragraph(nb_sentences=rng.randint(3, 8)),
                "\n".join(f"- {fake.sentence()}" for _ in range(rng.randint(0, 4))),
                f"**Next step:** {fake.sentence()} {rng.choice(['meeting', 'budget', 'review'])}",
            ]
        )
        notes.append(
            NoteFields(
                id=str(ObjectId()),
                workspace_id=rng.choice(spaces),
                title=fake.sentence(nb_words=rng.randint(3, 7)).rstrip("."),
                content=content,
                tags=tuple(rng.sample(TAGS, rng.randint(0, 3))),
                is_pinned=rng.random() < 0.05,
                priority_rank=rng.randint(0, 3),
                due_date=start + timedelta(days=rng.randint(0, 365))
                if rng.random() < 0.4
                else None,
                is_archived=rng.random() < 0.05,
                author_id=str(ObjectId()),
                assignee_ids=(),
                updated_at=start + timedelta(minutes=rng.randint(0, 500_000)),
                version=1,
            )
        )
    return notes


class LoopLag:
    """The event loop's worst delays while something runs in threads."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.005)
            self.lags.append((time.perf_counter() - started - 0.005) * 1000)

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._watch())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

    def summary(self) -> str:
        """p99 and max lag in milliseconds."""
        ordered = sorted(self.lags) or [0.0]
        return f"loop lag p99 {ordered[int(len(ordered) * 0.99)]:.1f} ms, max {ordered[-1]:.1f} ms"


def percentiles(samples: Sequence[float]) -> str:
    """p50 / p95 in milliseconds."""
    ordered = sorted(samples)
    return (
        f"p50 {statistics.median(ordered):.1f} ms, p95 {ordered[int(len(ordered) * 0.95)]:.1f} ms"
    )


async def timed(runs: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    """Milliseconds of ``runs`` sequential calls."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def engine(notes: list[NoteFields], folder: Path, runs: int, semantic: bool) -> None:
    backend = TantivyBackend(folder / "v1")
    if semantic:
        from notes_bff.search.semantic import HybridBackend

        backend = HybridBackend(folder / "v1")
    backend.open_writer()

    async def batches() -> AsyncIterator[Sequence[NoteFields]]:
        for start in range(0, len(notes), 500):
            yield notes[start : start + 500]

    with LoopLag() as lag:
        started = time.perf_counter()
        await backend.rebuild(batches(), {})
        elapsed = time.perf_counter() - started
    print(f"rebuild: {len(notes) / elapsed:,.0f} notes/s ({elapsed:.1f} s); {lag.summary()}")
    live = notes[:2000]
    with LoopLag() as lag:
        started = time.perf_counter()
        for start in range(0, len(live), 50):
            await backend.apply(Changes(upserts=live[start : start + 50]))
        elapsed = time.perf_counter() - started
    print(
        f"live batches of 50, one commit each: {len(live) / elapsed:,.0f} notes/s "
        f"({elapsed / (len(live) / 50) * 1000:.0f} ms per commit); {lag.summary()}"
    )
    spaces = sorted({n.workspace_id for n in notes})
    for label, scope in (("5 workspaces", spaces[:5]), ("50 workspaces", spaces)):
        for text in QUERIES:
            request = SearchRequest(
                parse("q", text), viewer_id=None, workspace_ids=tuple(scope), filters=Filters()
            )
            total = (await backend.search(request)).total
            samples = await timed(runs, functools.partial(backend.search, request))
            print(f"engine  {label:14} {text!r:18} {total:6} hits  {percentiles(samples)}")
    await backend.close()


async def regex(notes: list[NoteFields], folder: Path, runs: int) -> None:
    with embedded_servers(folder, mongodb=True, redis=False) as started:
        client: AsyncMongoClient = AsyncMongoClient(started["mongodb"].url, tz_aware=True)  # type: ignore[type-arg]
        await init_beanie(database=client["bench"], document_models=DOCUMENT_MODELS)
        docs = [
            {
                "_id": ObjectId(n.id),
                "workspace_id": ObjectId(n.workspace_id),
                "author_id": ObjectId(n.author_id),
                "title": n.title,
                "content": n.content,
                "tags": list(n.tags),
                "is_pinned": n.is_pinned,
                "priority": "MEDIUM",
                "priority_rank": n.priority_rank,
                "due_date": n.due_date,
                "due_sort": n.due_date or datetime(9999, 12, 31, tzinfo=UTC),
                "is_archived": n.is_archived,
                "assignee_ids": [],
                "mention_ids": [],
                "version": 1,
                "created_at": n.updated_at,
                "updated_at": n.updated_at,
            }
            for n in notes
        ]
        for start in range(0, len(docs), 1000):
            await Note.get_pymongo_collection().insert_many(docs[start : start + 1000])
        spaces = sorted({PydanticObjectId(n.workspace_id) for n in notes})
        for label, scope in (("5 workspaces", spaces[:5]), ("50 workspaces", spaces)):
            for text in ("meeting", "roadmap review", "secur"):
                query = NoteQuery(search=search_pattern("s", text))
                flt = notes_filter(scope, query)
                page = functools.partial(page_of_notes, flt, NoteSort.CREATED_AT_DESC, 20, None)
                samples = await timed(runs, page)
                print(f"regex   {label:14} {text!r:18} first page  {percentiles(samples)}")
        await client.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notes", type=int, default=20_000)
    parser.add_argument("--workspaces", type=int, default=50)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--regex-runs", type=int, default=10)
    parser.add_argument("--semantic", action="store_true", help="hybrid BM25 + embeddings")
    args = parser.parse_args()
    notes = corpus(args.notes, args.workspaces)
    print(
        f"{len(notes)} notes, {args.workspaces} workspaces, "
        f"{sum(len(n.content) for n in notes) / len(notes):.0f} characters of content each"
    )
    with tempfile.TemporaryDirectory(prefix="notes-bff-search-bench-") as folder:
        await engine(notes, Path(folder), args.runs, args.semantic)
        if args.regex_runs:
            await regex(notes, Path(folder) / "mongo", args.regex_runs)


if __name__ == "__main__":
    asyncio.run(main())
