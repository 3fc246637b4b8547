"""Membership and roles: strangers cannot tell a foreign workspace from a missing one
(NOT_FOUND), members with too low a role are told which role it needs (FORBIDDEN)."""

from __future__ import annotations

import pytest
from beanie import PydanticObjectId

from notes_bff.errors import Forbidden, NotFound
from notes_bff.models.workspace import Member, Role, Workspace, member_role, require_role

OWNER, EDITOR, VIEWER, STRANGER = (PydanticObjectId() for _ in range(4))
# model_construct: a Beanie document built without a database (no validation, no collection).
TEAM = Workspace.model_construct(
    name="Team",
    owner_id=OWNER,
    members=[
        Member(user_id=OWNER, role=Role.OWNER),
        Member(user_id=EDITOR, role=Role.EDITOR),
        Member(user_id=VIEWER, role=Role.VIEWER),
    ],
)


def test_member_role_is_the_members_own() -> None:
    assert [member_role(TEAM, u) for u in (OWNER, EDITOR, VIEWER)] == [
        Role.OWNER,
        Role.EDITOR,
        Role.VIEWER,
    ]
    assert member_role(TEAM, STRANGER) is None
    assert member_role(None, OWNER) is None  # a workspace that does not exist


@pytest.mark.parametrize(
    ("role", "needed", "allowed"),
    [
        (Role.OWNER, Role.OWNER, True),
        (Role.OWNER, Role.VIEWER, True),
        (Role.EDITOR, Role.EDITOR, True),
        (Role.EDITOR, Role.OWNER, False),
        (Role.VIEWER, Role.VIEWER, True),
        (Role.VIEWER, Role.EDITOR, False),
    ],
)
def test_each_role_includes_the_ones_below(role: Role, needed: Role, allowed: bool) -> None:
    assert role.allows(needed) is allowed


@pytest.mark.parametrize("workspace", [TEAM, None])
def test_strangers_and_missing_workspaces_look_alike(workspace: Workspace | None) -> None:
    with pytest.raises(NotFound) as refused:
        require_role(member_role(workspace, STRANGER), Role.VIEWER, "No such workspace.")
    assert refused.value.message == "No such workspace."
    assert refused.value.as_extensions() == {"code": "NOT_FOUND"}


def test_a_member_with_less_is_told_the_role_needed() -> None:
    with pytest.raises(Forbidden) as refused:
        require_role(member_role(TEAM, VIEWER), Role.EDITOR, "No such note.")
    assert refused.value.code == "FORBIDDEN"
    assert refused.value.message == "This needs the EDITOR role in the workspace; you are VIEWER."


def test_enough_rights_return_the_role() -> None:
    assert require_role(member_role(TEAM, OWNER), Role.EDITOR, "No such note.") is Role.OWNER
