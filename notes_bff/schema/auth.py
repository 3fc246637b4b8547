"""Authentication types and inputs."""

from __future__ import annotations

from datetime import datetime

import strawberry

from notes_bff.auth.sessions import IssuedTokens
from notes_bff.schema.info import Info
from notes_bff.schema.users import UserType, load_user
from notes_bff.services import auth


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


@strawberry.type
class AuthMutation:
    """The sign-in root fields (a part of ``Mutation``); the transport keeps the session
    (cookies over HTTP)."""

    @strawberry.mutation
    async def sign_up(self, info: Info, input: SignUpInput) -> AuthPayload:
        issued = await auth.sign_up(
            info.context.actor,
            input.email,
            input.password,
            input.name,
            info.context.user_agent(),
        )
        info.context.signed_in(issued)
        return AuthPayload.of(issued)

    @strawberry.mutation
    async def log_in(self, info: Info, input: LogInInput) -> AuthPayload:
        issued = await auth.log_in(
            info.context.actor, input.email, input.password, info.context.user_agent()
        )
        info.context.signed_in(issued)
        return AuthPayload.of(issued)

    @strawberry.mutation(
        description="Rotates the refresh token (taken from the argument or the refresh cookie)."
    )
    async def refresh_session(self, info: Info, refresh_token: str | None = None) -> AuthPayload:
        token = refresh_token or info.context.refresh_token_sent()
        issued = await auth.refresh_session(info.context.actor, token, info.context.user_agent())
        info.context.signed_in(issued)
        return AuthPayload.of(issued)

    @strawberry.mutation(
        description="Revokes the current session's refresh token family and clears the cookies."
    )
    async def log_out(self, info: Info) -> bool:
        await auth.log_out(info.context.actor, info.context.refresh_token_sent())
        info.context.signed_out()
        return True
