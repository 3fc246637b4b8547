"""Coalescing keys: one per user, topic and clock-aligned window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from beanie import PydanticObjectId

from notes_bff.email.outbox import coalesce_key

USER = PydanticObjectId("6b0c9ea10987f8331f3ba606")
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_a_window_shares_one_key_per_user_and_topic() -> None:
    key = coalesce_key(USER, "MENTION", START, 600)
    assert coalesce_key(USER, "MENTION", START + timedelta(seconds=599), 600) == key
    assert coalesce_key(USER, "MENTION", START + timedelta(seconds=600), 600) != key
    assert coalesce_key(USER, "ASSIGNED", START, 600) != key
    other = PydanticObjectId("6b0c9ea10987f8331f3ba607")
    assert coalesce_key(other, "MENTION", START, 600) != key
