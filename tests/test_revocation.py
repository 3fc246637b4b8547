"""Sessions end when they are ended: log-out, refresh-token reuse and disabled users refuse
the access tokens at once, on every worker, over HTTP and websockets (docs/security.md)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from redis.asyncio import Redis

from notes_bff.auth.revocation import PREFIX
from notes_bff.config import Settings
from notes_bff.embedded import EmbeddedProcess
from notes_bff.keys import METRICS
from tests.conftest import Api, CommandCounter
from tests.ws import LEGACY_WS, TRANSPORT_WS, Closed, GraphQLSocket

ME = "{ me { id } }"
LOG_OUT = "mutation { logOut }"
LOG_IN = "mutation($i: LogInInput!) { logIn(input: $i) { accessToken refreshToken } }"
REFRESH = "mutation($t: String) { refreshSession(refreshToken: $t) { accessToken refreshToken } }"
NOTIFICATIONS = "subscription { notifications { id } }"
ENDED = "The session has ended; please sign in again."


async def _refused(api: Api, token: str) -> bool:
    """Whether ``token`` is refused (else it must be accepted)."""
    reply = await api.gql(ME, token=token)
    assert reply.codes in ([], ["UNAUTHENTICATED"]), reply.body
    return bool(reply.codes)


async def _soon(check: Callable[[], Awaitable[object]], within: float = 3.0) -> bool:
    """Whether ``check()`` turns true within ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


@contextlib.asynccontextmanager
async def _subscribed(api: Api, token: str, protocol: str) -> AsyncIterator[Any]:
    """A websocket with a live ``notifications`` subscription; yields (socket, op id)."""
    url = str(api.client.make_url("/graphql"))
    live = await GraphQLSocket.open(api.client.session, url, token=token, protocol=protocol)
    try:
        for _ in range(40):  # after a Redis restart (another test), the broker reconnects
            op = await live.subscribe(NOTIFICATIONS)
            try:
                refused = await live.next(op, timeout=0.3)
            except TimeoutError:
                break  # live
            assert refused["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            await asyncio.sleep(0.25)
        else:
            raise AssertionError("no live subscription")
        yield live, op
    finally:
        await live.close()


def _closing(live: GraphQLSocket, op: str) -> asyncio.Task[int | None]:
    """Read the socket, as a client listening for events does, until the server closes it
    (within 5 s); the task's result is the close code."""

    async def closed() -> int | None:
        with pytest.raises(Closed) as closed:
            await live.next(op, timeout=5)
        return closed.value.code

    return asyncio.create_task(closed())


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_log_out_ends_the_access_token_and_its_websockets_at_once(
    api: Api, protocol: str
) -> None:
    user = await api.sign_up()
    credentials = {"i": {"email": user["email"], "password": "correct horse"}}
    other_login = (await api.ok(LOG_IN, credentials))["logIn"]
    assert not await _refused(api, user["token"])
    async with _subscribed(api, user["token"], protocol) as (live, op):
        closing = _closing(live, op)
        assert await api.ok(LOG_OUT, token=user["token"]) == {"logOut": True}
        assert await closing == 4403
    reply = await api.gql(ME, token=user["token"])
    assert (reply.codes, reply.errors[0]["message"]) == (["UNAUTHENTICATED"], ENDED)
    cookie = await api.client.post(
        "/graphql", json={"query": ME}, headers={"Cookie": f"nb_access={user['token']}"}
    )
    assert (await cookie.json())["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    url = str(api.client.make_url("/graphql"))
    with pytest.raises(Closed) as refused:
        await GraphQLSocket.open(api.client.session, url, token=user["token"], protocol=protocol)
    assert refused.value.code == 4403
    # Only that login ended: the user's other session goes on.
    assert not await _refused(api, other_login["accessToken"])


async def test_refresh_token_reuse_ends_the_familys_access_tokens(api: Api) -> None:
    user = await api.sign_up()
    rotated = (await api.ok(REFRESH, {"t": user["refresh"]}))["refreshSession"]
    assert not await _refused(api, rotated["accessToken"])
    async with _subscribed(api, rotated["accessToken"], TRANSPORT_WS) as (live, op):
        closing = _closing(live, op)
        assert (await api.gql(REFRESH, {"t": user["refresh"]})).codes == ["UNAUTHENTICATED"]
        assert await closing == 4403
    assert await _refused(api, user["token"])
    assert await _refused(api, rotated["accessToken"])


async def test_revocation_reaches_another_worker_at_once(api: Api, other_app: Any) -> None:
    # A long local cache: only the announcement can tell the other worker in time.
    async with other_app(revocation_cache_seconds=60) as other:
        user = await api.sign_up()
        assert not await _refused(other, user["token"])  # cached there as valid
        async with _subscribed(other, user["token"], LEGACY_WS) as (live, op):
            closing = _closing(live, op)
            await api.ok(LOG_OUT, token=user["token"])
            # Announced over pub/sub: milliseconds (an event-loop turn may separate the
            # announcement from a request that arrives at the same moment).
            assert await _soon(lambda: _refused(other, user["token"]), within=0.5)
            assert await closing == 4403


async def test_without_a_local_cache_the_next_request_anywhere_is_refused(
    api: Api, other_app: Any
) -> None:
    async with other_app(revocation_cache_seconds=0) as other:  # one MGET per request
        user = await api.sign_up()
        assert not await _refused(other, user["token"])
        await api.ok(LOG_OUT, token=user["token"])
        assert await _refused(other, user["token"])


async def test_checks_read_no_database_per_request(other_app: Any) -> None:
    """A signed-in request costs no MongoDB read, and at most one Redis round trip per login
    per ``NOTES_BFF_REVOCATION_CACHE_SECONDS`` (the GETs of its two records, pipelined;
    counted without the response cache, whose lookups are pipelines too)."""
    command_counter = CommandCounter()
    async with other_app(mongo_listeners=[command_counter], response_cache=False) as api:
        await _reads_per_request(api, command_counter)


async def _reads_per_request(api: Api, command_counter: CommandCounter) -> None:
    user = await api.sign_up()
    metrics = api.client.server.app[METRICS].registry

    def round_trips() -> float:
        sample = "notes_bff_redis_command_duration_seconds_count"
        return metrics.get_sample_value(sample, {"command": "PIPELINE"}) or 0.0

    query = "{ rateLimit { remaining } }"  # reads no MongoDB collection itself
    command_counter.reset()
    before = round_trips()
    await api.ok(query, token=user["token"])
    assert round_trips() - before == 1  # the first use of this login: one round trip
    assert command_counter.data_commands() == []
    before = round_trips()
    for _ in range(10):
        await api.ok(query, token=user["token"])
    assert round_trips() - before <= 1  # then from memory (one refresh if a second passed)
    assert command_counter.data_commands() == []


async def test_while_redis_is_down_mongodb_decides_and_the_record_follows(
    api: Api, other_app: Any, settings: Settings, servers: dict[str, EmbeddedProcess]
) -> None:
    async with other_app() as other:
        user = await api.sign_up()
        assert not await _refused(other, user["token"])
        servers["redis"].stop()
        try:
            await api.ok(LOG_OUT, token=user["token"])
            assert await _refused(api, user["token"])  # the worker that ended it knows
            # Another worker misses the announcement: after its one-second cache, MongoDB.
            assert await _soon(lambda: _refused(other, user["token"]))
        finally:
            servers["redis"].start()
    # The worker that ended the session writes the record once Redis is back.
    family = jwt.decode(user["token"], options={"verify_signature": False})["fam"]
    redis = Redis.from_url(settings.redis_url or "")
    try:
        assert await _soon(lambda: redis.exists(f"{PREFIX}family:{family}"), within=10)
    finally:
        await redis.aclose()


async def _disable(settings: Settings, email: str, tmp_path: Path) -> tuple[int, str]:
    """``notes-bff users disable EMAIL`` in a subprocess, as an operator runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTES_BFF_")}
    env.update(
        NOTES_BFF_MONGODB_URI=settings.mongodb_uri or "",
        NOTES_BFF_MONGODB_DB=settings.mongodb_db,
        NOTES_BFF_REDIS_URL=settings.redis_url or "",
        NOTES_BFF_DATA_DIR=str(tmp_path),
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "notes_bff", "users", "disable", email,
        env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, stderr.decode()


async def test_a_disabled_user_is_signed_out_everywhere_and_cannot_sign_in(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    user, bystander = await api.sign_up(), await api.sign_up()
    credentials = {"i": {"email": user["email"], "password": "correct horse"}}
    second = (await api.ok(LOG_IN, credentials))["logIn"]
    async with _subscribed(api, second["accessToken"], TRANSPORT_WS) as (live, op):
        closing = _closing(live, op)
        code, stderr = await _disable(settings, user["email"].upper(), tmp_path)
        assert code == 0 and f"disabled {user['email']}" in stderr, stderr
        assert await closing == 4403
    assert await _refused(api, user["token"])
    assert await _refused(api, second["accessToken"])
    refused = await api.gql(LOG_IN, credentials)
    assert (refused.codes, refused.errors[0]["message"]) == (
        ["UNAUTHENTICATED"],
        "This account is disabled.",
    )
    assert (await api.gql(REFRESH, {"t": second["refreshToken"]})).codes == ["UNAUTHENTICATED"]
    assert not await _refused(api, bystander["token"])
    code, stderr = await _disable(settings, "nobody@example.com", tmp_path)
    assert code == 1 and "no user has the email nobody@example.com" in stderr
