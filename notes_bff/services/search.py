"""Ranked full-text search over the notes the viewer may read (docs/search.md)."""

from __future__ import annotations

from dataclasses import dataclass

from beanie import PydanticObjectId

from notes_bff.errors import BadInput, ServiceUnavailable
from notes_bff.models import Note
from notes_bff.response_cache.reads import not_cacheable
from notes_bff.search import service as search_service
from notes_bff.search.query import ParsedQuery, parse
from notes_bff.services.access import searched_workspace_ids
from notes_bff.services.actor import Actor
from notes_bff.services.note_queries import DEFAULT_PAGE, NoteQuery, search_filters


@dataclass(frozen=True)
class Hit:
    """A ranked note and its cursor."""

    cursor: str
    note: Note
    score: float


@dataclass(frozen=True)
class SearchPage:
    """A page of hits, best first, and the parsed query they matched."""

    query: ParsedQuery
    hits: list[Hit]
    has_next_page: bool
    end_cursor: str | None
    total: int


async def search_notes(
    actor: Actor,
    raw_query: str,
    workspace_id: str | None,
    conditions: NoteQuery,
    first: int | None,
    after: str | None,
) -> SearchPage:
    """Notes matching ``raw_query`` across the viewer's workspaces (or one), narrowed by
    ``conditions`` (whose text search is refused: the words go in the query)."""
    viewer = actor.require_viewer()
    not_cacheable()  # the index follows writes a moment after their events
    parsed = parse("query", raw_query)
    if parsed.is_empty:
        raise BadInput("query", "query must contain at least one word.")
    if conditions.text is not None:
        raise BadInput("filter.search", "Put the words in query; filter.search is for notes.")
    ids = await searched_workspace_ids(actor, workspace_id)
    service = search_service.active()
    if service is None:
        raise ServiceUnavailable("Search is turned off on this server.")
    page = await service.search(
        parsed,
        viewer_id=str(viewer),
        workspace_ids=[str(i) for i in ids],
        filters=search_filters(conditions),
        scope=workspace_id,
        first=DEFAULT_PAGE if first is None else first,
        after=after,
    )
    notes = await actor.loaders.note_by_id.load_many(
        [PydanticObjectId(h.note_id) for h in page.hits]
    )
    # A note deleted since the index last heard of it is left out of the page.
    hits = [
        Hit(cursor, note, hit.score)
        for cursor, note, hit in zip(page.cursors, notes, page.hits, strict=True)
        if note is not None
    ]
    return SearchPage(
        query=parsed,
        hits=hits,
        has_next_page=page.has_next_page,
        end_cursor=page.cursors[-1] if page.cursors else None,
        total=page.total,
    )
