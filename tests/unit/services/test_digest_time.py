"""When a user's daily digest goes, in their own time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from notes_bff.models import User
from notes_bff.services.digest import next_digest_at, zone_of_user

PARIS = ZoneInfo("Europe/Paris")


def test_the_digest_goes_at_the_hour_of_the_users_own_day() -> None:
    before_eight = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # 07:00 in Paris
    assert next_digest_at(before_eight, PARIS, 8) == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    after_eight = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # exactly 08:00 in Paris: next day
    assert next_digest_at(after_eight, PARIS, 8) == datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    assert next_digest_at(after_eight, ZoneInfo("UTC"), 8) == datetime(
        2026, 11, 30, 8, 0, tzinfo=UTC
    )


def test_daylight_saving_changes_keep_the_local_hour() -> None:
    # Paris moves from UTC+1 to UTC+2 on 2026-03-29: 08:00 local is 07:00 then 06:00 UTC.
    saturday = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    assert next_digest_at(saturday, PARIS, 8) == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    # A skipped hour (02:00 does not exist that night) still gives one moment that day.
    skipped = next_digest_at(saturday, PARIS, 2)
    assert skipped.date() == datetime(2026, 3, 29, tzinfo=UTC).date()


def test_a_user_without_a_known_time_zone_gets_utc() -> None:
    assert zone_of_user(None) == ZoneInfo("UTC")
    stale = User.model_construct(time_zone="Mars/Olympus_Mons")
    assert zone_of_user(stale) == ZoneInfo("UTC")
    assert zone_of_user(User.model_construct(time_zone="Europe/Paris")) == PARIS
