"""Authentication types and inputs."""

from __future__ import annotations

from datetime import datetime

import strawberry

from notes_bff.auth.sessions import IssuedTokens
from notes_bff.schema.info import Info
from notes_bff.schema.users import UserType, load_user


@strawberry.type
class AuthPayload:
    """A signed-in session: the tokens are also set as HttpOnly cookies."""

    access_token: str
    refresh_token: str
    access_token_expires_at: datetime
    issued: strawberry.Private[IssuedTokens]

    @strawberry.field
    async def user(self, info: Info) -> UserType:
        return await load_user(info, self.issued.user_id)

    @classmethod
    def of(cls, issued: IssuedTokens) -> AuthPayload:
        """Wrap issued tokens."""
        return cls(
            access_token=issued.access_token,
            refresh_token=issued.refresh_token,
            access_token_expires_at=issued.access_expires_at,
            issued=issued,
        )


@strawberry.input
class SignUpInput:
    """A new account."""

    email: str
    password: str
    name: str


@strawberry.input
class LogInInput:
    """Credentials."""

    email: str
    password: str
