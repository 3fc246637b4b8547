"""Data migrations run at start-up, after Beanie has built the indexes; each is idempotent."""

from __future__ import annotations

import structlog
from beanie import PydanticObjectId
from pymongo.errors import DuplicateKeyError

from notes_bff.confusables import email_skeleton
from notes_bff.models import User

log = structlog.get_logger("notes_bff.migrations")


async def backfill_email_skeletons() -> list[PydanticObjectId]:
    """Set ``email_skeleton`` on the accounts created before it.

    An account whose address looks like another's keeps no skeleton (the unique index
    refuses it) and is logged, for an operator to resolve; its id is returned. Concurrent
    runs (several workers starting) write each skeleton once.
    """
    collection = User.get_pymongo_collection()
    missing = {"email_skeleton": {"$exists": False}}
    look_alikes: list[PydanticObjectId] = []
    async for raw in collection.find(missing, {"email": 1}):
        try:
            await collection.update_one(
                {"_id": raw["_id"], **missing},
                {"$set": {"email_skeleton": email_skeleton(raw["email"])}},
            )
        except DuplicateKeyError:
            log.warning("look_alike_account", user_id=str(raw["_id"]))
            look_alikes.append(PydanticObjectId(raw["_id"]))
    return look_alikes
