"""Refresh-token families: rotation on every use, reuse detection, revocation."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from beanie import PydanticObjectId

from notes_bff.auth.revocation import SESSION_ENDED, Revocations
from notes_bff.auth.tokens import TokenService
from notes_bff.errors import Unauthenticated
from notes_bff.models import RefreshSession
from notes_bff.models.clock import now


@dataclass(frozen=True)
class IssuedTokens:
    """A token pair for one user."""

    user_id: PydanticObjectId
    access_token: str
    access_expires_at: datetime
    refresh_token: str


class SessionService:
    """Issues token pairs and rotates refresh tokens, each stored as a ``RefreshSession``."""

    def __init__(self, tokens: TokenService, revocations: Revocations) -> None:
        self.tokens = tokens
        self.revocations = revocations

    async def _issue(self, user_id: PydanticObjectId, family_id: str) -> IssuedTokens:
        session = RefreshSession(
            user_id=user_id, family_id=family_id, expires_at=now() + self.tokens.refresh_ttl
        )
        await session.insert()
        access, access_expires = self.tokens.issue_access(str(user_id), family_id)
        refresh = self.tokens.issue_refresh(str(user_id), str(session.id), family_id)
        return IssuedTokens(user_id, access, access_expires, refresh)

    async def start(self, user_id: PydanticObjectId) -> IssuedTokens:
        """A new login: a new family and its first token pair."""
        return await self._issue(user_id, secrets.token_urlsafe(16))

    async def rotate(self, refresh_token: str) -> IssuedTokens:
        """Spend a refresh token for a new pair; a second use revokes the whole family."""
        claims = self.tokens.verify(refresh_token, "refresh")
        assert claims.session_id is not None
        assert claims.family_id is not None
        if not PydanticObjectId.is_valid(claims.session_id):
            raise Unauthenticated("The token is invalid.")
        collection = RefreshSession.get_pymongo_collection()
        moment = now()
        spent = await collection.update_one(
            {
                "_id": PydanticObjectId(claims.session_id),
                "family_id": claims.family_id,
                "used_at": None,
                "revoked": False,
                "expires_at": {"$gt": moment},
            },
            {"$set": {"used_at": moment}},
        )
        if spent.modified_count != 1:
            existing = await RefreshSession.get(PydanticObjectId(claims.session_id))
            if existing is not None and existing.used_at is not None:
                await self.revocations.end_family(claims.family_id)
                raise Unauthenticated("This refresh token was already used; please sign in again.")
            raise Unauthenticated(SESSION_ENDED)
        issued = await self._issue(PydanticObjectId(claims.user_id), claims.family_id)
        # A revocation (log-out, reuse, disabling the user) that ran between spending the
        # token and storing the new one missed the new one: end it too.
        if await collection.find_one({"family_id": claims.family_id, "revoked": True}, {"_id": 1}):
            await self.revocations.end_family(claims.family_id)
            raise Unauthenticated(SESSION_ENDED)
        return issued
