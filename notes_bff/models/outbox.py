"""The email outbox: every email is a document here until SMTP has taken it."""

from datetime import datetime
from enum import StrEnum

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from notes_bff.models.clock import now

SENT_KEPT_S = 30 * 24 * 3600


class EmailStatus(StrEnum):
    """Where a message is in its delivery."""

    PENDING = "PENDING"  # waiting for its next attempt (``next_attempt_at``)
    SENDING = "SENDING"  # claimed by a sender until ``claimed_until``
    SENT = "SENT"
    DEAD = "DEAD"  # gave up after the configured attempts


class EmailTemplate(StrEnum):
    """What an email says (notes_bff/email/templates.py renders each)."""

    NOTIFICATION = "NOTIFICATION"  # values: kind; items: the notifications' messages
    DIGEST = "DIGEST"  # items: the day's notifications' messages
    PASSWORD_RESET = "PASSWORD_RESET"  # noqa: S105 - secret: the link's token
    EMAIL_CHANGE_VERIFY = "EMAIL_CHANGE_VERIFY"  # values: new_email; secret: the token
    EMAIL_CHANGE_NOTICE = "EMAIL_CHANGE_NOTICE"  # values: new_email
    DELETION_SCHEDULED = "DELETION_SCHEDULED"  # values: when (the erasure's UTC time)


class OutboxEmail(Document):
    """One email to one address, rendered when it is sent (``template`` + values).

    ``coalesce_key`` (recipient, kind, window) is unique: a later notification of the same
    kind within the window joins ``items`` of the message while it waits, and is dropped
    from email once it has gone (it stays in the app). ``secret`` holds a link's token
    and is erased once the message is sent or dead.
    """

    to: str
    template: EmailTemplate
    user_id: PydanticObjectId | None = None
    values: dict[str, str] = Field(default_factory=dict)
    items: list[str] = Field(default_factory=list)
    secret: str | None = None
    coalesce_key: str | None = None
    status: EmailStatus = EmailStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=now)
    claimed_until: datetime | None = None
    last_error: str | None = None
    created_at: datetime = Field(default_factory=now)
    sent_at: datetime | None = None

    class Settings:
        name = "email_outbox"
        indexes = [
            IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="status_due"),
            # Sent messages are deleted after a month (dead ones stay for operators).
            IndexModel([("sent_at", ASCENDING)], name="sent_ttl", expireAfterSeconds=SENT_KEPT_S),
            IndexModel(
                [("coalesce_key", ASCENDING)],
                name="coalesce_unique",
                unique=True,
                partialFilterExpression={"coalesce_key": {"$type": "string"}},
            ),
        ]
