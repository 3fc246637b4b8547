"""Matching If-None-Match against an answer's ETag, without servers."""

from __future__ import annotations

from notes_bff.http.etags import _matches, etag_of


def test_an_etag_is_strong_and_follows_the_bytes() -> None:
    tag = etag_of(b'{"data":{}}')
    assert tag.startswith('"') and tag.endswith('"')
    assert etag_of(b'{"data":{}}') == tag
    assert etag_of(b'{"data":{"a":1}}') != tag


def test_if_none_match_lists_weak_tags_and_the_wildcard() -> None:
    tag = etag_of(b"x")
    assert _matches(tag, tag)
    assert _matches(f'"other", W/{tag}', tag)
    assert _matches("*", tag)
    assert not _matches('"other"', tag)
    assert not _matches("", tag)
