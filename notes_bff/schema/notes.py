"""The notes domain: the Note type, its connection and inputs, and the notes root fields."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Iterator
from datetime import datetime
from weakref import WeakKeyDictionary

import strawberry
from beanie import PydanticObjectId
from graphql import FieldNode
from strawberry.types.nodes import SelectedField, Selection

from notes_bff.markdown import renderer_for
from notes_bff.models import Note as NoteDoc
from notes_bff.models import NoteSummary
from notes_bff.pagination import Page
from notes_bff.schema.enums import NotePriority, NoteSort
from notes_bff.schema.info import Info
from notes_bff.schema.pagination import Connection
from notes_bff.schema.suggestions import SUGGESTIONS_FIELD, NoteSuggestion
from notes_bff.schema.users import UserType, load_user, load_users
from notes_bff.schema.workspaces import WorkspaceType
from notes_bff.services import note_writes
from notes_bff.services.access import searched_workspace_ids, visible_note
from notes_bff.services.note_queries import Listed, NoteParts, NoteQuery, note_page
from notes_bff.services.note_writes import NoteChanges
from notes_bff.validation import bounded_int

EXCERPT_MAX = 2000
# The fields of Note that need its Markdown content.
CONTENT_FIELDS = frozenset({"content", "contentHtml", "excerpt", "suggestions"})


def _field_names(selections: Iterable[Selection]) -> Iterator[str]:
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection.name
        yield from _field_names(selection.selections)


# Per field node of a parsed document (documents are cached, and a node's selections and its
# document's fragments never change): what its note list reads.
_PARTS: WeakKeyDictionary[FieldNode, NoteParts] = WeakKeyDictionary()


def note_parts(info: Info) -> NoteParts:
    """What a note list must read for the fields selected below it: the content only when a
    field of that name is selected anywhere below (fragments included), so a field that
    needs the content never meets a note read without it. Found once per field node (the
    names do not depend on variables)."""
    nodes = info._raw_info.field_nodes
    parts = _PARTS.get(nodes[0]) if len(nodes) == 1 else None
    if parts is None:
        wanted = CONTENT_FIELDS.intersection(_field_names(info.selected_fields))
        parts = NoteParts.FULL if wanted else NoteParts.WITHOUT_CONTENT
        if len(nodes) == 1:
            _PARTS[nodes[0]] = parts
    return parts


async def _content(root: NoteType, info: Info) -> str:
    return (await root.stored(info)).content


@strawberry.type(name="Note")
class NoteType:
    """A Markdown note in a workspace."""

    id: strawberry.ID
    title: str
    content: str = strawberry.field(resolver=_content, description="Markdown source, as written.")
    tags: list[str]
    is_pinned: bool
    priority: NotePriority
    due_date: datetime | None
    is_archived: bool
    version: int = strawberry.field(
        description="Increments on every change; used for optimistic concurrency."
    )
    created_at: datetime
    updated_at: datetime
    doc: strawberry.Private[Listed]
    suggestions: list[NoteSuggestion] = SUGGESTIONS_FIELD

    @classmethod
    def from_document(cls, doc: NoteDoc | NoteSummary) -> NoteType:
        """Wrap a stored note, read whole or without its content (``NoteSummary``)."""
        return cls(
            id=strawberry.ID(str(doc.id)),
            title=doc.title,
            tags=doc.tags,
            is_pinned=doc.is_pinned,
            priority=doc.priority,
            due_date=doc.due_date,
            is_archived=doc.is_archived,
            version=doc.version,
            created_at=doc.created_at,
            updated_at=doc.updated_at,
            doc=doc,
        )

    async def stored(self, info: Info) -> NoteDoc:
        """The whole note (read by id if this one was listed without its content)."""
        if isinstance(self.doc, NoteDoc):
            return self.doc
        doc = await info.context.loaders.note_by_id.load_document(PydanticObjectId(self.id))
        if doc is None:
            raise LookupError("the note is gone")
        return doc

    @strawberry.field(graphql_type=WorkspaceType)
    def workspace(self, info: Info) -> Awaitable[WorkspaceType]:
        return info.context.loaders.workspace_by_id.view_then(
            self.doc.workspace_id, WorkspaceType.from_document, "the note's workspace is gone"
        )

    @strawberry.field(graphql_type=UserType)
    def author(self, info: Info) -> Awaitable[UserType]:
        return load_user(info, self.doc.author_id)

    @strawberry.field(
        description="Content rendered from Markdown to HTML and sanitized against XSS."
    )
    async def content_html(self, info: Info) -> str:
        content = (await self.stored(info)).content
        return (await renderer_for(info.context.settings).render(content)).html

    @strawberry.field(description="Plain-text excerpt of the content, at most `length` characters.")
    async def excerpt(self, info: Info, length: int | None = 160) -> str:
        length = bounded_int("length", 160 if length is None else length, 1, EXCERPT_MAX)
        content = (await self.stored(info)).content
        rendered = await renderer_for(info.context.settings).render(content)
        return rendered.excerpt(length)

    @strawberry.field(graphql_type=list[UserType])
    def assignees(self, info: Info) -> Awaitable[list[UserType]]:
        return load_users(info, self.doc.assignee_ids)

    @strawberry.field(graphql_type=list[UserType])
    def mentions(self, info: Info) -> Awaitable[list[UserType]]:
        return load_users(info, self.doc.mention_ids)

    @strawberry.field
    async def last_edited_by(self, info: Info) -> UserType | None:
        if self.doc.last_edited_by_id is None:
            return None
        return await load_user(info, self.doc.last_edited_by_id)


@strawberry.type
class NoteConnection(Connection[NoteType]):
    """A page of notes."""

    @classmethod
    def from_page(cls, page: Page[Listed]) -> NoteConnection:
        """Wrap a keyset page."""
        return cls.wrap(page, NoteType.from_document)


@strawberry.input
class NoteFilter:
    """Which notes to list; every given condition must hold."""

    tags: list[str] | None = strawberry.field(
        default=None, description="Notes carrying every one of these tags."
    )
    is_pinned: bool | None = None
    priorities: list[NotePriority] | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    author_id: strawberry.ID | None = None
    assignee_id: strawberry.ID | None = None
    include_archived: bool | None = False
    search: str | None = strawberry.field(
        default=None, description="Case-insensitive text match on title, content and tags."
    )


def to_note_query(flt: NoteFilter | None) -> NoteQuery:
    """Validate a ``NoteFilter`` (None means no conditions)."""
    if flt is None:
        return NoteQuery()
    return NoteQuery.parse(
        tag_list=flt.tags,
        is_pinned=flt.is_pinned,
        priorities=flt.priorities,
        due_before=flt.due_before,
        due_after=flt.due_after,
        author_id=flt.author_id,
        assignee_id=flt.assignee_id,
        include_archived=flt.include_archived,
        search=flt.search,
    )


@strawberry.input
class CreateNoteInput:
    """A new note."""

    workspace_id: strawberry.ID
    title: str
    content: str | None = ""
    tags: list[str] | None = strawberry.field(default_factory=list)
    is_pinned: bool | None = False
    priority: NotePriority | None = NotePriority.MEDIUM
    due_date: datetime | None = None
    assignee_ids: list[strawberry.ID] | None = strawberry.field(default_factory=list)
    mention_ids: list[strawberry.ID] | None = strawberry.field(default_factory=list)


@strawberry.input(
    description="Only the fields given are changed. `dueDate: null` clears the due date."
)
class UpdateNoteInput:
    """Changes to a note."""

    title: str | None = strawberry.UNSET
    content: str | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    is_pinned: bool | None = strawberry.UNSET
    priority: NotePriority | None = strawberry.UNSET
    due_date: datetime | None = strawberry.UNSET
    is_archived: bool | None = strawberry.UNSET
    assignee_ids: list[strawberry.ID] | None = strawberry.UNSET
    mention_ids: list[strawberry.ID] | None = strawberry.UNSET


def note_changes(value: CreateNoteInput | UpdateNoteInput) -> NoteChanges:
    """The changes an input carries (the fields it leaves out are kept)."""
    given = {
        name: getattr(value, name)
        for name in value.__dataclass_fields__
        if name != "workspace_id" and getattr(value, name) is not strawberry.UNSET
    }
    return NoteChanges(**given)


@strawberry.type
class BulkFailure:
    """Why one id of a bulk mutation was not changed."""

    id: strawberry.ID
    code: str
    message: str


@strawberry.type
class BulkResult:
    """What a bulk mutation did, id by id."""

    succeeded_ids: list[strawberry.ID]
    failures: list[BulkFailure]


def _bulk(outcome: note_writes.BulkOutcome) -> BulkResult:
    return BulkResult(
        succeeded_ids=[strawberry.ID(str(i)) for i in outcome.succeeded],
        failures=[
            BulkFailure(id=strawberry.ID(i), code=e.code, message=e.message)
            for i, e in outcome.failures
        ],
    )


@strawberry.type
class NotesQuery:
    """The notes root fields (a part of ``Query``)."""

    @strawberry.field(description="Null when it does not exist or the viewer cannot see it.")
    async def note(self, info: Info, id: strawberry.ID) -> NoteType | None:
        doc = await visible_note(info.context.actor, id)
        return NoteType.from_document(doc) if doc else None

    @strawberry.field(
        description=(
            "Notes across the viewer's workspaces, or one workspace when workspaceId is given."
        )
    )
    async def notes(
        self,
        info: Info,
        workspace_id: strawberry.ID | None = None,
        filter: NoteFilter | None = None,
        sort: NoteSort | None = NoteSort.CREATED_AT_DESC,
        first: int | None = 20,
        after: str | None = None,
    ) -> NoteConnection:
        actor = info.context.actor
        actor.require_viewer()
        query = to_note_query(filter)
        ids = await searched_workspace_ids(actor, workspace_id)
        page = await note_page(ids, query, sort, first, after, note_parts(info))
        return NoteConnection.from_page(page)


@strawberry.type
class NotesMutation:
    """The notes root fields (a part of ``Mutation``)."""

    @strawberry.mutation
    async def create_note(self, info: Info, input: CreateNoteInput) -> NoteType:
        doc = await note_writes.create_note(
            info.context.actor, str(input.workspace_id), note_changes(input)
        )
        return NoteType.from_document(doc)

    @strawberry.mutation(
        description=(
            "Fails with CONFLICT when expectedVersion is given and differs from the stored version."
        )
    )
    async def update_note(
        self,
        info: Info,
        id: strawberry.ID,
        input: UpdateNoteInput,
        expected_version: int | None = None,
    ) -> NoteType:
        doc = await note_writes.update_note(
            info.context.actor, id, note_changes(input), expected_version
        )
        return NoteType.from_document(doc)

    @strawberry.mutation
    async def delete_note(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        return strawberry.ID(str(await note_writes.delete_note(info.context.actor, id)))

    @strawberry.mutation
    async def bulk_update_notes(
        self,
        info: Info,
        ids: list[strawberry.ID],
        input: UpdateNoteInput,
    ) -> BulkResult:
        outcome = await note_writes.bulk_update_notes(info.context.actor, ids, note_changes(input))
        return _bulk(outcome)

    @strawberry.mutation
    async def bulk_delete_notes(self, info: Info, ids: list[strawberry.ID]) -> BulkResult:
        return _bulk(await note_writes.bulk_delete_notes(info.context.actor, ids))
