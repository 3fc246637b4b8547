"""What each user wants to be notified of, and how."""

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

from notes_bff.models.notification import NotificationKind


class Channels(BaseModel):
    """The channels one kind of notification reaches."""

    in_app: bool = True
    email: bool = True


class NotificationPreferences(Document):
    """One user's preferences; a user without a document has :meth:`defaults`.

    ``digest_since`` is where the next daily digest starts (set when the digest is turned on
    and when one is sent); ``digest_due_at`` is when it goes (the digest hour of the user's
    time zone), moved a day on when it is claimed.
    """

    user_id: PydanticObjectId
    kinds: dict[NotificationKind, Channels] = Field(default_factory=dict)
    muted_workspace_ids: list[PydanticObjectId] = Field(default_factory=list)
    daily_digest: bool = False
    digest_since: datetime | None = None
    digest_due_at: datetime | None = None

    class Settings:
        name = "notification_preferences"
        indexes = [
            IndexModel([("user_id", ASCENDING)], name="user_unique", unique=True),
            IndexModel(
                [("daily_digest", ASCENDING), ("digest_due_at", ASCENDING)], name="digest_due"
            ),
        ]

    @classmethod
    def defaults(cls, user_id: PydanticObjectId) -> "NotificationPreferences":
        """Every kind in the app and by email, nothing muted, no digest."""
        return cls(user_id=user_id)

    def channels(self, kind: NotificationKind) -> Channels:
        """The channels of ``kind`` (both, unless changed)."""
        return self.kinds.get(kind, Channels())

    def mutes(self, workspace_id: PydanticObjectId | None) -> bool:
        """Whether notifications from ``workspace_id`` are muted."""
        return workspace_id is not None and workspace_id in self.muted_workspace_ids

    def shows(self, kind: NotificationKind, workspace_id: PydanticObjectId | None) -> bool:
        """Whether a notification of ``kind`` from ``workspace_id`` is stored in the app."""
        return self.channels(kind).in_app and not self.mutes(workspace_id)

    def emails(self, kind: NotificationKind, workspace_id: PydanticObjectId | None) -> bool:
        """Whether it is emailed at once (with the daily digest on, it waits for the digest)."""
        return self.channels(kind).email and not self.mutes(workspace_id) and not self.daily_digest
