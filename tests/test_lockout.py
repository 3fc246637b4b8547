"""Strangers cannot lock an owner out: failed sign-ins are limited per (account, address) and
per address strictly, per account only from unknown addresses, refreshes on their own; only
failures count, and every refusal is HTTP 429 with ``Retry-After`` (docs/security.md)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import Api, Reply

SIGN_UP = "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }"
LOG_IN = "mutation($i: LogInInput!) { logIn(input: $i) { accessToken } }"
REFRESH = "mutation($t: String) { refreshSession(refreshToken: $t) { accessToken } }"
RIGHT = "correct horse"
BUDGETS = {
    "trusted_proxies": "127.0.0.1/32",
    "auth_attempts": 3,  # failed log-ins per (account, address)
    "auth_attempts_per_ip": 8,  # failed log-ins and sign-ups per address
    "auth_account_attempts": 5,  # failed log-ins per account, from unknown addresses
    "refresh_attempts_per_ip": 3,  # failed refreshes per address
}


def _address() -> str:
    """A fresh client address (budgets live in the session's Redis)."""
    return f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


@pytest.fixture
async def api(other_app: Any) -> AsyncIterator[Api]:
    async with other_app(**BUDGETS) as api:
        yield api


async def _from(api: Api, address: str, query: str, variables: dict[str, Any]) -> Reply:
    return await api.gql(query, variables, headers={"X-Forwarded-For": address})


async def _sign_up(api: Api, address: str) -> str:
    email = f"owner-{secrets.token_hex(4)}@example.com"
    reply = await _from(
        api, address, SIGN_UP, {"i": {"email": email, "password": RIGHT, "name": "O"}}
    )
    assert not reply.errors, reply.errors
    return email


async def _log_in(api: Api, address: str, email: str, password: str = RIGHT) -> Reply:
    return await _from(api, address, LOG_IN, {"i": {"email": email, "password": password}})


def _limited(reply: Reply) -> bool:
    """Refused by a budget: HTTP 429, with ``Retry-After`` equal to ``extensions.retryAfter``."""
    if reply.codes != ["RATE_LIMITED"]:
        assert reply.codes in ([], ["UNAUTHENTICATED"]), reply.body
        return False
    assert reply.status == 429
    retry = reply.errors[0]["extensions"]["retryAfter"]
    assert retry >= 1 and reply.headers["Retry-After"] == str(retry)
    return True


async def test_wrong_passwords_from_elsewhere_do_not_lock_the_owner_out(api: Api) -> None:
    home, guesser = _address(), _address()
    email = await _sign_up(api, home)  # signing up makes `home` known-good for the account
    for _ in range(3):
        assert (await _log_in(api, guesser, email, "wrong guess")).codes == ["UNAUTHENTICATED"]
    # The guesser's pair is exhausted: refused before the password is even checked.
    assert _limited(await _log_in(api, guesser, email))
    # The owner at home is not affected, and their successes spend nothing.
    for _ in range(5):
        assert not (await _log_in(api, home, email)).errors
    # Guesses from a second address exhaust the account's budget for unknown addresses...
    for _ in range(2):
        assert not _limited(await _log_in(api, _address(), email, "wrong guess"))
    assert _limited(await _log_in(api, _address(), email))
    # ...which does not apply where the owner signed in before.
    assert not (await _log_in(api, home, email)).errors


async def test_a_successful_log_in_makes_its_address_known_good(api: Api) -> None:
    email = await _sign_up(api, _address())
    travel = _address()
    assert not (await _log_in(api, travel, email)).errors
    for _ in range(5):  # the account's budget for unknown addresses
        assert not _limited(await _log_in(api, _address(), email, "wrong guess"))
    assert _limited(await _log_in(api, _address(), email))
    assert not (await _log_in(api, travel, email)).errors


async def test_bogus_refreshes_do_not_stop_signing_in_from_that_address(api: Api) -> None:
    email = await _sign_up(api, _address())
    noisy = _address()
    for _ in range(3):
        reply = await _from(api, noisy, REFRESH, {"t": "not.a.token"})
        assert reply.codes == ["UNAUTHENTICATED"]
    assert _limited(await _from(api, noisy, REFRESH, {"t": "not.a.token"}))
    assert not (await _log_in(api, noisy, email)).errors


async def test_one_address_guessing_across_accounts_is_stopped(api: Api) -> None:
    emails = [await _sign_up(api, _address()) for _ in range(3)]
    guesser = _address()
    # Sign-ups spend the address's budget too (a taken email is still a CONFLICT): probing
    # which emails are registered is throttled with guessing.
    taken = {"i": {"email": emails[0], "password": RIGHT, "name": "Probe"}}
    assert (await _from(api, guesser, SIGN_UP, taken)).codes == ["CONFLICT"]
    guesses = [await _log_in(api, guesser, e, "wrong guess") for e in emails for _ in range(2)]
    assert [r.codes for r in guesses] == [["UNAUTHENTICATED"]] * 6
    strangers = [f"nobody-{secrets.token_hex(4)}@example.com" for _ in range(2)]
    assert not _limited(await _log_in(api, guesser, strangers[0], "wrong guess"))
    assert _limited(await _log_in(api, guesser, strangers[1], "wrong guess"))
    assert _limited(await _from(api, guesser, SIGN_UP, taken))


async def test_concurrent_guesses_cannot_overdraw_the_budget(api: Api) -> None:
    email = await _sign_up(api, _address())
    guesser = _address()
    replies = await asyncio.gather(*(_log_in(api, guesser, email, f"guess {i}") for i in range(10)))
    # Each attempt is spent before its password is checked: exactly the budget gets through.
    assert sorted(_limited(r) for r in replies) == [False] * 3 + [True] * 7
