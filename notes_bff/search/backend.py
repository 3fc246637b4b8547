"""The interface between the search service and an engine, and the values that cross it.

The embedded engine (:mod:`notes_bff.search.engine`, tantivy) implements it on every host; a
search server (OpenSearch, Meilisearch, Atlas Search) would implement the same protocol, see
``docs/search.md``. Everything here is plain data: no request, no GraphQL, no engine type.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from notes_bff.models import Note
from notes_bff.search.query import ParsedQuery


@dataclass(frozen=True)
class NoteFields:
    """What the index holds of one note."""

    id: str
    workspace_id: str
    title: str
    content: str
    tags: tuple[str, ...]
    is_pinned: bool
    priority_rank: int
    due_date: datetime | None
    is_archived: bool
    author_id: str
    assignee_ids: tuple[str, ...]
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, note: Note) -> NoteFields:
        """The indexed fields of a stored note."""
        return cls(
            id=str(note.id),
            workspace_id=str(note.workspace_id),
            title=note.title,
            content=note.content,
            tags=tuple(note.tags),
            is_pinned=note.is_pinned,
            priority_rank=note.priority_rank,
            due_date=note.due_date,
            is_archived=note.is_archived,
            author_id=str(note.author_id),
            assignee_ids=tuple(str(i) for i in note.assignee_ids),
            updated_at=note.updated_at,
            version=note.version,
        )


@dataclass(frozen=True)
class Filters:
    """The ``NoteFilter`` conditions, all of which a hit must meet."""

    tags: tuple[str, ...] = ()
    is_pinned: bool | None = None
    priority_ranks: tuple[int, ...] = ()
    due_before: datetime | None = None
    due_after: datetime | None = None
    author_id: str | None = None
    assignee_id: str | None = None
    include_archived: bool = False


@dataclass(frozen=True)
class SearchRequest:
    """One search: the text, whose notes may match, and which page of the ranking."""

    query: ParsedQuery
    # Who searches (their assigned notes rank a little higher); None when ranking is unused.
    viewer_id: str | None
    # The workspaces the viewer belongs to now (or the one asked for): the engine matches
    # nothing outside them.
    workspace_ids: tuple[str, ...]
    filters: Filters = field(default_factory=Filters)
    # Every word must match (filtering a list); else at least half of them, notes with all
    # of them first (ranked search).
    all_words: bool = False
    offset: int = 0
    limit: int = 20
    now: datetime | None = None


@dataclass(frozen=True)
class Hit:
    """A matching note and its final score."""

    note_id: str
    workspace_id: str
    score: float


@dataclass(frozen=True)
class Results:
    """A page of hits, best first, and how many notes match in all."""

    hits: list[Hit]
    total: int


@dataclass(frozen=True)
class Changes:
    """One atomic step of the index: notes to (re)index or remove, workspaces to drop, and the
    event-log positions (per workspace) these changes bring the index to."""

    upserts: Sequence[NoteFields] = ()
    deletions: Sequence[str] = ()
    dropped_workspaces: Sequence[str] = ()
    checkpoints: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.upserts or self.deletions or self.dropped_workspaces or self.checkpoints)


class SearchBackend(Protocol):
    """A full-text engine behind the search service."""

    async def search(self, request: SearchRequest) -> Results:
        """The requested page of the ranking (only notes of ``request.workspace_ids``)."""
        ...

    async def checkpoints(self, workspace_ids: Sequence[str] | None = None) -> dict[str, str]:
        """The event-log position the index has reached, per workspace (all when None)."""
        ...

    async def versions(self, workspace_ids: Sequence[str] | None = None) -> dict[str, int]:
        """The indexed version of every note of these workspaces (all when None)."""
        ...

    async def refresh(self) -> None:
        """See the latest committed state (readers)."""
        ...

    async def similar_tags(
        self, workspace_id: str, note_id: str, title: str, content: str
    ) -> dict[str, float]:
        """Tags of the workspace's notes most like this text, weighted 0..1."""
        ...

    async def apply(self, changes: Changes) -> None:
        """Apply and commit ``changes`` atomically (the writer)."""
        ...

    async def rebuild(
        self, notes: AsyncIterator[Sequence[NoteFields]], checkpoints: Mapping[str, str]
    ) -> int:
        """Replace the whole index with ``notes``, in one commit; returns how many (the
        writer). Readers see the old index until the new one is complete."""
        ...

    @property
    def is_built(self) -> bool:
        """Whether a complete build has been committed."""
        ...
