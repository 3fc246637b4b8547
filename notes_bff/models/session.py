"""Refresh-token sessions: one document per issued refresh token."""

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from notes_bff.models.clock import now


class RefreshSession(Document):
    """An issued refresh token. ``family_id`` links every rotation of one login."""

    user_id: PydanticObjectId
    family_id: str
    used_at: datetime | None = None
    revoked: bool = False
    expires_at: datetime
    created_at: datetime = Field(default_factory=now)

    class Settings:
        name = "refresh_sessions"
        indexes = [
            IndexModel([("family_id", ASCENDING)], name="family"),
            IndexModel([("user_id", ASCENDING)], name="user"),  # disabling a user
            IndexModel([("expires_at", ASCENDING)], name="expiry_ttl", expireAfterSeconds=0),
        ]
