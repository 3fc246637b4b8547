"""Workspace changes: a field left out is kept, a field sent as null clears it; the two never
look alike on the way from the GraphQL input to the service."""

from __future__ import annotations

import pytest

from notes_bff.schema.workspaces import UpdateWorkspaceInput
from notes_bff.services.changes import KEEP, WorkspaceChanges


@pytest.mark.parametrize(
    ("changes", "given"),
    [
        (WorkspaceChanges(), {}),
        (WorkspaceChanges(name="Team"), {"name": "Team"}),
        (WorkspaceChanges(description=None), {"description": None}),
        (WorkspaceChanges(name="Team", description=""), {"name": "Team", "description": ""}),
    ],
)
def test_given_lists_exactly_the_fields_sent(
    changes: WorkspaceChanges, given: dict[str, str | None]
) -> None:
    assert changes.given() == given


def test_an_input_field_left_out_is_kept_and_null_clears() -> None:
    assert UpdateWorkspaceInput().changes() == WorkspaceChanges(name=KEEP, description=KEEP)
    cleared = UpdateWorkspaceInput(description=None).changes()
    assert cleared.given() == {"description": None}
    renamed = UpdateWorkspaceInput(name="New name").changes()
    assert renamed.given() == {"name": "New name"}
