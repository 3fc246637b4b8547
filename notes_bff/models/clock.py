"""Time as MongoDB stores it: UTC, millisecond precision."""

from datetime import UTC, datetime


def now() -> datetime:
    """The current UTC time truncated to milliseconds, so it round-trips through BSON."""
    return to_bson_precision(datetime.now(UTC))


def to_bson_precision(value: datetime) -> datetime:
    """``value`` in UTC, truncated to the millisecond precision of a BSON date."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)
