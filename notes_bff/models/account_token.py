"""Single-use links sent by email (password reset, email change), stored by their hash."""

from datetime import datetime
from enum import StrEnum

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from notes_bff.models.clock import now


class TokenPurpose(StrEnum):
    """What a link does."""

    PASSWORD_RESET = "PASSWORD_RESET"  # noqa: S105 - a name, not a password
    EMAIL_CHANGE = "EMAIL_CHANGE"


class AccountToken(Document):
    """A link's token: only its SHA-256 is stored; spent once, gone after expiry (TTL)."""

    token_hash: str
    purpose: TokenPurpose
    user_id: PydanticObjectId
    new_email: str | None = None
    expires_at: datetime
    used_at: datetime | None = None
    created_at: datetime = Field(default_factory=now)

    class Settings:
        name = "account_tokens"
        indexes = [
            IndexModel([("token_hash", ASCENDING)], name="hash_unique", unique=True),
            IndexModel([("user_id", ASCENDING), ("purpose", ASCENDING)], name="user_purpose"),
            IndexModel([("expires_at", ASCENDING)], name="expiry_ttl", expireAfterSeconds=0),
        ]
