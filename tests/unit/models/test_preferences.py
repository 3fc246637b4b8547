"""Which channels a user's preferences allow for a notification."""

from __future__ import annotations

from beanie import PydanticObjectId

from notes_bff.models import Channels, NotificationKind, NotificationPreferences

USER = PydanticObjectId("6b0c9ea10987f8331f3ba606")
WS = PydanticObjectId("6b0c9ea10987f8331f3ba607")
MENTION = NotificationKind.MENTION


def _prefs(**fields: object) -> NotificationPreferences:
    """Preferences as stored (built without a database, as a unit test must)."""
    return NotificationPreferences.model_construct(user_id=USER, **fields)


def test_defaults_allow_every_kind_in_the_app_and_by_email() -> None:
    prefs = _prefs()
    assert all(prefs.shows(k, WS) and prefs.emails(k, WS) for k in NotificationKind)


def test_each_channel_is_switched_per_kind() -> None:
    prefs = _prefs(kinds={MENTION: Channels(email=False)})
    assert prefs.shows(MENTION, WS) and not prefs.emails(MENTION, WS)
    assert prefs.emails(NotificationKind.ASSIGNED, WS)


def test_a_muted_workspace_silences_both_channels_but_not_other_workspaces() -> None:
    prefs = _prefs(muted_workspace_ids=[WS])
    assert not prefs.shows(MENTION, WS) and not prefs.emails(MENTION, WS)
    assert prefs.shows(MENTION, None) and prefs.emails(MENTION, USER)


def test_the_daily_digest_holds_back_immediate_emails_only() -> None:
    prefs = _prefs(daily_digest=True)
    assert prefs.shows(MENTION, WS) and not prefs.emails(MENTION, WS)
