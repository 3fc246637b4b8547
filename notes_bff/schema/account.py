"""The account domain: profile settings, password change, and signed-in sessions."""

from __future__ import annotations

from datetime import datetime

import strawberry

from notes_bff.schema.auth import AuthPayload
from notes_bff.schema.info import Info
from notes_bff.schema.users import UserType
from notes_bff.services import account, sessions
from notes_bff.services.changes import KEEP, Keep
from notes_bff.services.sessions import SignedInSession


def _sent(value: str | None) -> str | Keep | None:
    return KEEP if value is strawberry.UNSET else value


@strawberry.input
class UpdateProfileInput:
    """Profile changes: an omitted field stays; null (or "") clears avatarUrl, timeZone and
    locale."""

    name: str | None = strawberry.UNSET
    avatar_url: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="An https:// image URL on a public host name, at most 2048 characters.",
    )
    time_zone: str | None = strawberry.field(
        default=strawberry.UNSET, description="An IANA time zone name, such as Europe/Paris."
    )
    locale: str | None = strawberry.field(
        default=strawberry.UNSET, description="A BCP 47 language tag, such as en-US."
    )

    def to_changes(self) -> account.ProfileChanges:
        """The typed changes."""
        return account.ProfileChanges(
            name=_sent(self.name),
            avatar_url=_sent(self.avatar_url),
            time_zone=_sent(self.time_zone),
            locale=_sent(self.locale),
        )


@strawberry.type(description="A signed-in device: one login and the refreshes of its tokens.")
class Session:
    id: strawberry.ID
    created_at: datetime = strawberry.field(description="When the login happened.")
    last_used_at: datetime = strawberry.field(
        description="The last sign-in or token refresh (tokens refresh every few minutes of use)."
    )
    user_agent: str | None = strawberry.field(description="The client's User-Agent, as sent.")
    client_address: str | None = strawberry.field(
        description="The client's IP address as the server saw it (approximate behind proxies)."
    )
    current: bool = strawberry.field(description="True for the session making this request.")

    @classmethod
    def of(cls, found: SignedInSession) -> Session:
        """Wrap a service's session."""
        return cls(
            id=strawberry.ID(found.id),
            created_at=found.created_at,
            last_used_at=found.last_used_at,
            user_agent=found.user_agent or None,
            client_address=found.client_address or None,
            current=found.current,
        )


@strawberry.type
class AccountQuery:
    """The account root fields (a part of ``Query``)."""

    @strawberry.field(description="The viewer's signed-in devices, most recently used first.")
    async def sessions(self, info: Info) -> list[Session]:
        return [Session.of(s) for s in await sessions.signed_in_sessions(info.context.actor)]


@strawberry.type
class AccountMutation:
    """The account root fields (a part of ``Mutation``)."""

    @strawberry.mutation(description="Changes the viewer's name, avatar, time zone or locale.")
    async def update_profile(self, info: Info, input: UpdateProfileInput) -> UserType:
        user = await account.update_profile(info.context.actor, input.to_changes())
        return UserType.from_document(user)

    @strawberry.mutation(
        description=(
            "Sets a new password (the current one is required): every other session ends at "
            "once, this one continues with the fresh tokens returned (and set as cookies)."
        )
    )
    async def change_password(
        self, info: Info, current_password: str, new_password: str
    ) -> AuthPayload:
        issued = await account.change_password(
            info.context.actor, current_password, new_password, info.context.user_agent()
        )
        info.context.signed_in(issued)
        return AuthPayload.of(issued)

    @strawberry.mutation(
        description=(
            "Ends one of the viewer's sessions on every server at once (its next request and "
            "websocket message are refused); ending the current one also clears its cookies."
        )
    )
    async def revoke_session(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        ended = await sessions.revoke_session(info.context.actor, str(id))
        if sessions.is_current(info.context.actor, ended):
            info.context.signed_out()
        return strawberry.ID(ended)

    @strawberry.mutation(description="Ends every session of the viewer but this one; how many.")
    async def revoke_other_sessions(self, info: Info) -> int:
        return await sessions.revoke_other_sessions(info.context.actor)
