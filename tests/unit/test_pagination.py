"""Keyset cursors: opaque, round-tripping the sort values of the last row seen, refusing a
damaged or foreign cursor with BAD_USER_INPUT; the page size bounds."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from bson import ObjectId

from notes_bff.errors import BadInput
from notes_bff.pagination import after_filter, decode_cursor, encode_cursor
from notes_bff.services.note_queries import SORT_SPECS, NoteSort
from notes_bff.validation import page_size

PRIORITY = SORT_SPECS[NoteSort.PRIORITY_DESC]
CREATED = SORT_SPECS[NoteSort.CREATED_AT_DESC]
ROW = {
    "priority_rank": 3,
    "created_at": datetime(2030, 5, 6, 7, 8, 9, 123000, UTC),
    "_id": ObjectId(),
}


def test_a_cursor_round_trips_the_sort_values() -> None:
    cursor = encode_cursor("PRIORITY_DESC", PRIORITY, ROW)
    assert decode_cursor("after", cursor, "PRIORITY_DESC", PRIORITY) == [
        3,
        ROW["created_at"],
        ROW["_id"],
    ]


def test_a_cursor_is_url_safe_and_unpadded() -> None:
    for rank in range(50):
        cursor = encode_cursor("PRIORITY_DESC", PRIORITY, {**ROW, "priority_rank": rank})
        assert set(cursor) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )


def _forged(payload: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "",
        base64.urlsafe_b64encode(b"not json").decode(),
        _forged({"sort": "CREATED_AT_DESC"}),
        _forged(["CREATED_AT_DESC", {"d": 1}]),  # one value short
        _forged(["CREATED_AT_DESC", {"d": "soon"}, {"o": "x"}]),
        _forged(["CREATED_AT_DESC", [1], {"o": "6b0cc12a0f9b15555f7f5724"}]),
    ],
)
def test_a_damaged_cursor_is_bad_user_input(cursor: str) -> None:
    with pytest.raises(BadInput) as refused:
        decode_cursor("after", cursor, "CREATED_AT_DESC", CREATED)
    assert refused.value.as_extensions() == {"code": "BAD_USER_INPUT", "field": "after"}
    assert refused.value.message == "after is not a valid cursor."


def test_a_cursor_of_another_sort_order_is_refused_as_such() -> None:
    cursor = encode_cursor("CREATED_AT_ASC", CREATED, ROW)
    with pytest.raises(BadInput) as refused:
        decode_cursor("after", cursor, "CREATED_AT_DESC", CREATED)
    assert refused.value.message == "after was made for another sort order."


def test_rows_after_a_cursor_follow_each_key_direction() -> None:
    values = [3, ROW["created_at"], ROW["_id"]]
    assert after_filter(PRIORITY, values) == {
        "$or": [
            {"priority_rank": {"$lt": 3}},
            {"priority_rank": 3, "created_at": {"$lt": ROW["created_at"]}},
            {"priority_rank": 3, "created_at": ROW["created_at"], "_id": {"$lt": ROW["_id"]}},
        ]
    }
    ascending = SORT_SPECS[NoteSort.DUE_DATE_ASC]
    assert after_filter(ascending, [1, 2])["$or"][0] == {"due_sort": {"$gt": 1}}


@pytest.mark.parametrize(
    ("size", "ok"), [(0, False), (1, True), (100, True), (101, False), (-5, False)]
)
def test_page_size_is_1_to_100(size: int, ok: bool) -> None:
    if ok:
        assert page_size("first", size) == size
    else:
        with pytest.raises(BadInput, match="first must be between 1 and 100") as refused:
            page_size("first", size)
        assert refused.value.field == "first"
