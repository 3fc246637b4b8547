"""Input validation as a client notices it: what is trimmed and normalized, the limits, and
BAD_USER_INPUT naming the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from beanie import PydanticObjectId

from notes_bff.errors import BadInput
from notes_bff.validation import (
    bounded_int,
    email,
    multi_line,
    object_id,
    object_ids,
    password,
    single_line,
    tags,
)

ID = "65a1b2c3d4e5f60718293a4b"


def _refused(check: Callable[..., Any], *args: Any) -> BadInput:
    with pytest.raises(BadInput) as refused:
        check("input.x", *args)
    assert refused.value.as_extensions() == {"code": "BAD_USER_INPUT", "field": "input.x"}
    assert refused.value.message.startswith("input.x ")
    return refused.value


def test_single_line_collapses_whitespace_and_drops_controls() -> None:
    assert single_line("f", "  a \t\n b\u200b\x07c  ", (1, 10)) == "a b\u200bc"
    assert single_line("f", "e\u0301", (1, 1)) == "\u00e9"  # NFC: one character


def test_single_line_counts_the_length_after_trimming() -> None:
    assert single_line("f", "   " + "x" * 5 + "   ", (1, 5)) == "xxxxx"
    assert "1 to 5 characters" in _refused(single_line, "x" * 6, (1, 5)).message
    _refused(single_line, " \x00\t ", (1, 5))


def test_multi_line_keeps_lines_and_tabs_normalizes_carriage_returns() -> None:
    assert multi_line("f", "a\r\n\tb\rc\x1b", 100) == "a\n\tb\nc"
    assert multi_line("f", "x" * 10, 10) == "x" * 10
    assert "at most 10 characters" in _refused(multi_line, "x" * 11, 10).message


def test_tags_are_lowercased_deduplicated_and_bounded() -> None:
    assert tags("f", ["Work", " work ", "Home", "WORK"]) == ["work", "home"]
    assert tags("f", [f"t{i % 20}" for i in range(40)]) == [f"t{i}" for i in range(20)]
    assert "at most 20 tags" in _refused(tags, [f"t{i}" for i in range(21)]).message
    _refused(tags, ["x" * 41])
    _refused(tags, ["  "])


def test_email_is_normalized() -> None:
    assert email("f", "  Ann.Lee@Example.COM ") == "ann.lee@example.com"
    assert email("f", "\uff41\uff4e\uff4e@example.com") == "ann@example.com"  # full-width


@pytest.mark.parametrize("value", ["ann", "ann@", "@example.com", "ann@@example.com", ""])
def test_invalid_emails_are_refused(value: str) -> None:
    assert "not a valid email address" in _refused(email, value).message


def test_password_is_kept_as_typed_within_8_to_128() -> None:
    assert password("f", "  spaced  ") == "  spaced  "
    _refused(password, "x" * 7)
    _refused(password, "x" * 129)


@pytest.mark.parametrize("value", ["", "xyz", ID[:-1], ID + "a", "g" * 24, b"twelve bytes"])
def test_object_id_accepts_only_24_hex_characters(value: Any) -> None:
    assert _refused(object_id, value).message == "input.x is not a valid id."


def test_object_ids_are_deduplicated_in_order_and_bounded() -> None:
    other = "0" * 24
    assert object_ids("f", [ID, other, ID]) == [PydanticObjectId(ID), PydanticObjectId(other)]
    assert object_id("f", ID.upper()) == PydanticObjectId(ID)
    assert "at most 2 ids" in _refused(object_ids, [ID, other, ID], 2).message
    _refused(object_ids, [ID, "nope"])


def test_bounded_int_includes_both_bounds() -> None:
    assert bounded_int("f", 1, 1, 3) == 1
    assert bounded_int("f", 3, 1, 3) == 3
    assert _refused(bounded_int, 0, 1, 3).message == "input.x must be between 1 and 3."
    _refused(bounded_int, 4, 1, 3)
