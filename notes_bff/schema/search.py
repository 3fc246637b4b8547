"""Full-text search in the schema: ``Query.search`` and its result types (docs/search.md)."""

from __future__ import annotations

import asyncio
from enum import Enum

import strawberry
from beanie import PydanticObjectId

from notes_bff.errors import BadInput, Conflict, NotFound, ServiceUnavailable
from notes_bff.models import Note
from notes_bff.schema.info import Info
from notes_bff.schema.notes import NoteFilter, NoteType, PageInfo, to_note_query
from notes_bff.schema.suggestions import extract, zone_of
from notes_bff.search import service as search_service
from notes_bff.search.extract import Suggestion, SuggestionKind
from notes_bff.search.highlight import highlight
from notes_bff.search.query import ParsedQuery, parse
from notes_bff.services import note_writes
from notes_bff.services.access import (
    searched_workspace_ids,
    visible_note,
)
from notes_bff.services.note_queries import search_filters
from notes_bff.validation import TITLE_LENGTH


@strawberry.enum(description="The text a highlight range points into.")
class HighlightField(Enum):
    """The note field of a highlight."""

    TITLE = "TITLE"
    CONTENT = "CONTENT"


@strawberry.type(
    description=(
        "Where the query matched: `[start, end)` in UTF-16 code units (JavaScript string "
        "indices) of the note's `title` or `content` as returned beside it. Render the text "
        "around it as text, never as HTML."
    )
)
class Highlight:
    """One matched range."""

    field: HighlightField
    start: int
    end: int


@strawberry.type(description="A note that matches a search, with its score and highlights.")
class SearchHit:
    """A ranked note."""

    note: NoteType
    score: float = strawberry.field(
        description="Relevance (higher is better); comparable only within one search."
    )
    highlights: list[Highlight] = strawberry.field(
        description="Matched ranges in the title, then in the content (at most 50 each)."
    )


@strawberry.type
class SearchHitEdge:
    """A hit and its cursor."""

    cursor: str
    node: SearchHit


@strawberry.type(description="A page of search results, best first.")
class SearchConnection:
    """Ranked hits."""

    edges: list[SearchHitEdge]
    nodes: list[SearchHit]
    page_info: PageInfo
    total_count: int = strawberry.field(description="How many notes match in all.")


def _hit(query: ParsedQuery, note: Note, score: float) -> SearchHit:
    ranges = [
        Highlight(field=field, start=start, end=end)
        for field, text in (
            (HighlightField.TITLE, note.title),
            (HighlightField.CONTENT, note.content),
        )
        for start, end in highlight(query, text)
    ]
    return SearchHit(note=NoteType.from_document(note), score=score, highlights=ranges)


@strawberry.type
class SearchQuery:
    """The ``search`` root field (a mixin of ``Query``)."""

    @strawberry.field(
        description=(
            "Notes matching `query` across the viewer's workspaces (or one workspace), ranked: "
            'words in any form ("meetings" finds "meeting"), with typos ("meetng"), the last '
            'word as a prefix while typing, "exact phrases" and -excluded words. `filter` '
            "narrows like on `notes` (its `search` is not allowed here). Pages reach the first "
            "1,000 hits."
        )
    )
    async def search(
        self,
        info: Info,
        query: str,
        workspace_id: strawberry.ID | None = None,
        filter: NoteFilter | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> SearchConnection:
        ctx = info.context
        viewer = ctx.require_viewer()
        parsed = parse("query", query)
        if parsed.is_empty:
            raise BadInput("query", "query must contain at least one word.")
        conditions = to_note_query(filter)
        if conditions.text is not None:
            raise BadInput("filter.search", "Put the words in query; filter.search is for notes.")
        ids = await searched_workspace_ids(ctx, workspace_id)
        service = search_service.active()
        if service is None:
            raise ServiceUnavailable("Search is turned off on this server.")
        page = await service.search(
            parsed,
            viewer_id=str(viewer),
            workspace_ids=[str(i) for i in ids],
            filters=search_filters(conditions),
            scope=workspace_id,
            first=20 if first is None else first,
            after=after,
        )
        notes = await ctx.loaders.note_by_id.load_many(
            [PydanticObjectId(h.note_id) for h in page.hits]
        )
        # A note deleted since the index last heard of it is left out of the page.
        found = [
            (cursor, note, hit.score)
            for cursor, note, hit in zip(page.cursors, notes, page.hits, strict=True)
            if note is not None
        ]
        hits = await asyncio.to_thread(
            lambda: [_hit(parsed, note, score) for _, note, score in found]
        )
        return SearchConnection(
            edges=[
                SearchHitEdge(cursor=c, node=h) for (c, _, _), h in zip(found, hits, strict=True)
            ],
            nodes=hits,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
            total_count=page.total,
        )


@strawberry.type
class AcceptSuggestionPayload:
    """The note after the change, and the note a TASK suggestion created."""

    note: NoteType
    created_note: NoteType | None


async def _accept(
    info: Info, note: Note, found: Suggestion, expected: int
) -> AcceptSuggestionPayload:
    ctx = info.context
    if found.kind is SuggestionKind.TASK:
        assert found.task is not None
        created = await note_writes.create_note(
            ctx,
            str(note.workspace_id),
            {"title": found.task[: TITLE_LENGTH[1]], "due_date": found.due_date},
        )
        return AcceptSuggestionPayload(
            note=NoteType.from_document(note), created_note=NoteType.from_document(created)
        )
    changes: dict[SuggestionKind, dict[str, object]] = {
        SuggestionKind.DUE_DATE: {"due_date": found.due_date},
        SuggestionKind.PRIORITY: {"priority": found.priority},
        SuggestionKind.TAG: {"tags": [*note.tags, found.tag]},
        SuggestionKind.ASSIGNEE: {
            "assignee_ids": [*(str(i) for i in note.assignee_ids), found.assignee_id]
        },
    }
    updated = await note_writes.update_note(ctx, str(note.id), changes[found.kind], expected)
    return AcceptSuggestionPayload(note=NoteType.from_document(updated), created_note=None)


@strawberry.type
class SuggestionMutation:
    """The ``acceptSuggestion`` root field (a mixin of ``Mutation``)."""

    @strawberry.mutation(
        description=(
            "Applies one of `Note.suggestions` (read again from the note as it is now, with the "
            "same `timeZone`): CONFLICT when the note changed since `expectedVersion` or the "
            "suggestion no longer applies. Needs the EDITOR role."
        )
    )
    async def accept_suggestion(
        self,
        info: Info,
        note_id: strawberry.ID,
        suggestion_id: str,
        time_zone: str | None = "UTC",
        expected_version: int | None = None,
    ) -> AcceptSuggestionPayload:
        note = await visible_note(info.context, note_id)
        if note is None:
            raise NotFound("No such note.")
        if expected_version is not None and expected_version != note.version:
            raise Conflict(
                f"The note changed since version {expected_version}; reload and retry.",
                field="expectedVersion",
            )
        found = {s.id: s for s in await extract(info, note, zone_of(time_zone))}
        if suggestion_id not in found:
            raise Conflict(
                "That suggestion no longer applies to the note; reload its suggestions.",
                field="suggestionId",
            )
        return await _accept(info, note, found[suggestion_id], note.version)
