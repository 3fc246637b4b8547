"""The read-routing and write-concern settings, and the read preference they make."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from pymongo.read_preferences import Primary, SecondaryPreferred

from notes_bff.config import Settings
from notes_bff.db import list_read_preference


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_by_default_every_read_is_on_the_primary_and_writes_wait_for_a_majority() -> None:
    settings = _settings()
    assert not settings.list_reads_routed
    assert list_read_preference(settings) == Primary()
    assert settings.mongodb_write_concern == "majority"


def test_list_reads_on_secondaries_with_tag_sets_and_a_staleness_bound() -> None:
    settings = _settings(
        mongodb_list_read_preference="secondaryPreferred",
        mongodb_max_staleness_seconds=120,
        mongodb_read_tags="dc:east, rack:1 ;dc:west",
    )
    assert settings.list_reads_routed
    assert list_read_preference(settings) == SecondaryPreferred(
        tag_sets=[{"dc": "east", "rack": "1"}, {"dc": "west"}], max_staleness=120
    )


@pytest.mark.parametrize(
    "values",
    [
        {"mongodb_max_staleness_seconds": 60, "mongodb_list_read_preference": "secondary"},
        {"mongodb_max_staleness_seconds": 120},  # staleness of the primary means nothing
        {"mongodb_read_tags": "dc:east", "mongodb_list_read_preference": "primary"},
        {"mongodb_read_tags": "dc", "mongodb_list_read_preference": "nearest"},
        {"mongodb_list_read_preference": "secondaries"},
        {"mongodb_write_concern": "all"},
    ],
)
def test_settings_mongodb_would_refuse_are_refused_at_start(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _settings(**values)


def test_a_list_read_deployment_routes_list_reads_even_with_the_primary_preference() -> None:
    assert _settings(mongodb_list_read_uri="mongodb://replica:27017").list_reads_routed
