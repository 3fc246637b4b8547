"""Reading notes: filters, stable sort orders and keyset pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from beanie import PydanticObjectId

from notes_bff.models import Note, NotePriority, NoteSummary
from notes_bff.pagination import Page, SortSpec, keyset_page, list_rows
from notes_bff.response_cache import tags as cache_tags
from notes_bff.response_cache.reads import not_cacheable, reading
from notes_bff.search import service as search_service
from notes_bff.search.backend import Filters
from notes_bff.search.query import ParsedQuery, parse
from notes_bff.validation import object_id, page_size, search_pattern, tags


class NoteSort(StrEnum):
    """Orders of a note list; each is total (ties broken by id)."""

    CREATED_AT_DESC = "CREATED_AT_DESC"
    CREATED_AT_ASC = "CREATED_AT_ASC"
    UPDATED_AT_DESC = "UPDATED_AT_DESC"
    DUE_DATE_ASC = "DUE_DATE_ASC"
    PRIORITY_DESC = "PRIORITY_DESC"


SORT_SPECS: dict[NoteSort, SortSpec] = {
    NoteSort.CREATED_AT_DESC: [("created_at", -1), ("_id", -1)],
    NoteSort.CREATED_AT_ASC: [("created_at", 1), ("_id", 1)],
    NoteSort.UPDATED_AT_DESC: [("updated_at", -1), ("_id", -1)],
    NoteSort.DUE_DATE_ASC: [("due_sort", 1), ("_id", 1)],
    NoteSort.PRIORITY_DESC: [("priority_rank", -1), ("created_at", -1), ("_id", -1)],
}


class NoteParts(StrEnum):
    """What a listing reads of each note: every field, or every field but the Markdown
    content (the caller asks for no field that needs it: a page is then ~3x smaller)."""

    FULL = "FULL"
    WITHOUT_CONTENT = "WITHOUT_CONTENT"

    @property
    def rows(self) -> type[Note] | type[NoteSummary]:
        """The model the notes are read as (``NoteSummary``: a projection)."""
        return Note if self is NoteParts.FULL else NoteSummary


Listed = Note | NoteSummary


@dataclass(frozen=True)
class NoteQuery:
    """A validated ``NoteFilter``."""

    tags: list[str] = field(default_factory=list)
    is_pinned: bool | None = None
    priorities: list[NotePriority] = field(default_factory=list)
    due_before: datetime | None = None
    due_after: datetime | None = None
    author_id: PydanticObjectId | None = None
    assignee_id: PydanticObjectId | None = None
    include_archived: bool = False
    # The literal regular expression of `filter.search` (while the search index is not
    # available), and the same text as a query of the search engine.
    search: str | None = None
    text: ParsedQuery | None = None

    @classmethod
    def parse(
        cls,
        *,
        tag_list: list[str] | None = None,
        is_pinned: bool | None = None,
        priorities: list[NotePriority] | None = None,
        due_before: datetime | None = None,
        due_after: datetime | None = None,
        author_id: str | None = None,
        assignee_id: str | None = None,
        include_archived: bool | None = False,
        search: str | None = None,
    ) -> NoteQuery:
        """Validate raw filter values (``BAD_USER_INPUT`` names ``filter.<field>``)."""
        return cls(
            tags=tags("filter.tags", tag_list or []),
            is_pinned=is_pinned,
            priorities=list(dict.fromkeys(priorities or [])),
            due_before=due_before,
            due_after=due_after,
            author_id=object_id("filter.authorId", author_id) if author_id else None,
            assignee_id=object_id("filter.assigneeId", assignee_id) if assignee_id else None,
            include_archived=bool(include_archived),
            search=search_pattern("filter.search", search) if search else None,
            text=parse("filter.search", search) if search else None,
        )


def search_filters(query: NoteQuery) -> Filters:
    """The search engine's form of a filter's conditions (all but the text)."""
    return Filters(
        tags=tuple(query.tags),
        is_pinned=query.is_pinned,
        priority_ranks=tuple(p.rank for p in query.priorities),
        due_before=query.due_before,
        due_after=query.due_after,
        author_id=str(query.author_id) if query.author_id else None,
        assignee_id=str(query.assignee_id) if query.assignee_id else None,
        include_archived=query.include_archived,
    )


# `notes_filter` leaves a text search under this key for `page_of_notes`, which resolves it
# with the search engine (MongoDB refuses the key, should it ever reach it unresolved).
TEXT_SEARCH = "$textSearch"


@dataclass(frozen=True)
class TextSearch:
    """A ``filter.search`` to resolve: its query and the workspaces it may match in."""

    query: NoteQuery
    workspace_ids: tuple[PydanticObjectId, ...]


def notes_filter(workspace_ids: Sequence[PydanticObjectId], query: NoteQuery) -> dict[str, Any]:
    """The MongoDB filter for ``query`` within some workspaces.

    ``is_archived`` is always constrained (``$in`` when archived notes are included) so the
    compound indexes ``(workspace_id, is_archived, <sort>)`` serve every sort order.
    """
    ids = list(dict.fromkeys(workspace_ids))
    flt: dict[str, Any] = {
        "workspace_id": ids[0] if len(ids) == 1 else {"$in": ids},
        "is_archived": {"$in": [False, True]} if query.include_archived else False,
    }
    if query.tags:
        flt["tags"] = {"$all": query.tags}
    if query.is_pinned is not None:
        flt["is_pinned"] = query.is_pinned
    if query.priorities:
        flt["priority"] = {"$in": [p.value for p in query.priorities]}
    due: dict[str, datetime] = {}
    if query.due_before is not None:
        due["$lt"] = query.due_before
    if query.due_after is not None:
        due["$gt"] = query.due_after
        flt["due_date"] = {"$ne": None}
    if due:
        flt["due_sort"] = due
    if query.author_id is not None:
        flt["author_id"] = query.author_id
    if query.assignee_id is not None:
        flt["assignee_ids"] = query.assignee_id
    if query.search:
        flt[TEXT_SEARCH] = TextSearch(query, tuple(ids))
    return flt


async def resolve_text_search(flt: dict[str, Any]) -> dict[str, Any]:
    """``flt`` with its text search resolved: the ids of the engine's best matches, or the
    literal case-insensitive regular expression while the engine is off or not yet built."""
    search = flt.get(TEXT_SEARCH)
    if search is None:
        return flt
    resolved = {k: v for k, v in flt.items() if k != TEXT_SEARCH}
    not_cacheable()  # the search index follows writes a moment later than their events
    service = search_service.active()
    ids = None
    if service is not None and search.query.text is not None:
        ids = await service.matching_ids(
            search.query.text,
            viewer_id=None,
            workspace_ids=[str(w) for w in search.workspace_ids],
            filters=search_filters(search.query),
        )
    if ids is None:
        pattern = {"$regex": search.query.search, "$options": "i"}
        resolved["$or"] = [{"title": pattern}, {"content": pattern}, {"tags": pattern}]
    else:
        resolved["_id"] = {"$in": [PydanticObjectId(i) for i in ids]}
    return resolved


_INDEX_BY_SORT_KEY = {
    "created_at": "ws_created",
    "updated_at": "ws_updated",
    "due_sort": "ws_due",
    "priority_rank": "ws_priority",
}


def index_for(flt: dict[str, Any], spec: SortSpec) -> str:
    """The index built for this query shape (see the indexes of ``models.note.Note``).

    Sent as the query's hint where the process sends hints (``models.index_hints``): on
    MongoDB the plan is then the one the explain test checks, whichever workspace's query
    filled the plan cache (docs/indexes.md gives the evidence per shape).
    """
    if "tags" in flt:
        return "ws_tags"
    if "author_id" in flt:
        return "ws_author"
    if "assignee_ids" in flt:
        return "assignee_due"
    if "is_pinned" in flt and spec[0][0] == "updated_at":
        return "ws_pinned"
    return _INDEX_BY_SORT_KEY[spec[0][0]]


async def reading_notes_of(flt: dict[str, Any]) -> None:
    """Tell the response cache which workspaces' notes a query of ``flt`` reads."""
    ids = flt.get("workspace_id")
    ids = ids.get("$in", []) if isinstance(ids, dict) else [ids] if ids is not None else []
    await reading(*(cache_tags.workspace_notes(i) for i in ids))


async def page_of_notes(
    flt: dict[str, Any], sort: NoteSort, first: int, after: str | None, parts: NoteParts
) -> Page[Listed]:
    """The ``first`` notes matching ``flt`` after the ``after`` cursor, in ``sort`` order."""
    await reading_notes_of(flt)
    flt = await resolve_text_search(flt)
    spec = SORT_SPECS[sort]
    rows: type[Listed] = parts.rows
    return await keyset_page(Note, rows, flt, sort.value, spec, first, after, index_for(flt, spec))


DEFAULT_PAGE = 20


async def note_page(
    workspace_ids: Sequence[PydanticObjectId],
    query: NoteQuery,
    sort: NoteSort | None,
    first: int | None,
    after: str | None,
    parts: NoteParts = NoteParts.FULL,
) -> Page[Listed]:
    """The one note listing: a page of the notes matching ``query`` in these workspaces
    (none: an always-empty filter keeps the page shape and cursors), newest first and 20
    long unless told otherwise; ``parts`` of each note."""
    flt = notes_filter(workspace_ids, query) if workspace_ids else {"_id": {"$in": []}}
    size = DEFAULT_PAGE if first is None else first
    return await page_of_notes(flt, sort or NoteSort.CREATED_AT_DESC, size, after, parts)


async def top_notes(
    flt: dict[str, Any], sort: SortSpec, first: int, parts: NoteParts = NoteParts.FULL
) -> list[Listed]:
    """The first ``first`` notes of ``flt`` in order ``sort`` (dashboard sections)."""
    limit = page_size("first", first)
    await reading_notes_of(flt)
    rows: type[Listed] = parts.rows
    return await list_rows(Note, rows, flt, sort, limit, index_for(flt, sort))
