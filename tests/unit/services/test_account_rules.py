"""Pure rules of account settings and deletion: profile changes, who must hand over a
workspace, the tombstone's address, literal Redis patterns."""

from __future__ import annotations

import pytest
from beanie import PydanticObjectId

from notes_bff.errors import BadInput
from notes_bff.models import Member, Role, Workspace
from notes_bff.services.account import ProfileChanges, profile_update
from notes_bff.services.account_deletion import needs_another_owner
from notes_bff.services.erasure import glob_escape, tombstone_email

ME, YOU, THEM = PydanticObjectId(), PydanticObjectId(), PydanticObjectId()


def _workspace(*members: tuple[PydanticObjectId, Role]) -> Workspace:
    # model_construct: a Beanie document built without a database.
    return Workspace.model_construct(
        name="W",
        owner_id=members[0][0],
        members=[Member(user_id=user, role=role) for user, role in members],
    )


def test_only_sent_fields_change_and_blank_settings_clear() -> None:
    changes = ProfileChanges(name=" Ada ", avatar_url="", locale="en-gb")
    assert profile_update(changes) == {"name": "Ada", "avatar_url": None, "locale": "en-GB"}
    assert profile_update(ProfileChanges()) == {}


def test_the_name_cannot_be_cleared() -> None:
    with pytest.raises(BadInput) as refused:
        profile_update(ProfileChanges(name=None))
    assert refused.value.field == "input.name"


@pytest.mark.parametrize(
    ("members", "blocks"),
    [
        (((ME, Role.OWNER),), False),  # alone: deleted with the account
        (((ME, Role.OWNER), (YOU, Role.EDITOR)), True),
        (((ME, Role.OWNER), (YOU, Role.OWNER)), False),
        (((YOU, Role.OWNER), (ME, Role.EDITOR)), False),
        (((ME, Role.OWNER), (YOU, Role.VIEWER), (THEM, Role.OWNER)), False),
    ],
)
def test_the_last_owner_of_a_shared_workspace_must_hand_it_over(
    members: tuple[tuple[PydanticObjectId, Role], ...], blocks: bool
) -> None:
    assert needs_another_owner(_workspace(*members), ME) is blocks


def test_the_tombstone_address_is_unique_and_undeliverable() -> None:
    assert tombstone_email(ME) != tombstone_email(YOU)
    assert tombstone_email(ME).endswith(".invalid")


def test_glob_characters_match_literally() -> None:
    assert glob_escape("a*b?c[d]e\\f@x.com") == "a\\*b\\?c\\[d\\]e\\\\f@x.com"
