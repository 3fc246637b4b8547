"""The users domain: the User type and ``Query.me``."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from datetime import datetime

import strawberry
from beanie import PydanticObjectId

from notes_bff.execution.subtree_reuse import document_view
from notes_bff.models import User as UserDoc
from notes_bff.schema.info import Info
from notes_bff.services.account import is_self
from notes_bff.services.users import visible_email


@document_view
@strawberry.type(name="User")
class UserType:
    """A person; the email shows only to themself and to co-members of a workspace."""

    id: strawberry.ID
    name: str
    avatar_url: str | None
    created_at: datetime
    doc: strawberry.Private[UserDoc]

    @classmethod
    def from_document(cls, doc: UserDoc) -> UserType:
        """Wrap a stored user."""
        return cls(
            id=strawberry.ID(str(doc.id)),
            name=doc.name,
            avatar_url=doc.avatar_url,
            created_at=doc.created_at,
            doc=doc,
        )

    @strawberry.field(
        description=(
            "Visible to the user themself and to members of a workspace they share; null otherwise."
        )
    )
    async def email(self, info: Info) -> str | None:
        return await visible_email(info.context.actor, self.doc)

    @strawberry.field(
        description=(
            "The IANA time zone the user chose (such as Europe/Paris); only for the user "
            "themself, null otherwise or when unset."
        )
    )
    def time_zone(self, info: Info) -> str | None:
        return self.doc.time_zone if is_self(info.context.actor, self.doc.id) else None

    @strawberry.field(
        description=(
            "The BCP 47 language tag the user chose (such as en-US); only for the user "
            "themself, null otherwise or when unset."
        )
    )
    def locale(self, info: Info) -> str | None:
        return self.doc.locale if is_self(info.context.actor, self.doc.id) else None

    @strawberry.field(
        description=(
            "When the account will be erased (deleteMyAccount), until cancelAccountDeletion; "
            "only for the user themself, null otherwise or when none is scheduled."
        )
    )
    def deletion_scheduled_for(self, info: Info) -> datetime | None:
        own = is_self(info.context.actor, self.doc.id)
        return self.doc.deletion_scheduled_for if own else None


def load_user(info: Info, user_id: PydanticObjectId) -> Awaitable[UserType]:
    """A user by id through the request's loader (users are never deleted), as a future: a
    resolver returns it as it is (no coroutine, hence no task per field)."""
    return info.context.loaders.user_by_id.view_then(
        user_id, UserType.from_document, f"user {user_id} is missing"
    )


def load_users(info: Info, user_ids: Sequence[PydanticObjectId]) -> Awaitable[list[UserType]]:
    """The users that exist among ``user_ids``, in order, as a future (``load_user``)."""
    return info.context.loaders.user_by_id.views_then(user_ids, UserType.from_document)


@strawberry.type
class UsersQuery:
    """The user root fields (a part of ``Query``)."""

    @strawberry.field(description="The authenticated user, or null for an anonymous request.")
    async def me(self, info: Info) -> UserType | None:
        viewer = info.context.viewer_id
        doc = await info.context.loaders.user_by_id.load_document(viewer) if viewer else None
        return UserType.from_document(doc) if doc else None
