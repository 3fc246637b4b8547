"""Trusted documents: GraphQL operations registered ahead of time."""

from datetime import datetime

from beanie import Document
from pydantic import Field

from notes_bff.models.clock import now


class PersistedDocument(Document):
    """One registered operation; ``id`` is the hex SHA-256 of ``body``."""

    id: str  # type: ignore[assignment]
    body: str
    name: str | None = None
    operation_type: str | None = None
    created_at: datetime = Field(default_factory=now)

    class Settings:
        name = "persisted_documents"
