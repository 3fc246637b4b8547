"""Account recovery and email change by emailed links: the root fields."""

from __future__ import annotations

import strawberry

from notes_bff.schema.auth import AuthPayload
from notes_bff.schema.info import Info
from notes_bff.schema.users import UserType
from notes_bff.services import email_change, password_reset


@strawberry.type
class RecoveryMutation:
    """Password reset and email change (a part of ``Mutation``)."""

    @strawberry.mutation(
        description="Emails a password-reset link if an account has this address. Always "
        "true, whether or not one has (RATE_LIMITED when the address or client asked too often)."
    )
    async def request_password_reset(self, info: Info, email: str) -> bool:
        await password_reset.request_password_reset(info.context.actor, email)
        return True

    @strawberry.mutation(
        description="Sets a new password with a reset link's token (single use, expiring), "
        "ends every session of the account, and signs in."
    )
    async def reset_password(self, info: Info, token: str, new_password: str) -> AuthPayload:
        issued = await password_reset.reset_password(
            info.context.actor, token, new_password, info.context.user_agent()
        )
        info.context.signed_in(issued)
        return AuthPayload.of(issued)

    @strawberry.mutation(
        description="Emails a confirmation link to the new address (the email changes once it "
        "is confirmed) and a notice to the current one; needs the password."
    )
    async def change_email(self, info: Info, new_email: str, password: str) -> bool:
        await email_change.request_email_change(info.context.actor, new_email, password)
        return True

    @strawberry.mutation(description="Confirms an email change with its link's token.")
    async def confirm_email_change(self, info: Info, token: str) -> UserType:
        user = await email_change.confirm_email_change(info.context.actor, token)
        return UserType.from_document(user)
