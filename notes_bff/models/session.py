"""Refresh-token sessions: one document per issued refresh token."""

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from notes_bff.models.clock import now


class RefreshSession(Document):
    """An issued refresh token. ``family_id`` links every rotation of one login (a
    "session" in ``Query.sessions``): ``started_at`` is the login's, carried forward by each
    rotation, while ``created_at``, ``user_agent`` and ``client_ip`` are this token's
    issuance, so the family's unspent token tells when and from where it was last used."""

    user_id: PydanticObjectId
    family_id: str
    started_at: datetime | None = None  # None on tokens issued before it was recorded
    user_agent: str = ""
    client_ip: str = ""
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
