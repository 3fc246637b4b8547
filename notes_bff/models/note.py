"""Notes."""

from datetime import UTC, datetime
from enum import StrEnum

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from notes_bff.models.clock import now
from notes_bff.models.read_routing import RoutedReads

# Notes without a due date sort after every dated note (DUE_DATE_ASC) through this key.
NO_DUE_DATE = datetime(9999, 12, 31, tzinfo=UTC)


class NotePriority(StrEnum):
    """How urgent a note is."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    URGENT = "URGENT"

    @property
    def rank(self) -> int:
        """0 (LOW) to 3 (URGENT), stored beside the name so that sorting is numeric."""
        return list(NotePriority).index(self)


def _ws_index(name: str, *keys: tuple[str, int]) -> IndexModel:
    return IndexModel([("workspace_id", ASCENDING), *keys], name=name)


class NoteBase(BaseModel):
    """The stored fields of a note but its id and its Markdown content."""

    workspace_id: PydanticObjectId
    author_id: PydanticObjectId
    title: str
    tags: list[str] = Field(default_factory=list)
    is_pinned: bool = False
    priority: NotePriority = NotePriority.MEDIUM
    priority_rank: int = 1
    due_date: datetime | None = None
    due_sort: datetime = NO_DUE_DATE
    is_archived: bool = False
    assignee_ids: list[PydanticObjectId] = Field(default_factory=list)
    mention_ids: list[PydanticObjectId] = Field(default_factory=list)
    last_edited_by_id: PydanticObjectId | None = None
    version: int = 1
    # The due date a DUE_SOON notification was sent for (a new due date notifies again).
    due_soon_sent_for: datetime | None = None
    # Set once the note has a collaborative document (notes_bff/collab): the position in its
    # update log that the content covers (a sortable stream id); content then changes through
    # that document only. None for a note never edited collaboratively.
    collab_mark: str | None = None
    created_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)


class NoteSummary(NoteBase):
    """A note as a list reads it when no field asks for its content (the projection of
    ``Note.find(..., projection_model=NoteSummary)``): its content is not fetched."""

    id: PydanticObjectId = Field(alias="_id")


class Note(RoutedReads, Document, NoteBase):
    """A Markdown note in a workspace."""

    content: str = ""

    class Settings:
        name = "notes"
        # The scaling guide's four compound indexes (owner/workspace first, then creation
        # date, tags, pin+priority, due date), led by the workspace because workspaces are
        # shared; every list query filters on workspace_id (one id or an $in of the viewer's).
        indexes = [
            _ws_index("ws_created", ("is_archived", 1), ("created_at", -1), ("_id", -1)),
            _ws_index("ws_updated", ("is_archived", 1), ("updated_at", -1), ("_id", -1)),
            _ws_index("ws_due", ("is_archived", 1), ("due_sort", 1), ("_id", 1)),
            _ws_index(
                "ws_priority",
                ("is_archived", 1),
                ("priority_rank", -1),
                ("created_at", -1),
                ("_id", -1),
            ),
            _ws_index("ws_tags", ("tags", 1), ("created_at", -1)),
            _ws_index("ws_pinned", ("is_pinned", 1), ("is_archived", 1), ("updated_at", -1)),
            _ws_index("ws_author", ("author_id", 1), ("created_at", -1)),
            IndexModel(
                [("assignee_ids", ASCENDING), ("is_archived", ASCENDING), ("due_sort", ASCENDING)],
                name="assignee_due",
            ),
            IndexModel([("updated_at", DESCENDING)], name="updated"),
            # A user's notes and mentions in every workspace: data export and erasure.
            IndexModel([("author_id", ASCENDING)], name="author"),
            IndexModel([("mention_ids", ASCENDING)], name="mentions"),
            IndexModel([("due_sort", ASCENDING), ("is_archived", ASCENDING)], name="due_scan"),
        ]

    @staticmethod
    def priority_fields(priority: NotePriority) -> dict[str, object]:
        """The stored fields of a priority: its name and its sort rank."""
        return {"priority": priority.value, "priority_rank": priority.rank}

    @staticmethod
    def due_fields(due: datetime | None) -> dict[str, object]:
        """The stored fields of a due date: the date and its sort key (undated sort last)."""
        return {"due_date": due, "due_sort": due or NO_DUE_DATE}

    def set_priority(self, priority: NotePriority) -> None:
        """Set the priority and its sort rank together."""
        for name, value in self.priority_fields(priority).items():
            setattr(self, name, value)

    def set_due_date(self, due: datetime | None) -> None:
        """Set the due date and its sort key together."""
        for name, value in self.due_fields(due).items():
            setattr(self, name, value)
