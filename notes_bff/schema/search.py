"""Full-text search in the schema: ``Query.search`` and its result types (docs/search.md)."""

from __future__ import annotations

import asyncio
from enum import Enum

import strawberry

from notes_bff.models import Note
from notes_bff.schema.info import Info
from notes_bff.schema.notes import NoteFilter, NoteType, to_note_query
from notes_bff.schema.pagination import PageInfo
from notes_bff.search.highlight import highlight
from notes_bff.search.query import ParsedQuery
from notes_bff.services.search import search_notes
from notes_bff.services.suggestions import accept_suggestion, zone_for


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
        page = await search_notes(
            info.context.actor, query, workspace_id, to_note_query(filter), first, after
        )
        nodes = await asyncio.to_thread(
            lambda: [_hit(page.query, hit.note, hit.score) for hit in page.hits]
        )
        return SearchConnection(
            edges=[
                SearchHitEdge(cursor=hit.cursor, node=node)
                for hit, node in zip(page.hits, nodes, strict=True)
            ],
            nodes=nodes,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
            total_count=page.total,
        )


@strawberry.type
class AcceptSuggestionPayload:
    """The note after the change, and the note a TASK suggestion created."""

    note: NoteType
    created_note: NoteType | None


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
        note, created = await accept_suggestion(
            info.context.actor,
            note_id,
            suggestion_id,
            await zone_for(info.context.actor, time_zone),
            expected_version,
        )
        return AcceptSuggestionPayload(
            note=NoteType.from_document(note),
            created_note=NoteType.from_document(created) if created else None,
        )
