"""Users."""

from datetime import datetime

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from notes_bff.models.clock import now


class User(Document):
    """A person who can sign in."""

    email: str
    name: str
    password_hash: str
    avatar_url: str | None = None
    created_at: datetime = Field(default_factory=now)

    class Settings:
        name = "users"
        indexes = [IndexModel([("email", ASCENDING)], name="email_unique", unique=True)]
