"""The User type."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import strawberry
from beanie import PydanticObjectId

from notes_bff.models import User as UserDoc
from notes_bff.schema.info import Info
from notes_bff.services.access import viewer_workspaces


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
        viewer = info.context.viewer_id
        if viewer is None:
            return None
        if viewer == self.doc.id:
            return self.doc.email
        shared = any(ws.role_of(self.doc.id) for ws in await viewer_workspaces(info.context))  # type: ignore[arg-type]
        return self.doc.email if shared else None


async def load_user(info: Info, user_id: PydanticObjectId) -> UserType:
    """A user by id through the request's loader (users are never deleted)."""
    doc = await info.context.loaders.user_by_id.load_document(user_id)
    if doc is None:
        raise LookupError(f"user {user_id} is missing")
    return UserType.from_document(doc)


async def load_users(info: Info, user_ids: Sequence[PydanticObjectId]) -> list[UserType]:
    """The users that exist among ``user_ids``, in order."""
    docs = await info.context.loaders.user_by_id.load_documents(user_ids)
    return [UserType.from_document(d) for d in docs]
