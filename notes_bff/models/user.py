"""Users."""

from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from notes_bff.confusables import email_skeleton
from notes_bff.models.clock import now


def _skeleton_of_email(data: dict[str, Any]) -> str:
    return email_skeleton(data.get("email", ""))


class User(Document):
    """A person who can sign in."""

    email: str
    # The look-alike key of `email` (notes_bff/confusables.py), unique: an address that only
    # looks like a registered one (a Cyrillic e for a Latin one) cannot sign up beside it.
    email_skeleton: str = Field(default_factory=_skeleton_of_email)
    name: str
    password_hash: str
    avatar_url: str | None = None
    # Settings the user sees only themself (services/profile.py): an IANA zone name and a
    # BCP 47 language tag; None means the client's own.
    time_zone: str | None = None
    locale: str | None = None
    created_at: datetime = Field(default_factory=now)
    # Set by `notes-bff users disable`: no log-in or refresh, and no token issued before
    # `tokens_valid_after` is accepted (auth/revocation.py).
    disabled: bool = False
    tokens_valid_after: datetime | None = None
    # deleteMyAccount (services/account_deletion.py): when the erasure job may erase the
    # account, and whether the notes they wrote go with it; `erased_at` marks the tombstone
    # left behind (named "Deleted user", so that kept notes still have an author).
    deletion_scheduled_for: datetime | None = None
    delete_notes_on_erasure: bool = False
    erased_at: datetime | None = None

    class Settings:
        name = "users"
        indexes = [
            IndexModel([("email", ASCENDING)], name="email_unique", unique=True),
            # Partial: accounts from before the field (until `backfill_email_skeletons` sets
            # it) stay out, where a plain unique index would see duplicate nulls.
            IndexModel(
                [("email_skeleton", ASCENDING)],
                name="email_skeleton_unique",
                unique=True,
                partialFilterExpression={"email_skeleton": {"$exists": True}},
            ),
            # The erasure job's scan of accounts whose deletion is due.
            IndexModel([("deletion_scheduled_for", ASCENDING)], name="deletion_due"),
        ]
