"""The DateTime scalar: ISO-8601 with offset in, always UTC ``…Z`` out."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from notes_bff.models.clock import to_bson_precision


def _serialize(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO-8601 string")
    parsed = datetime.fromisoformat(value.replace("z", "Z"))
    if parsed.tzinfo is None:
        raise ValueError("DateTime must carry a UTC offset, e.g. 2026-01-31T09:00:00Z")
    return to_bson_precision(parsed)


DATETIME_SCALAR = strawberry.scalar(
    name="DateTime",
    description="An ISO-8601 date-time with offset. Output is always UTC (…Z).",
    serialize=_serialize,
    parse_value=_parse,
)
"""Maps Python ``datetime`` to the contract's ``DateTime`` (see ``StrawberryConfig``)."""
