"""The privacy domain: exporting the viewer's data, and deleting their account."""

from __future__ import annotations

from datetime import datetime

import strawberry

from notes_bff.schema.info import Info
from notes_bff.services import account_deletion, privacy


@strawberry.type(description="An archive of everything stored about the viewer.")
class DataExport:
    url: str = strawberry.field(
        description=(
            "Where to download it (a zip of JSON files), relative to this server; the link "
            "is its own credential: it works for whoever holds it, until expiresAt."
        )
    )
    expires_at: datetime = strawberry.field(description="When the link and the archive expire.")
    size_bytes: int

    @classmethod
    def of(cls, link: privacy.ExportLink) -> DataExport:
        """Wrap a service's link."""
        return cls(url=link.url, expires_at=link.expires_at, size_bytes=link.size_bytes)


@strawberry.type(description="A scheduled erasure of the viewer's account.")
class AccountDeletion:
    scheduled_for: datetime = strawberry.field(
        description="When the account will be erased, unless cancelAccountDeletion runs first."
    )
    delete_notes: bool = strawberry.field(
        description="Whether the notes they wrote go too (else they stay, by 'Deleted user')."
    )


@strawberry.type
class PrivacyMutation:
    """The privacy root fields (a part of ``Mutation``)."""

    @strawberry.mutation(
        description=(
            "Builds an archive of the viewer's profile, memberships, notes they wrote, "
            "notifications and sessions, and returns its expiring download link."
        )
    )
    async def export_my_data(self, info: Info) -> DataExport:
        return DataExport.of(await privacy.export_my_data(info.context.actor))

    @strawberry.mutation(
        description=(
            "Schedules the viewer's erasure after a grace period (password required). Refused "
            "(CONFLICT, extensions.workspaces) while they are the last owner of a shared "
            "workspace. Every other session ends now; this one stays, to cancel."
        )
    )
    async def delete_my_account(
        self, info: Info, password: str, delete_notes: bool = False
    ) -> AccountDeletion:
        scheduled = await account_deletion.delete_my_account(
            info.context.actor, password, delete_notes
        )
        return AccountDeletion(
            scheduled_for=scheduled.scheduled_for, delete_notes=scheduled.delete_notes
        )

    @strawberry.mutation(
        description="Cancels a scheduled erasure; false when none was pending (or it began)."
    )
    async def cancel_account_deletion(self, info: Info) -> bool:
        return await account_deletion.cancel_account_deletion(info.context.actor)
