"""Access and refresh tokens: what a verified token's cache may and may not answer."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from notes_bff.auth import tokens
from notes_bff.auth.tokens import TokenService
from notes_bff.errors import Unauthenticated


def _service(access_ttl: timedelta = timedelta(minutes=15)) -> TokenService:
    return TokenService(
        key="k" * 32,
        issuer="notes-bff",
        audience="notes-web",
        access_ttl=access_ttl,
        refresh_ttl=timedelta(days=30),
    )


def test_a_token_verified_again_is_answered_from_memory() -> None:
    service = _service()
    token, _ = service.issue_access("u1", "f1")
    first = service.verify(token, "access")
    # The same claims object: the second verification did not decode the token again.
    assert service.verify(token, "access") is first
    assert first.user_id == "u1" and first.family_id == "f1"


def test_the_cache_answers_only_for_the_type_it_verified() -> None:
    service = _service()
    token, _ = service.issue_access("u1", "f1")
    service.verify(token, "access")
    with pytest.raises(Unauthenticated, match="refresh token is needed"):
        service.verify(token, "refresh")
    refresh = service.issue_refresh("u1", "s1", "f1")
    assert service.verify(refresh, "refresh").session_id == "s1"
    with pytest.raises(Unauthenticated, match="access token is needed"):
        service.verify(refresh, "access")


def test_a_cached_token_is_refused_once_it_expires() -> None:
    service = _service(access_ttl=timedelta(seconds=1))
    token, expires_at = service.issue_access("u1", "f1")
    assert service.verify(token, "access").user_id == "u1"
    # PyJWT stores whole seconds: wait until the token's ``exp`` has passed.
    time.sleep(max(0.0, expires_at.timestamp() - time.time()) + 0.05)
    with pytest.raises(Unauthenticated, match="expired"):
        service.verify(token, "access")
    with pytest.raises(Unauthenticated, match="expired"):
        service.verify(token, "access")


def test_invalid_tokens_are_not_kept_and_the_cache_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tokens, "VERIFIED_CACHE_SIZE", 3)
    service = _service()
    issued = [service.issue_access(f"u{i}", f"f{i}")[0] for i in range(5)]
    for token in issued:
        service.verify(token, "access")
    with pytest.raises(Unauthenticated):
        service.verify(issued[0][:-2] + "xx", "access")
    assert len(service._verified) == 3
    # The oldest went first; every token still verifies (decoded again when forgotten).
    assert [key[0] for key in service._verified] == issued[2:]
    assert [service.verify(t, "access").user_id for t in issued] == [f"u{i}" for i in range(5)]
