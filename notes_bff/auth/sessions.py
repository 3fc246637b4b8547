"""Refresh-token families: rotation on every use, reuse detection, revocation."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from beanie import PydanticObjectId

from notes_bff.auth.revocation import SESSION_ENDED, Revocations
from notes_bff.auth.tokens import TokenClaims, TokenService
from notes_bff.errors import Unauthenticated
from notes_bff.models import RefreshSession
from notes_bff.models.clock import now


@dataclass(frozen=True)
class Device:
    """Where a login acts from, as the server saw it (kept on its refresh tokens)."""

    user_agent: str = ""
    client_ip: str = ""


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

    async def _issue(
        self,
        user_id: PydanticObjectId,
        family_id: str,
        device: Device,
        started_at: datetime | None = None,
    ) -> IssuedTokens:
        moment = now()
        session = RefreshSession(
            user_id=user_id,
            family_id=family_id,
            started_at=started_at or moment,
            user_agent=device.user_agent,
            client_ip=device.client_ip,
            created_at=moment,
            expires_at=moment + self.tokens.refresh_ttl,
        )
        await session.insert()
        access, access_expires = self.tokens.issue_access(str(user_id), family_id)
        refresh = self.tokens.issue_refresh(str(user_id), str(session.id), family_id)
        return IssuedTokens(user_id, access, access_expires, refresh)

    async def start(self, user_id: PydanticObjectId, device: Device = Device()) -> IssuedTokens:
        """A new login: a new family and its first token pair."""
        return await self._issue(user_id, secrets.token_urlsafe(16), device)

    async def reissue(self, claims: TokenClaims, device: Device) -> IssuedTokens:
        """A fresh pair for the login of ``claims`` (after a password change): its unspent
        refresh token is withdrawn (a later use of it is refused, without ending the login)."""
        collection = RefreshSession.get_pymongo_collection()
        current = await collection.find_one_and_delete(
            {"family_id": claims.family_id, "used_at": None, "revoked": False}
        )
        if current is None:
            raise Unauthenticated(SESSION_ENDED)
        user_id = PydanticObjectId(claims.user_id)
        started = current.get("started_at") or current["created_at"]
        return await self._issue(user_id, claims.family_id, device, started)

    async def rotate(self, refresh_token: str, device: Device = Device()) -> IssuedTokens:
        """Spend a refresh token for a new pair; a second use revokes the whole family."""
        claims = self.tokens.verify(refresh_token, "refresh")
        assert claims.session_id is not None
        assert claims.family_id is not None
        if not PydanticObjectId.is_valid(claims.session_id):
            raise Unauthenticated("The token is invalid.")
        collection = RefreshSession.get_pymongo_collection()
        moment = now()
        spent = await collection.find_one_and_update(
            {
                "_id": PydanticObjectId(claims.session_id),
                "family_id": claims.family_id,
                "used_at": None,
                "revoked": False,
                "expires_at": {"$gt": moment},
            },
            {"$set": {"used_at": moment}},
        )
        if spent is None:
            existing = await RefreshSession.get(PydanticObjectId(claims.session_id))
            if existing is not None and existing.used_at is not None:
                await self.revocations.end_family(claims.family_id)
                raise Unauthenticated("This refresh token was already used; please sign in again.")
            raise Unauthenticated(SESSION_ENDED)
        issued = await self._issue(
            PydanticObjectId(claims.user_id),
            claims.family_id,
            device,
            spent.get("started_at") or spent["created_at"],
        )
        # A revocation (log-out, reuse, disabling the user) that ran between spending the
        # token and storing the new one missed the new one: end it too.
        if await collection.find_one({"family_id": claims.family_id, "revoked": True}, {"_id": 1}):
            await self.revocations.end_family(claims.family_id)
            raise Unauthenticated(SESSION_ENDED)
        return issued
