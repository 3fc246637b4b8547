"""Notification messages: fixed sentences, user text as clipped values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notes_bff.models import NotificationKind
from notes_bff.notification_text import MESSAGE_MAX, QUOTED_MAX, clip, notification_message


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (NotificationKind.ASSIGNED, "Ann assigned you to “Plan”"),
        (NotificationKind.MENTION, "Ann mentioned you in “Plan”"),
        (NotificationKind.MEMBER_ADDED, "Ann added you to “Plan” as editor"),
        (NotificationKind.DUE_SOON, "“Plan” is due within 24 hours"),
    ],
)
def test_each_kind_has_its_sentence(kind: NotificationKind, expected: str) -> None:
    assert notification_message(kind, subject="Plan", actor="Ann", role="EDITOR") == expected


@given(subject=st.text(max_size=300), actor=st.text(max_size=200))
def test_any_text_stays_literal_and_bounded(subject: str, actor: str) -> None:
    for kind in NotificationKind:
        message = notification_message(kind, subject=subject, actor=actor, role="OWNER")
        assert len(message) <= MESSAGE_MAX
        assert "“" + clip(subject, QUOTED_MAX) + "”" in message


def test_clip_cuts_and_marks() -> None:
    assert clip("short", 10) == "short"
    assert clip("a" * 20, 10) == "a" * 9 + "…"
    assert clip("word " * 10, 11) == "word word…"  # no space before the mark


def test_format_fields_are_not_expanded() -> None:
    message = notification_message(
        NotificationKind.MENTION, subject="{actor:>100000000}", actor="{actor.__class__}"
    )
    assert message == "{actor.__class__} mentioned you in “{actor:>100000000}”"
