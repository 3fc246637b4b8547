"""Workspaces by member."""

from __future__ import annotations

from collections.abc import Sequence

from beanie import PydanticObjectId

from notes_bff.loaders.base import Loader
from notes_bff.loaders.by_id import WorkspaceByIdLoader
from notes_bff.models import Workspace
from notes_bff.response_cache import tags


class WorkspacesByMemberLoader(Loader[PydanticObjectId, list[Workspace]]):
    """Every workspace each user is a member of, oldest first; primes workspaces by id."""

    cache_tag_kind = tags.MEMBERSHIPS

    def __init__(self, workspace_by_id: WorkspaceByIdLoader) -> None:
        super().__init__()
        self._workspace_by_id = workspace_by_id

    async def batch_load_fn(self, keys: Sequence[PydanticObjectId]) -> list[list[Workspace]]:
        workspaces = (
            await Workspace.find({"members.user_id": {"$in": list(set(keys))}})
            .sort("+created_at")
            .to_list()
        )
        self._workspace_by_id.prime_many(workspaces)
        return [[ws for ws in workspaces if ws.role_of(key) is not None] for key in keys]
