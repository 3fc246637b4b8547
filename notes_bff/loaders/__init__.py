"""Per-request dataloaders: a query's MongoDB round trips do not grow with its results."""

from __future__ import annotations

from functools import cached_property

from notes_bff.loaders.aggregates import NoteCountByWorkspaceLoader, TagCountsByWorkspaceLoader
from notes_bff.loaders.by_id import NoteByIdLoader, UserByIdLoader, WorkspaceByIdLoader
from notes_bff.loaders.by_member import WorkspacesByMemberLoader


class Loaders:
    """Every loader of one request, each made when first used (most requests use two or
    three of them); never shared between requests."""

    @cached_property
    def user_by_id(self) -> UserByIdLoader:
        """Users by id."""
        return UserByIdLoader()

    @cached_property
    def workspace_by_id(self) -> WorkspaceByIdLoader:
        """Workspaces by id."""
        return WorkspaceByIdLoader()

    @cached_property
    def note_by_id(self) -> NoteByIdLoader:
        """Notes by id."""
        return NoteByIdLoader()

    @cached_property
    def note_count_by_workspace(self) -> NoteCountByWorkspaceLoader:
        """Unarchived notes per workspace."""
        return NoteCountByWorkspaceLoader()

    @cached_property
    def tag_counts_by_workspace(self) -> TagCountsByWorkspaceLoader:
        """Tag usage per workspace."""
        return TagCountsByWorkspaceLoader()

    @cached_property
    def workspaces_by_member(self) -> WorkspacesByMemberLoader:
        """A member's workspaces (which prime ``workspace_by_id``)."""
        return WorkspacesByMemberLoader(self.workspace_by_id)


def build_loaders() -> Loaders:
    """Fresh loaders (and so fresh caches) for one request or one subscription event."""
    return Loaders()
