"""Cache keys and stored entries, without servers."""

from __future__ import annotations

from notes_bff.response_cache.store import _decode, operation_key


def test_a_key_names_the_document_the_operation_and_the_variables() -> None:
    base = operation_key("{ a }", None, {"x": 1, "y": [1, 2]})
    assert operation_key("{ a }", None, {"y": [1, 2], "x": 1}) == base  # order of keys
    assert operation_key("{ a }", None, {"x": 2, "y": [1, 2]}) != base
    assert operation_key("{ a }", "A", {"x": 1, "y": [1, 2]}) != base
    assert operation_key("{ a  }", None, {"x": 1, "y": [1, 2]}) != base
    assert operation_key("{ a }", None, None) == operation_key("{ a }", None, {})


def test_a_damaged_entry_is_a_miss_not_an_error() -> None:
    for raw in (b"", b"not json", b"[]", b'{"v": 1}', b'{"v": {}, "d": {}}', b'{"v": [], "x": 1}'):
        assert _decode(raw) is None
    entry = _decode(b'{"v": {"n:1": "3", "gen": "0"}, "d": {"a": 1}, "x": 12.5}')
    assert entry is not None
    assert entry.versions == {"n:1": "3", "gen": "0"} and entry.data == {"a": 1}
