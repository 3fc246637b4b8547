"""Data exports (``exportMyData``): a user's archive, stored in chunks until it expires."""

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from notes_bff.models.clock import now

# Below MongoDB's 16 MiB document limit with room to spare, as GridFS's chunks are.
CHUNK_BYTES = 1024 * 1024


def _expiry_ttl() -> IndexModel:
    return IndexModel([("expires_at", ASCENDING)], name="expiry_ttl", expireAfterSeconds=0)


class DataExport(Document):
    """One archive of everything about a user, removed by TTL at ``expires_at``."""

    user_id: PydanticObjectId
    size: int
    chunks: int
    created_at: datetime = Field(default_factory=now)
    expires_at: datetime

    class Settings:
        name = "data_exports"
        indexes = [IndexModel([("user_id", ASCENDING)], name="user"), _expiry_ttl()]


class DataExportChunk(Document):
    """Bytes ``n * CHUNK_BYTES`` onwards of an export's archive (removed with it by TTL)."""

    export_id: PydanticObjectId
    n: int
    data: bytes
    expires_at: datetime

    class Settings:
        name = "data_export_chunks"
        indexes = [
            IndexModel([("export_id", ASCENDING), ("n", ASCENDING)], name="export_n", unique=True),
            _expiry_ttl(),
        ]
