"""The note listing's pure parts: filter validation, the MongoDB filter of each shape, and the
index each shape and sort order is served by."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from beanie import PydanticObjectId

from notes_bff.errors import BadInput
from notes_bff.models import NotePriority
from notes_bff.services.note_queries import (
    SORT_SPECS,
    TEXT_SEARCH,
    NoteQuery,
    NoteSort,
    index_for,
    notes_filter,
)

WS_A, WS_B = PydanticObjectId(), PydanticObjectId()
USER = "65a1b2c3d4e5f60718293a4b"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"tag_list": [""]}, "filter.tags"),
        ({"tag_list": ["x" * 41]}, "filter.tags"),
        ({"author_id": "nobody"}, "filter.authorId"),
        ({"assignee_id": USER + "0"}, "filter.assigneeId"),
        ({"search": "x" * 101}, "filter.search"),
    ],
)
def test_invalid_filters_name_their_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(BadInput) as refused:
        NoteQuery.parse(**raw)
    assert refused.value.field == field


def test_parse_normalizes_tags_and_priorities() -> None:
    query = NoteQuery.parse(
        tag_list=["Work", "work"],
        priorities=[NotePriority.HIGH, NotePriority.HIGH, NotePriority.LOW],
        author_id=USER,
        include_archived=None,
    )
    assert query.tags == ["work"]
    assert query.priorities == [NotePriority.HIGH, NotePriority.LOW]
    assert query.author_id == PydanticObjectId(USER)
    assert query.include_archived is False


def test_search_text_is_a_literal_pattern_never_regex_syntax() -> None:
    query = NoteQuery.parse(search="  a.b*  (c) ")
    assert query.search == r"a\.b\*\ \(c\)"
    assert NoteQuery.parse(search="   ").search is None


def test_one_workspace_is_matched_directly_several_with_in() -> None:
    assert notes_filter([WS_A, WS_A], NoteQuery()) == {"workspace_id": WS_A, "is_archived": False}
    assert notes_filter([WS_A, WS_B, WS_A], NoteQuery())["workspace_id"] == {"$in": [WS_A, WS_B]}


def test_archived_notes_are_always_constrained() -> None:
    included = notes_filter([WS_A], NoteQuery(include_archived=True))
    assert included["is_archived"] == {"$in": [False, True]}


def test_each_condition_has_its_shape() -> None:
    before, after = datetime(2030, 1, 1, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC)
    flt = notes_filter(
        [WS_A],
        NoteQuery(
            tags=["a", "b"],
            is_pinned=False,
            priorities=[NotePriority.URGENT],
            due_before=before,
            due_after=after,
            author_id=PydanticObjectId(USER),
            assignee_id=PydanticObjectId(USER),
        ),
    )
    assert flt == {
        "workspace_id": WS_A,
        "is_archived": False,
        "tags": {"$all": ["a", "b"]},
        "is_pinned": False,
        "priority": {"$in": ["URGENT"]},
        "due_sort": {"$lt": before, "$gt": after},
        "due_date": {"$ne": None},
        "author_id": PydanticObjectId(USER),
        "assignee_ids": PydanticObjectId(USER),
    }


def test_due_before_alone_includes_only_dated_notes_by_the_sort_key() -> None:
    before = datetime(2030, 1, 1, tzinfo=UTC)
    flt = notes_filter([WS_A], NoteQuery(due_before=before))
    # undated notes sort at 9999-12-31: "$lt" excludes them without a due_date condition
    assert flt["due_sort"] == {"$lt": before} and "due_date" not in flt


def test_a_text_search_is_left_for_the_search_engine() -> None:
    query = NoteQuery.parse(search="plan")
    flt = notes_filter([WS_A, WS_B], query)
    assert flt[TEXT_SEARCH].query == query
    assert flt[TEXT_SEARCH].workspace_ids == (WS_A, WS_B)


@pytest.mark.parametrize(
    ("sort", "index"),
    [
        (NoteSort.CREATED_AT_DESC, "ws_created"),
        (NoteSort.CREATED_AT_ASC, "ws_created"),
        (NoteSort.UPDATED_AT_DESC, "ws_updated"),
        (NoteSort.DUE_DATE_ASC, "ws_due"),
        (NoteSort.PRIORITY_DESC, "ws_priority"),
    ],
)
def test_without_selective_filters_the_sort_chooses_the_index(sort: NoteSort, index: str) -> None:
    assert index_for(notes_filter([WS_A], NoteQuery()), SORT_SPECS[sort]) == index


@pytest.mark.parametrize(
    ("query", "sort", "index"),
    [
        (NoteQuery(tags=["a"], author_id=PydanticObjectId(USER)), NoteSort.DUE_DATE_ASC, "ws_tags"),
        (NoteQuery(author_id=PydanticObjectId(USER)), NoteSort.UPDATED_AT_DESC, "ws_author"),
        (NoteQuery(assignee_id=PydanticObjectId(USER)), NoteSort.CREATED_AT_DESC, "assignee_due"),
        (NoteQuery(is_pinned=True), NoteSort.UPDATED_AT_DESC, "ws_pinned"),
        (NoteQuery(is_pinned=True), NoteSort.CREATED_AT_DESC, "ws_created"),
    ],
)
def test_selective_filters_choose_their_index(query: NoteQuery, sort: NoteSort, index: str) -> None:
    assert index_for(notes_filter([WS_A], query), SORT_SPECS[sort]) == index


def test_every_sort_order_is_total() -> None:
    for spec in SORT_SPECS.values():
        assert spec[-1][0] == "_id"  # ties broken by id: no row is skipped or repeated
