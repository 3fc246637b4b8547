"""Workspaces and their embedded members."""

from datetime import datetime
from enum import StrEnum

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

from notes_bff.errors import Forbidden, NotFound
from notes_bff.models.clock import now


class Role(StrEnum):
    """A member's role; each includes the rights of the ones below it."""

    OWNER = "OWNER"
    EDITOR = "EDITOR"
    VIEWER = "VIEWER"

    @property
    def rank(self) -> int:
        """2 for owners, 1 for editors, 0 for viewers."""
        return {Role.OWNER: 2, Role.EDITOR: 1, Role.VIEWER: 0}[self]

    def allows(self, needed: "Role") -> bool:
        """Whether this role has at least the rights of ``needed``."""
        return self.rank >= needed.rank


class Member(BaseModel):
    """A user's membership in a workspace."""

    user_id: PydanticObjectId
    role: Role
    joined_at: datetime = Field(default_factory=now)


class Workspace(Document):
    """A shared space of notes."""

    name: str
    description: str | None = None
    owner_id: PydanticObjectId
    members: list[Member]
    created_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)

    class Settings:
        name = "workspaces"
        indexes = [
            IndexModel(
                [("members.user_id", ASCENDING), ("created_at", ASCENDING)], name="member_created"
            )
        ]

    def role_of(self, user_id: PydanticObjectId) -> Role | None:
        """The role of ``user_id`` here, or None for a non-member."""
        for member in self.members:
            if member.user_id == user_id:
                return member.role
        return None


def member_role(workspace: Workspace | None, user_id: PydanticObjectId) -> Role | None:
    """The user's role in ``workspace``; None for a non-member, or when there is none."""
    return workspace.role_of(user_id) if workspace is not None else None


def require_role(role: Role | None, needed: Role, missing: str) -> Role:
    """``role`` if it allows ``needed``: NOT_FOUND (``missing``) for a non-member (unknown
    and foreign look alike), FORBIDDEN for a member with less."""
    if role is None:
        raise NotFound(missing)
    if not role.allows(needed):
        raise Forbidden(
            f"This needs the {needed.value} role in the workspace; you are {role.value}."
        )
    return role
