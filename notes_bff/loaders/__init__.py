"""Per-request dataloaders: a query's MongoDB round trips do not grow with its results."""

from __future__ import annotations

from dataclasses import dataclass

from notes_bff.loaders.aggregates import NoteCountByWorkspaceLoader, TagCountsByWorkspaceLoader
from notes_bff.loaders.by_id import NoteByIdLoader, UserByIdLoader, WorkspaceByIdLoader
from notes_bff.loaders.by_member import WorkspacesByMemberLoader


@dataclass(frozen=True)
class Loaders:
    """Every loader of one request; never shared between requests."""

    user_by_id: UserByIdLoader
    workspace_by_id: WorkspaceByIdLoader
    note_by_id: NoteByIdLoader
    note_count_by_workspace: NoteCountByWorkspaceLoader
    tag_counts_by_workspace: TagCountsByWorkspaceLoader
    workspaces_by_member: WorkspacesByMemberLoader


def build_loaders() -> Loaders:
    """Fresh loaders (and so fresh caches) for one request or one subscription event."""
    workspace_by_id = WorkspaceByIdLoader()
    return Loaders(
        user_by_id=UserByIdLoader(),
        workspace_by_id=workspace_by_id,
        note_by_id=NoteByIdLoader(),
        note_count_by_workspace=NoteCountByWorkspaceLoader(),
        tag_counts_by_workspace=TagCountsByWorkspaceLoader(),
        workspaces_by_member=WorkspacesByMemberLoader(workspace_by_id),
    )
