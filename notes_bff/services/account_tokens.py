"""Single-use, expiring tokens for the links of account emails.

A token is 32 random bytes (URL-safe); only its SHA-256 is stored, so a database reader
cannot use a pending link. Spending one is one atomic update (unused and unexpired →
used), so two clicks of one link never both succeed.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from beanie import PydanticObjectId

from notes_bff.errors import BadInput
from notes_bff.models import AccountToken, TokenPurpose
from notes_bff.models.clock import now

INVALID_LINK = "This link is invalid, expired or already used; ask for a new one."


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(
    purpose: TokenPurpose,
    user_id: PydanticObjectId,
    ttl: timedelta,
    *,
    new_email: str | None = None,
) -> str:
    """A new token; the user's earlier unused tokens of the same purpose stop working."""
    await AccountToken.find({"user_id": user_id, "purpose": purpose}).delete()
    token = secrets.token_urlsafe(32)
    await AccountToken(
        token_hash=token_hash(token),
        purpose=purpose,
        user_id=user_id,
        new_email=new_email,
        expires_at=now() + ttl,
    ).insert()
    return token


async def spend(purpose: TokenPurpose, token: str) -> AccountToken:
    """Use a token once: ``BAD_USER_INPUT`` (field ``token``) when it is unknown, expired or
    already used."""
    moment = now()
    raw = await AccountToken.get_pymongo_collection().find_one_and_update(
        {
            "token_hash": token_hash(token),
            "purpose": purpose,
            "used_at": None,
            "expires_at": {"$gt": moment},
        },
        {"$set": {"used_at": moment}},
        return_document=True,
    )
    if raw is None:
        raise BadInput("token", INVALID_LINK)
    spent: AccountToken = AccountToken.model_validate(raw)
    return spent
