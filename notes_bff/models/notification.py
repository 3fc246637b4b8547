"""Notifications for one user."""

from datetime import datetime
from enum import StrEnum

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from notes_bff.models.clock import now
from notes_bff.models.read_routing import RoutedReads


class NotificationKind(StrEnum):
    """Why a user was notified."""

    MENTION = "MENTION"
    ASSIGNED = "ASSIGNED"
    DUE_SOON = "DUE_SOON"
    MEMBER_ADDED = "MEMBER_ADDED"


class Notification(RoutedReads, Document):
    """Something a user should know about."""

    user_id: PydanticObjectId
    kind: NotificationKind
    message: str
    note_id: PydanticObjectId | None = None
    workspace_id: PydanticObjectId | None = None
    actor_id: PydanticObjectId | None = None
    read: bool = False
    created_at: datetime = Field(default_factory=now)

    class Settings:
        name = "notifications"
        indexes = [
            IndexModel(
                [("user_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
                name="user_created",
            ),
            IndexModel(
                [
                    ("user_id", ASCENDING),
                    ("read", ASCENDING),
                    ("created_at", DESCENDING),
                    ("_id", DESCENDING),
                ],
                name="user_read_created",
            ),
            # Notifications naming a user as their actor: erasure.
            IndexModel([("actor_id", ASCENDING)], name="actor"),
        ]
