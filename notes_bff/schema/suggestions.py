"""``Note.suggestions``: what the note's text suggests (docs/search.md); never applied until a
user accepts one with ``acceptSuggestion``."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Protocol

import strawberry
from beanie import PydanticObjectId

from notes_bff.models import Note
from notes_bff.schema.enums import NotePriority
from notes_bff.schema.info import Info
from notes_bff.schema.users import UserType, load_user
from notes_bff.search.extract import Suggestion
from notes_bff.services.suggestions import suggestions_of, zone_for


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


class HasNote(Protocol):
    """A type that wraps a stored note (``NoteType``)."""

    async def stored(self, info: Info) -> Note:
        """The whole note."""


async def note_suggestions(
    root: HasNote, info: Info, time_zone: str | None = "UTC"
) -> list[NoteSuggestion]:
    """``Note.suggestions``."""
    zone = await zone_for(info.context.actor, time_zone)
    found = await suggestions_of(info.context.actor, await root.stored(info), zone)
    return [NoteSuggestion.of(s) for s in found]


SUGGESTIONS_FIELD = strawberry.field(
    resolver=note_suggestions,
    description=(
        "Due dates, tasks, priorities, assignees (@mentions of members) and tags the text "
        "suggests, most certain rules only. Relative dates resolve against the note's last "
        "edit in `timeZone` (an IANA name such as Europe/Paris; the browser's "
        "Intl.DateTimeFormat().resolvedOptions().timeZone; null: the viewer's profile time "
        "zone), at the end of the day unless a time is written."
    ),
)
