"""The user's time zone for suggestions: an IANA name, UTC when none is given,
BAD_USER_INPUT on ``timeZone`` otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from notes_bff.errors import BadInput
from notes_bff.services.suggestions import zone_of


@pytest.mark.parametrize(
    ("name", "key"), [(None, "UTC"), ("", "UTC"), ("Europe/Paris", "Europe/Paris")]
)
def test_iana_names_and_the_utc_default(name: str | None, key: str) -> None:
    assert zone_of(name).key == key


def test_the_zone_follows_daylight_saving_time() -> None:
    zone = zone_of("America/New_York")
    winter = datetime(2030, 1, 15, 12, tzinfo=UTC).astimezone(zone)
    summer = datetime(2030, 7, 15, 12, tzinfo=UTC).astimezone(zone)
    assert (winter.utcoffset(), summer.utcoffset()) == (timedelta(hours=-5), timedelta(hours=-4))


@pytest.mark.parametrize(
    "name", ["Mars/Olympus", "../../etc/passwd", "/etc/localtime", "Europe/Paris\x00", "+02:00"]
)
def test_anything_else_is_bad_input_on_time_zone(name: str) -> None:
    with pytest.raises(BadInput) as refused:
        zone_of(name)
    assert refused.value.as_extensions() == {"code": "BAD_USER_INPUT", "field": "timeZone"}
    assert refused.value.message == "timeZone is not an IANA time zone name."
