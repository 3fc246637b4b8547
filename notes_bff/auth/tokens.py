"""JWT access and refresh tokens (PyJWT, HS256 only, required claims)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import jwt
from cachetools import TLRUCache

from notes_bff.config import Settings
from notes_bff.errors import Unauthenticated

ALGORITHM = "HS256"
TokenType = Literal["access", "refresh"]
# Tokens verified recently, kept until they expire: a client sends the same access token with
# every request, and decoding it again (HMAC, JSON, claim checks) was 1-2 % of a page's CPU.
VERIFIED_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says."""

    user_id: str
    token_type: TokenType
    issued_at: datetime
    expires_at: datetime
    family_id: str
    session_id: str | None = None


@dataclass(frozen=True)
class TokenService:
    """Issues and verifies tokens with one key, issuer and audience."""

    key: str
    issuer: str
    audience: str
    access_ttl: timedelta
    refresh_ttl: timedelta
    # (token, type) -> its claims, until their ``exp``.
    _verified: TLRUCache[tuple[str, str], TokenClaims] = field(
        default_factory=lambda: TLRUCache(
            maxsize=VERIFIED_CACHE_SIZE,
            ttu=lambda _key, claims, _now: claims.expires_at.timestamp(),
            timer=time.time,
        ),
        init=False,
        repr=False,
        compare=False,
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenService:
        """The service of the configured key, issuer, audience and lifetimes."""
        return cls(
            key=settings.jwt_key(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            access_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
            refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds),
        )

    def _encode(self, user_id: str, token_type: TokenType, ttl: timedelta, **extra: str) -> str:
        issued = datetime.now(UTC)
        payload = {
            "sub": user_id,
            "typ": token_type,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": issued,
            "exp": issued + ttl,
            "jti": secrets.token_urlsafe(12),
            **extra,
        }
        return jwt.encode(payload, self.key, algorithm=ALGORITHM)

    def issue_access(self, user_id: str, family_id: str) -> tuple[str, datetime]:
        """A new access token of one login family, and the moment it expires."""
        token = self._encode(user_id, "access", self.access_ttl, fam=family_id)
        return token, self.verify(token, "access").expires_at

    def issue_refresh(self, user_id: str, session_id: str, family_id: str) -> str:
        """A new refresh token bound to one stored session of a family."""
        return self._encode(user_id, "refresh", self.refresh_ttl, sid=session_id, fam=family_id)

    def verify(self, token: str, expected: TokenType) -> TokenClaims:
        """The claims of a valid token of the ``expected`` type, else ``Unauthenticated``.

        A token verified before is answered from memory until its ``exp``: nothing else it is
        checked against changes with time (the key, issuer and audience are the process's;
        ``iat`` and ``nbf`` only become more valid). Only valid tokens are kept, at most
        ``VERIFIED_CACHE_SIZE`` (the least recently used first out); an expired one is gone
        (decoding it again says so with the usual error); revocation is checked by the caller
        on every use (``auth/revocation.py``).
        """
        key = (token, expected)
        claims = self._verified.get(key)
        if claims is None:
            claims = self._verified[key] = self._decode(token, expected)
        return claims

    def _decode(self, token: str, expected: TokenType) -> TokenClaims:
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "typ", "fam"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("The token has expired.") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated("The token is invalid.") from exc
        if claims.get("typ") != expected:
            raise Unauthenticated(f"An {expected} token is needed here.")
        # Every token belongs to a login family: that is what revocation ends.
        family = claims["fam"]
        if not (isinstance(family, str) and family) or (
            expected == "refresh" and not claims.get("sid")
        ):
            raise Unauthenticated("The token is invalid.")
        return TokenClaims(
            user_id=str(claims["sub"]),
            token_type=expected,
            issued_at=datetime.fromtimestamp(int(claims["iat"]), UTC),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            family_id=family,
            session_id=claims.get("sid"),
        )
