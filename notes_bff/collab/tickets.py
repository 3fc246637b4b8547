"""Collaboration tickets: short-lived, single-use credentials for one user and one note.

A browser cannot set headers on a websocket, and a JWT in a URL ends up in logs. A ticket is
a random value whose hash keys a Redis record of (user, login family, note) for
``NOTES_BFF_COLLAB_TICKET_TTL_SECONDS``; redeeming it deletes it (``GETDEL``), so it works
once, on one worker.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

import orjson
from redis.asyncio import Redis

from notes_bff.auth.tokens import TokenClaims

PREFIX = "notes-bff:collab:ticket:"
MAX_TICKET_CHARS = 128


def _key(ticket: str) -> str:
    return PREFIX + hashlib.sha256(ticket.encode()).hexdigest()


class Tickets:
    """Issues and redeems tickets."""

    def __init__(self, redis: Redis, ttl_s: int) -> None:
        self.redis = redis
        self.ttl_s = ttl_s

    async def issue(self, claims: TokenClaims, note_id: str) -> str:
        """A ticket for the session of ``claims`` to open ``note_id``."""
        ticket = secrets.token_urlsafe(32)
        record = {
            "user": claims.user_id,
            "family": claims.family_id,
            "iat": claims.issued_at.timestamp(),
            "exp": claims.expires_at.timestamp(),
            "note": note_id,
        }
        await self.redis.set(_key(ticket), orjson.dumps(record), ex=self.ttl_s)
        return ticket

    async def redeem(self, ticket: str, note_id: str) -> TokenClaims | None:
        """The claims of a valid, unused ticket for ``note_id``; None otherwise (it is used up
        either way)."""
        if not ticket or len(ticket) > MAX_TICKET_CHARS:
            return None
        raw = await self.redis.getdel(_key(ticket))
        if raw is None:
            return None
        record = orjson.loads(raw)
        if record["note"] != note_id:
            return None
        return TokenClaims(
            user_id=record["user"],
            token_type="access",  # noqa: S106 - a kind of token, not a secret
            issued_at=datetime.fromtimestamp(record["iat"], UTC),
            expires_at=datetime.fromtimestamp(record["exp"], UTC),
            family_id=record["family"],
        )
