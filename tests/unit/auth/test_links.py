"""Signed, expiring links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from notes_bff.auth.links import link_valid, signed_path

KEY = b"k" * 32
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _parts(url: str) -> tuple[str, str, str]:
    split = urlsplit(url)
    query = parse_qs(split.query)
    return split.path, query["expires"][0], query["signature"][0]


def test_a_link_is_valid_until_it_expires() -> None:
    path, expires, signature = _parts(signed_path(KEY, "/exports/1", NOW + timedelta(hours=1)))
    assert path == "/exports/1"
    assert link_valid(KEY, path, expires, signature, NOW)
    assert not link_valid(KEY, path, expires, signature, NOW + timedelta(hours=1))


def test_any_change_to_a_link_or_its_key_invalidates_it() -> None:
    path, expires, signature = _parts(signed_path(KEY, "/exports/1", NOW + timedelta(hours=1)))
    assert not link_valid(KEY, "/exports/2", expires, signature, NOW)
    assert not link_valid(KEY, path, str(int(expires) + 1), signature, NOW)
    flipped = signature[:-1] + ("1" if signature[-1] == "0" else "0")
    assert not link_valid(KEY, path, expires, flipped, NOW)
    assert not link_valid(b"x" * 32, path, expires, signature, NOW)
    assert not link_valid(KEY, path, "-1", signature, NOW)
    assert not link_valid(KEY, path, "", "", NOW)
