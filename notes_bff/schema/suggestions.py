"""``Note.suggestions``: what the note's text suggests (docs/search.md); never applied until a
user accepts one with ``acceptSuggestion``."""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import Enum
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import strawberry
from beanie import PydanticObjectId

from notes_bff.errors import BadInput
from notes_bff.models import Note
from notes_bff.schema.enums import NotePriority
from notes_bff.schema.info import Info
from notes_bff.schema.users import UserType, load_user
from notes_bff.search import service as search_service
from notes_bff.search.extract import Member, NoteText, Suggestion, suggestions


@strawberry.enum(description="What accepting a suggestion does.")
class SuggestionKind(Enum):
    """The kinds of suggestion."""

    DUE_DATE = "DUE_DATE"
    TASK = "TASK"
    PRIORITY = "PRIORITY"
    ASSIGNEE = "ASSIGNEE"
    TAG = "TAG"


@strawberry.enum(description="The note text a suggestion was read from.")
class SuggestionField(Enum):
    """A note field."""

    TITLE = "TITLE"
    CONTENT = "CONTENT"


@strawberry.type(
    description=(
        "A change the note's text suggests. DUE_DATE sets `dueDate`, PRIORITY `priority`, "
        "ASSIGNEE adds `assignee`, TAG adds `tag`, TASK creates a note titled `task`. The "
        "span (`field`, `[start, end)` in UTF-16 code units, `text`) is where it was read; "
        "tags suggested by similar notes have none."
    )
)
class NoteSuggestion:
    """One suggestion."""

    id: str = strawberry.field(description="Pass it to acceptSuggestion.")
    kind: SuggestionKind
    confidence: float = strawberry.field(description="0 to 1: how sure the rule that found it is.")
    field: SuggestionField | None
    start: int | None
    end: int | None
    text: str | None
    due_date: datetime | None
    priority: NotePriority | None
    tag: str | None
    task: str | None
    assignee_id: strawberry.Private[str | None]

    @strawberry.field
    async def assignee(self, info: Info) -> UserType | None:
        if self.assignee_id is None:
            return None
        return await load_user(info, PydanticObjectId(self.assignee_id))

    @classmethod
    def of(cls, found: Suggestion) -> NoteSuggestion:
        """The GraphQL form of an extracted suggestion."""
        return cls(
            id=found.id,
            kind=SuggestionKind(found.kind.value),
            confidence=found.confidence,
            field=SuggestionField(found.field) if found.field else None,
            start=found.start,
            end=found.end,
            text=found.text,
            due_date=found.due_date,
            priority=NotePriority(found.priority.value) if found.priority else None,
            tag=found.tag,
            task=found.task,
            assignee_id=found.assignee_id,
        )


def zone_of(name: str | None) -> ZoneInfo:
    """An IANA time zone (``BAD_USER_INPUT`` on ``timeZone`` when unknown)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadInput("timeZone", "timeZone is not an IANA time zone name.") from exc


async def extract(info: Info, note: Note, zone: ZoneInfo) -> list[Suggestion]:
    """The suggestions of a stored note, for a user in ``zone``."""
    loaders = info.context.loaders
    workspace = await loaders.workspace_by_id.load_document(note.workspace_id)
    members = await loaders.user_by_id.load_documents(
        [m.user_id for m in workspace.members] if workspace else []
    )
    tag_counts = await loaders.tag_counts_by_workspace.load(note.workspace_id)
    service = search_service.active()
    similar = (
        await service.backend.similar_tags(
            str(note.workspace_id), str(note.id), note.title, note.content
        )
        if service is not None
        else {}
    )
    text = NoteText(
        title=note.title,
        content=note.content,
        written_at=note.updated_at,
        zone=zone,
        due_date=note.due_date,
        priority=note.priority,
        tags=note.tags,
        assignee_ids=[str(i) for i in note.assignee_ids],
        members=[Member(str(u.id), u.name, u.email) for u in members],
        workspace_tags=[tag for tag, _ in tag_counts],
        similar_tags=similar,
    )
    return await asyncio.to_thread(suggestions, text)


class HasNote(Protocol):
    """A type that wraps a stored note (``NoteType``)."""

    doc: Note


async def note_suggestions(
    root: HasNote, info: Info, time_zone: str | None = "UTC"
) -> list[NoteSuggestion]:
    """``Note.suggestions``."""
    found = await extract(info, root.doc, zone_of(time_zone))
    return [NoteSuggestion.of(s) for s in found]


SUGGESTIONS_FIELD = strawberry.field(
    resolver=note_suggestions,
    description=(
        "Due dates, tasks, priorities, assignees (@mentions of members) and tags the text "
        "suggests, most certain rules only. Relative dates resolve against the note's last "
        "edit in `timeZone` (an IANA name such as Europe/Paris; the browser's "
        "Intl.DateTimeFormat().resolvedOptions().timeZone), at the end of the day unless a "
        "time is written."
    ),
)
