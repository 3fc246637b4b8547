"""Consistency tokens: what a mutation's reply carries, and what a later request sends back."""

from __future__ import annotations

import pytest
from bson import Timestamp

from notes_bff.auth.consistency import MAX_TOKEN_CHARS, decode_token, encode_token
from notes_bff.errors import BadInput
from notes_bff.models.read_routing import ReadAfter

KEY = b"k" * 32
AFTER = ReadAfter(
    Timestamp(1_800_000_000, 7),
    {"clusterTime": Timestamp(1_800_000_000, 9), "signature": {"hash": b"\0" * 20, "keyId": 0}},
)


def test_a_token_names_the_point_it_was_issued_for() -> None:
    token = encode_token(KEY, AFTER)
    assert len(token) < MAX_TOKEN_CHARS
    assert decode_token(KEY, "h", token) == AFTER


def test_a_token_of_another_deployment_or_changed_by_the_client_is_refused() -> None:
    token = encode_token(KEY, AFTER)
    payload, signature = token.split(".")
    later = encode_token(KEY, ReadAfter(Timestamp(1_900_000_000, 1), AFTER.cluster_time))
    for bad in (
        encode_token(b"x" * 32, AFTER),
        f"{later.split('.')[0]}.{signature}",
        f"{payload}.{signature[:-2]}",
        f"{payload}.{signature}.{signature}",
        "!!!.???",
        token + "A" * MAX_TOKEN_CHARS,
    ):
        with pytest.raises(BadInput) as refused:
            decode_token(KEY, "X-Notes-Consistency", bad)
        assert refused.value.field == "X-Notes-Consistency"
