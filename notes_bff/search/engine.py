"""The embedded engine: a tantivy index on the host's disk (BM25, fuzzy terms, phrases).

One process per host writes (the indexer holds the writer lock); every worker opens the same
directory and reads. All tantivy calls run in threads: searches and commits release the GIL
(``bench/results.md``). Ranking is BM25 over title (weight 3), tags (2) and content (1), with
typo and prefix matches at a constant fraction, then multiplied by bounded boosts (pinned,
recently updated, due soon; assigned to the viewer adds a little), exactly over the pages asked for.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import cache, partial
from pathlib import Path

import tantivy
from tantivy import Occur, Query

from notes_bff.search.backend import Changes, Filters, Hit, NoteFields, Results, SearchRequest
from notes_bff.search.query import ParsedQuery, Term
from notes_bff.search.text import PLAIN, STEM, register_analyzers

# Part of the index directory's name: a schema change builds a new index beside the old one.
SCHEMA_VERSION = 1
NOTE, CHECKPOINT, META = "note", "checkpoint", "meta"
BUILT_ID = "meta:built"

TITLE_BOOST, TAGS_BOOST = 3.0, 2.0
# Constant scores of a typo-tolerant and of a prefix match (an exact match also gets BM25).
TYPO_SCORE, PREFIX_SCORE = 0.5, 0.8
# Words of a multi-word query close together in this order rank higher.
PROXIMITY_BOOST, PROXIMITY_SLOP = 1.5, 3
# Added to notes that hold every word of a query: they rank above all that miss one.
ALL_WORDS_SCORE = 1000.0
PINNED, RECENT, RECENT_HALF_LIFE_DAYS, DUE_SOON = 1.25, 0.2, 14.0, 0.2
DUE_SOON_DAYS = (-2.0, 7.0)
MAX_BOOST = PINNED * (1 + RECENT) * (1 + DUE_SOON)
# Added to the text score of notes assigned to the viewer.
ASSIGNED_SCORE = 0.5
MIN_CANDIDATES, MAX_CANDIDATES = 64, 8192
DAY_MS = 86_400_000


@cache
def schema() -> tantivy.Schema:
    """The index schema (``SCHEMA_VERSION``)."""
    builder = tantivy.SchemaBuilder()
    for name in ("id", "workspace_id", "event"):
        builder.add_text_field(name, stored=True, tokenizer_name="raw")
    for name in ("kind", "author_id"):
        builder.add_text_field(name, tokenizer_name="raw")
    for name in ("tags", "assignee_ids"):
        builder.add_text_field(name, stored=True, tokenizer_name="raw")
    for name in ("title", "content"):
        builder.add_text_field(name, tokenizer_name=STEM, index_option="position")
    builder.add_text_field("tags_text", tokenizer_name=STEM, index_option="freq")
    for name in ("title_plain", "content_plain", "tags_plain"):
        builder.add_text_field(name, tokenizer_name=PLAIN, index_option="basic")
    builder.add_integer_field("priority_rank", indexed=True)
    builder.add_boolean_field("is_pinned", indexed=True, fast=True)
    builder.add_boolean_field("is_archived", indexed=True)
    builder.add_integer_field("due_ms", indexed=True, fast=True)
    builder.add_integer_field("updated_ms", fast=True)
    builder.add_unsigned_field("version", stored=True)
    return builder.build()


def _count(result: tantivy.SearchResult) -> int:
    """How many documents matched (tantivy's stub leaves ``count`` out)."""
    return int(result.count)  # type: ignore[attr-defined]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def note_document(note: NoteFields) -> tantivy.Document:
    """The tantivy document of a note."""
    doc = tantivy.Document()
    doc.add_text("kind", NOTE)
    doc.add_text("id", note.id)
    doc.add_text("workspace_id", note.workspace_id)
    doc.add_text("author_id", note.author_id)
    for assignee in note.assignee_ids:
        doc.add_text("assignee_ids", assignee)
    for name, text in (("title", note.title), ("content", note.content)):
        doc.add_text(name, text)
        doc.add_text(f"{name}_plain", text)
    for tag in note.tags:
        doc.add_text("tags", tag)
        doc.add_text("tags_text", tag)
        doc.add_text("tags_plain", tag)
    doc.add_integer("priority_rank", note.priority_rank)
    doc.add_boolean("is_pinned", note.is_pinned)
    doc.add_boolean("is_archived", note.is_archived)
    if note.due_date is not None:
        doc.add_integer("due_ms", _ms(note.due_date))
    doc.add_integer("updated_ms", _ms(note.updated_at))
    doc.add_unsigned("version", note.version)
    return doc


def _marker(kind: str, id_: str, workspace_id: str = "", event: str = "") -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_text("kind", kind)
    doc.add_text("id", id_)
    doc.add_text("workspace_id", workspace_id)
    doc.add_text("event", event)
    return doc


def _any(queries: Sequence[Query]) -> Query:
    return Query.boolean_query([(Occur.Should, q) for q in queries])


class QueryBuilder:
    """Engine queries from parsed user text and filters; nothing of the user's text reaches
    a query parser."""

    def __init__(self) -> None:
        self.schema = schema()

    def term(self, field: str, value: object) -> Query:
        """Documents whose ``field`` holds exactly ``value``."""
        return Query.term_query(self.schema, field, value)

    def _word(self, term: Term) -> Query:
        exact = [
            Query.boost_query(self.term("title", term.stem), TITLE_BOOST),
            self.term("content", term.stem),
            Query.boost_query(self.term("tags_text", term.stem), TAGS_BOOST),
        ]
        if not term.prefix and not term.typos:
            return _any(exact)
        score = PREFIX_SCORE if term.prefix else TYPO_SCORE
        loose = [
            Query.const_score_query(
                Query.fuzzy_term_query(
                    self.schema, f"{field}_plain", term.plain, term.typos, True, term.prefix
                ),
                score * weight,
            )
            for field, weight in (("title", TITLE_BOOST), ("content", 1.0), ("tags", TAGS_BOOST))
        ]
        return _any(exact + loose)

    def _phrase(self, stems: Sequence[str], slop: int = 0) -> list[Query]:
        return [
            Query.boost_query(
                Query.phrase_query(self.schema, "title", list(stems), slop), TITLE_BOOST
            ),
            Query.phrase_query(self.schema, "content", list(stems), slop),
        ]

    def _excluded(self, stem: str) -> Query:
        return _any([self.term(f, stem) for f in ("title", "content", "tags_text")])

    def text(self, query: ParsedQuery, all_words: bool) -> list[tuple[Occur, Query]]:
        """Clauses for the words, phrases and exclusions of ``query``: every phrase, and every
        word but stop words (``all_words``), or at least half of the words, those with all
        of them first."""
        words = [self._word(t) for t in query.terms if not t.optional]
        clauses = [(Occur.Should, self._word(t)) for t in query.terms if t.optional]
        clauses += [(Occur.Must, _any(self._phrase(p.stems))) for p in query.phrases]
        clauses += [(Occur.MustNot, self._excluded(s)) for s in query.excluded]
        if all_words or len(words) < 2:
            clauses += [(Occur.Must, w) for w in words]
        else:
            every = Query.boolean_query([(Occur.Must, w) for w in words])
            some = Query.boolean_query(
                [(Occur.Should, w) for w in words], math.ceil(len(words) / 2)
            )
            clauses += [
                (Occur.Must, some),
                (Occur.Should, Query.const_score_query(every, ALL_WORDS_SCORE)),
            ]
        near = [t.stem for t in query.terms if not t.optional and not t.prefix]
        if len(near) > 1:
            proximity = _any(self._phrase(near, PROXIMITY_SLOP))
            clauses.append((Occur.Should, Query.boost_query(proximity, PROXIMITY_BOOST)))
        return clauses

    def filters(self, workspace_ids: Sequence[str], filters: Filters) -> list[tuple[Occur, Query]]:
        """The authorization restriction and the ``NoteFilter`` conditions."""
        clauses = [
            (Occur.Must, self.term("kind", NOTE)),
            (Occur.Must, Query.term_set_query(self.schema, "workspace_id", list(workspace_ids))),
        ]
        must = [self.term("tags", tag) for tag in filters.tags]
        if not filters.include_archived:
            must.append(self.term("is_archived", False))
        if filters.is_pinned is not None:
            must.append(self.term("is_pinned", filters.is_pinned))
        if filters.priority_ranks:
            must.append(_any([self.term("priority_rank", r) for r in filters.priority_ranks]))
        if filters.due_after is not None:
            must.append(self._due(lower=_ms(filters.due_after)))
        if filters.due_before is not None:
            must.append(self._due(upper=_ms(filters.due_before)))
        if filters.author_id is not None:
            must.append(self.term("author_id", filters.author_id))
        if filters.assignee_id is not None:
            must.append(self.term("assignee_ids", filters.assignee_id))
        return clauses + [(Occur.Must, q) for q in must]

    def _due(self, lower: int | None = None, upper: int | None = None) -> Query:
        """Notes due strictly after ``lower`` or strictly before ``upper`` (undated: never)."""
        return Query.range_query(
            self.schema,
            "due_ms",
            tantivy.FieldType.Integer,
            lower,
            upper,
            include_lower=lower is None,
            include_upper=upper is None,
        )

    def search(self, request: SearchRequest) -> Query:
        """The whole query of a search request."""
        clauses = self.filters(request.workspace_ids, request.filters)
        clauses += self.text(request.query, request.all_words)
        if request.viewer_id is not None:
            mine = self.term("assignee_ids", request.viewer_id)
            clauses.append((Occur.Should, Query.const_score_query(mine, ASSIGNED_SCORE)))
        return Query.boolean_query(clauses)


def boost(*, pinned: bool, updated_ms: int, due_ms: int | None, now_ms: int) -> float:
    """The multiplier of a note's text score, between 1 and ``MAX_BOOST``."""
    factor = PINNED if pinned else 1.0
    age_days = max(0.0, (now_ms - updated_ms) / DAY_MS)
    factor *= 1 + RECENT * math.pow(0.5, age_days / RECENT_HALF_LIFE_DAYS)
    if due_ms is not None and DUE_SOON_DAYS[0] <= (due_ms - now_ms) / DAY_MS <= DUE_SOON_DAYS[1]:
        factor *= 1 + DUE_SOON
    return factor


class TantivyBackend:
    """The embedded engine on one index directory; :meth:`open_writer` makes it the writer."""

    def __init__(self, path: Path, writer_heap_bytes: int = 64_000_000) -> None:
        self.path = path
        self.writer_heap_bytes = writer_heap_bytes
        self.queries = QueryBuilder()
        self._index: tantivy.Index | None = None
        self._writer: tantivy.IndexWriter | None = None
        # Every use of the writer runs on this one thread, in order: an operation whose caller
        # was cancelled still finishes before the next one (tantivy's writer is not shared).
        self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="search-writer")

    async def _write(self, operation: Callable[[], object]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._writer_thread, operation)

    # Opening

    def open(self, *, create: bool = False) -> bool:
        """Open the index (creating it when asked); False while it does not exist yet."""
        if self._index is None:
            if self.path.is_dir() and tantivy.Index.exists(str(self.path)):
                self._index = tantivy.Index.open(str(self.path))
            elif create:
                self.path.mkdir(parents=True, exist_ok=True)
                self._index = tantivy.Index(schema(), str(self.path))
            else:
                return False
            register_analyzers(self._index)
        return True

    @property
    def index(self) -> tantivy.Index:
        """The open index."""
        if self._index is None:
            raise RuntimeError("the search index is not open")
        return self._index

    def open_writer(self) -> None:
        """Become the index's writer (the caller holds the host's writer lock)."""
        self.open(create=True)
        self._writer = self.index.writer(self.writer_heap_bytes, 1)

    async def close(self) -> None:
        """Let merges finish and release tantivy's writer lock."""
        writer, self._writer = self._writer, None
        if writer is not None:
            await self._write(writer.wait_merging_threads)
        self._writer_thread.shutdown(wait=False)

    @property
    def writer(self) -> tantivy.IndexWriter:
        """The writer; only the elected process has one."""
        if self._writer is None:
            raise RuntimeError("this process is not the search index writer")
        return self._writer

    # Reading

    @property
    def is_built(self) -> bool:
        """Whether a complete build has been committed."""
        if not self.open():
            return False
        hits = self.index.searcher().search(self.queries.term("id", BUILT_ID), 1, count=True)
        return _count(hits) > 0

    async def refresh(self) -> None:
        """See the latest commit."""
        if self.open():
            await asyncio.to_thread(self.index.reload)

    async def search(self, request: SearchRequest) -> Results:
        """The requested page of the ranking."""
        if not request.workspace_ids or request.query.is_empty or not self.open():
            return Results([], 0)
        return await asyncio.to_thread(self._search, request)

    def _search(self, request: SearchRequest) -> Results:
        searcher = self.index.searcher()
        query = self.queries.search(request)
        needed = request.offset + request.limit
        candidates = max(2 * needed, MIN_CANDIDATES)
        while True:
            found = searcher.search(query, candidates, count=True)
            ranked = self._rerank(searcher, found.hits, request.now or datetime.now(UTC))
            exhausted = len(found.hits) < candidates or candidates >= MAX_CANDIDATES
            # Notes outside the candidates score at most the last one's text score times the
            # largest boost: the page is exact once its last hit scores above that.
            if exhausted or (
                len(ranked) >= needed and ranked[needed - 1][0] >= found.hits[-1][0] * MAX_BOOST
            ):
                break
            candidates *= 4
        page = []
        for score, _, address in ranked[request.offset : needed]:
            doc = searcher.doc(address)
            page.append(Hit(doc["id"][0], doc["workspace_id"][0], score))
        return Results(page, _count(found))

    @staticmethod
    def _rerank(
        searcher: tantivy.Searcher, hits: list[tuple[float, tantivy.DocAddress]], now: datetime
    ) -> list[tuple[float, int, tantivy.DocAddress]]:
        """(final score, last update, address) of the hits, best first (fast fields only)."""
        addresses = [address for _, address in hits]
        pinned = searcher.fast_field_values("is_pinned", addresses)
        updated = searcher.fast_field_values("updated_ms", addresses)
        due = searcher.fast_field_values("due_ms", addresses)
        now_ms = _ms(now)
        ranked = [
            (
                score
                * boost(
                    pinned=bool(is_pinned),
                    updated_ms=int(updated_ms or 0),
                    due_ms=None if due_ms is None else int(due_ms),
                    now_ms=now_ms,
                ),
                int(updated_ms or 0),
                address,
            )
            for (score, address), is_pinned, updated_ms, due_ms in zip(
                hits, pinned, updated, due, strict=True
            )
        ]
        # Ties (typo-only matches score alike): the most recently updated first.
        ranked.sort(key=lambda r: (-r[0], -r[1], r[2].segment_ord, r[2].doc))
        return ranked

    def _stored(
        self, kind: str, workspace_ids: Sequence[str] | None, field: str
    ) -> list[tuple[str, str, object]]:
        """(id, workspace id, ``field``) of every document of ``kind`` in these workspaces."""
        if not self.open():
            return []
        clauses = [(Occur.Must, self.queries.term("kind", kind))]
        if workspace_ids is not None:
            clauses.append(
                (Occur.Must, Query.term_set_query(schema(), "workspace_id", list(workspace_ids)))
            )
        searcher = self.index.searcher()
        found = searcher.search(Query.boolean_query(clauses), max(searcher.num_docs, 1))
        rows = []
        for _, address in found.hits:
            doc = searcher.doc(address)
            rows.append((doc["id"][0], doc["workspace_id"][0], doc[field][0]))
        return rows

    async def similar_tags(
        self, workspace_id: str, note_id: str, title: str, content: str, neighbours: int = 5
    ) -> dict[str, float]:
        """The tags of the notes of a workspace most like this text, each weighted by the
        share of the neighbours' similarity that carries it (0..1)."""
        if not self.open():
            return {}
        return await asyncio.to_thread(
            self._similar_tags, workspace_id, note_id, title, content, neighbours
        )

    def _similar_tags(
        self, workspace_id: str, note_id: str, title: str, content: str, neighbours: int
    ) -> dict[str, float]:
        like = Query.more_like_this_document_fields_query(
            schema(),
            {"title": [title], "content": [content]},
            min_doc_frequency=1,
            min_term_frequency=1,
            max_query_terms=25,
            min_word_length=3,
        )
        query = Query.boolean_query(
            [
                (Occur.Must, like),
                (Occur.Must, self.queries.term("kind", NOTE)),
                (Occur.Must, self.queries.term("workspace_id", workspace_id)),
                (Occur.MustNot, self.queries.term("id", note_id)),
            ]
        )
        searcher = self.index.searcher()
        hits = searcher.search(query, neighbours).hits
        total = sum(score for score, _ in hits)
        votes: dict[str, float] = {}
        for score, address in hits:
            for tag in searcher.doc(address).get_all("tags"):
                votes[tag] = votes.get(tag, 0.0) + score / total
        return votes

    async def checkpoints(self, workspace_ids: Sequence[str] | None = None) -> dict[str, str]:
        """The event-log position reached per workspace (all when None)."""
        rows = await asyncio.to_thread(self._stored, CHECKPOINT, workspace_ids, "event")
        return {workspace: str(event) for _, workspace, event in rows}

    async def versions(self, workspace_ids: Sequence[str] | None = None) -> dict[str, int]:
        """The indexed version of every note of these workspaces (all when None)."""
        rows = await asyncio.to_thread(self._stored, NOTE, workspace_ids, "version")
        return {note_id: int(str(version)) for note_id, _, version in rows}

    # Writing

    async def apply(self, changes: Changes) -> None:
        """Apply and commit ``changes`` atomically."""
        if changes:
            await self._write(lambda: self._apply(changes))

    def _apply(self, changes: Changes) -> None:
        writer = self.writer
        try:
            for workspace in changes.dropped_workspaces:
                writer.delete_documents_by_term("workspace_id", workspace)
            for note_id in changes.deletions:
                writer.delete_documents_by_term("id", note_id)
            self._add(changes.upserts, replace=True)
            self._set_checkpoints(changes.checkpoints)
            writer.commit()
        except BaseException:
            writer.rollback()
            raise
        self.index.reload()

    def _add(self, notes: Sequence[NoteFields], *, replace: bool) -> None:
        writer = self.writer
        for note in notes:
            if replace:
                writer.delete_documents_by_term("id", note.id)
            writer.add_document(note_document(note))

    def _set_checkpoints(self, checkpoints: Mapping[str, str]) -> None:
        for workspace, event in checkpoints.items():
            self.writer.delete_documents_by_term("id", f"cp:{workspace}")
            self.writer.add_document(_marker(CHECKPOINT, f"cp:{workspace}", workspace, event))

    async def rebuild(
        self, notes: AsyncIterator[Sequence[NoteFields]], checkpoints: Mapping[str, str]
    ) -> int:
        """Replace the whole index in one commit; readers keep the old one until then."""
        writer = self.writer
        count = 0
        try:
            await self._write(writer.delete_all_documents)
            async for batch in notes:
                await self._write(partial(self._add, batch, replace=False))
                count += len(batch)
            await self._write(lambda: self._finish_rebuild(checkpoints))
        except BaseException:
            await self._write(writer.rollback)
            raise
        return count

    def _finish_rebuild(self, checkpoints: Mapping[str, str]) -> None:
        self._set_checkpoints(checkpoints)
        self.writer.add_document(_marker(META, BUILT_ID))
        self.writer.commit()
        self.index.reload()
