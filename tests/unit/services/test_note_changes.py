"""Note changes as a client sends them: each field validated and normalized, null refused
except for the due date, sort keys stored beside what they sort, errors naming the contract's
field, fields left out untouched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from beanie import PydanticObjectId

from notes_bff.errors import BadInput
from notes_bff.models import NotePriority
from notes_bff.models.note import NO_DUE_DATE
from notes_bff.services.note_writes import NoteChanges, validate_changes

ID = "65a1b2c3d4e5f60718293a4b"


def test_fields_left_out_are_not_changed() -> None:
    assert validate_changes(NoteChanges()) == {}
    assert validate_changes(NoteChanges(title="Plan")) == {"title": "Plan"}


def test_each_field_is_normalized() -> None:
    changes = validate_changes(
        NoteChanges(
            title="  Weekly \t plan\n",
            content="line one\r\nline two\x00",
            tags=["Work", "work", " Home "],
            is_pinned=True,
            is_archived=False,
            assignee_ids=[ID, ID],
            mention_ids=[],
        )
    )
    assert changes == {
        "title": "Weekly plan",
        "content": "line one\nline two",
        "tags": ["work", "home"],
        "is_pinned": True,
        "is_archived": False,
        "assignee_ids": [PydanticObjectId(ID)],
        "mention_ids": [],
    }


@pytest.mark.parametrize(
    ("priority", "rank"),
    [
        (NotePriority.LOW, 0),
        (NotePriority.MEDIUM, 1),
        (NotePriority.HIGH, 2),
        (NotePriority.URGENT, 3),
    ],
)
def test_priority_is_stored_with_its_numeric_rank(priority: NotePriority, rank: int) -> None:
    assert validate_changes(NoteChanges(priority=priority)) == {
        "priority": priority.value,
        "priority_rank": rank,
    }


def test_a_due_date_is_stored_in_utc_at_millisecond_precision_with_its_sort_key() -> None:
    local = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2)))
    expected = datetime(2030, 1, 2, 1, 4, 5, 678000, tzinfo=UTC)
    changes = validate_changes(NoteChanges(due_date=local))
    assert changes == {"due_date": expected, "due_sort": expected}
    assert changes["due_date"].utcoffset() == timedelta(0)


def test_a_null_due_date_clears_it_and_sorts_last() -> None:
    assert validate_changes(NoteChanges(due_date=None)) == {
        "due_date": None,
        "due_sort": NO_DUE_DATE,
    }


@pytest.mark.parametrize(
    ("field", "contract_name"),
    [
        ("title", "title"),
        ("content", "content"),
        ("tags", "tags"),
        ("is_pinned", "isPinned"),
        ("priority", "priority"),
        ("is_archived", "isArchived"),
        ("assignee_ids", "assigneeIds"),
        ("mention_ids", "mentionIds"),
    ],
)
def test_null_is_refused_for_every_field_but_the_due_date(field: str, contract_name: str) -> None:
    with pytest.raises(BadInput) as refused:
        validate_changes(NoteChanges(**{field: None}))
    assert refused.value.field == f"input.{contract_name}"
    assert "leave it out" in refused.value.message


@pytest.mark.parametrize(
    ("sent", "path"),
    [
        ({"title": "   "}, "input.title"),
        ({"title": "x" * 201}, "input.title"),
        ({"content": "x" * 100_001}, "input.content"),
        ({"tags": ["ok", ""]}, "input.tags"),
        ({"tags": [f"t{i}" for i in range(21)]}, "input.tags"),
        ({"assignee_ids": ["not-an-id"]}, "input.assigneeIds"),
        ({"mention_ids": [ID, "zz" * 12]}, "input.mentionIds"),
    ],
)
def test_invalid_values_name_the_contracts_field(sent: dict[str, Any], path: str) -> None:
    with pytest.raises(BadInput) as refused:
        validate_changes(NoteChanges(**sent))
    assert refused.value.field == path
    assert refused.value.as_extensions() == {"code": "BAD_USER_INPUT", "field": path}


def test_the_prefix_names_where_the_changes_came_from() -> None:
    with pytest.raises(BadInput) as refused:
        validate_changes(NoteChanges(title=""), prefix="changes")
    assert refused.value.field == "changes.title"
