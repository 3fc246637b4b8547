"""One-click unsubscribe tokens: valid only as signed, with this key."""

from __future__ import annotations

from notes_bff.email.unsubscribe import Unsubscribe, sign, verify

KEY = "k" * 40
SUBJECT = Unsubscribe("6b0c9ea10987f8331f3ba606", "MENTION")


def test_a_signed_token_verifies_to_its_subject() -> None:
    assert verify(KEY, sign(KEY, SUBJECT)) == SUBJECT


def test_tampered_foreign_or_malformed_tokens_are_refused() -> None:
    token = sign(KEY, SUBJECT)
    payload, _, signature = token.partition(".")
    other = sign(KEY, Unsubscribe(SUBJECT.user_id, "ASSIGNED")).partition(".")[0]
    for bad in (
        f"{other}.{signature}",
        f"{payload}.{signature[:-1]}A" if signature[-1] != "A" else f"{payload}.{signature[:-1]}B",
        sign("x" * 40, SUBJECT),
        "",
        "no-dot",
        "!!!.???",
    ):
        assert verify(KEY, bad) is None, bad
