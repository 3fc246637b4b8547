"""Queueing emails: one outbox document each, written before anything is sent."""

from __future__ import annotations

from datetime import datetime

from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from notes_bff.models import EmailStatus, EmailTemplate, OutboxEmail

# The most notifications one coalesced email gathers.
MAX_ITEMS = 50


def coalesce_key(user_id: PydanticObjectId, topic: str, at: datetime, window_s: int) -> str:
    """The key shared by a user's emails about ``topic`` in one window (aligned to the
    clock: windows start at multiples of ``window_s`` since the Unix epoch)."""
    return f"{user_id}:{topic}:{int(at.timestamp()) // window_s}"


async def enqueue(
    to: str,
    template: EmailTemplate,
    *,
    user_id: PydanticObjectId | None = None,
    values: dict[str, str] | None = None,
    items: list[str] | None = None,
    secret: str | None = None,
    coalesce: str | None = None,
) -> bool:
    """Queue an email; False when it joined (or was dropped for) the message of the same
    ``coalesce`` key."""
    message = OutboxEmail(
        to=to,
        template=template,
        user_id=user_id,
        values=values or {},
        items=items or [],
        secret=secret,
        coalesce_key=coalesce,
    )
    try:
        await message.insert()
    except DuplicateKeyError:
        if coalesce is None:
            raise
        await OutboxEmail.get_pymongo_collection().update_one(
            {"coalesce_key": coalesce, "status": EmailStatus.PENDING},
            {"$push": {"items": {"$each": items or [], "$slice": MAX_ITEMS}}},
        )
        return False
    return True
