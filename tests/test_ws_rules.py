"""Every rule of an HTTP operation holds over both websocket subprotocols, and over HTTP."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import jwt
import pytest
from redis.asyncio import Redis

from notes_bff.auth.revocation import PREFIX as REVOCATION_PREFIX
from notes_bff.config import Settings
from notes_bff.models import PersistedDocument
from notes_bff.persisted.store import sha256_hex
from tests.conftest import Api
from tests.ws import LEGACY_WS, TRANSPORT_WS, Closed, GraphQLSocket

PROTOCOLS = [TRANSPORT_WS, LEGACY_WS]
NOTIFICATIONS = "subscription { notifications { id message } }"
DEEP = (
    "subscription($w: ID!) { workspaceEvents(workspaceId: $w) { note { workspace { notes "
    "{ nodes { workspace { notes { nodes { workspace { notes { nodes { workspace { notes "
    "{ nodes { title } } } } } } } } } } } } } } }"
)


@contextlib.asynccontextmanager
async def _socket(api: Api, token: str, protocol: str) -> AsyncIterator[GraphQLSocket]:
    url = str(api.client.make_url("/graphql"))
    live = await GraphQLSocket.open(api.client.session, url, token=token, protocol=protocol)
    try:
        yield live
    finally:
        await live.close()


_ids = itertools.count(1)


async def _send(live: GraphQLSocket, query: str, **payload: Any) -> str:
    """Start one operation with extra payload fields (``extensions``…); its id."""
    op_id = f"rule-{next(_ids)}"
    kind = "subscribe" if live.protocol == TRANSPORT_WS else "start"
    body = {"query": query, "variables": payload.pop("variables", {}), **payload}
    await live.ws.send_json({"id": op_id, "type": kind, "payload": body})
    return op_id


async def _first(live: GraphQLSocket, query: str, **payload: Any) -> dict[str, Any]:
    """The first answer to one operation."""
    return await live.next(await _send(live, query, **payload))


def _codes(answer: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in answer.get("errors", [])]


async def _close_code(live: GraphQLSocket) -> int | None:
    """Read (keep-alives of graphql-ws) until the server closes; its close code."""
    while True:
        try:
            await live.receive()
        except Closed as closed:
            return closed.code


@contextlib.asynccontextmanager
async def _trusted(query: str) -> AsyncIterator[None]:
    """``query`` registered as a trusted document for the block (then removed again)."""
    document = PersistedDocument(
        id=sha256_hex(query), body=query, name=None, operation_type="subscription"
    )
    await document.save()
    try:
        yield
    finally:
        await document.delete()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_trusted_mode_runs_only_registered_documents(
    api: Api, other_app: Any, protocol: str
) -> None:
    registered = "subscription Mine { notifications { id kind } }"
    user = await api.sign_up()  # signUp is not registered: sign up on the open server
    async with other_app(persisted_queries="trusted") as api, _trusted(registered):
        async with _socket(api, user["token"], protocol) as live:
            refused = await _first(live, NOTIFICATIONS)
            assert _codes(refused) == ["PERSISTED_QUERY_REQUIRED"]
            introspection = await _first(live, "{ __schema { types { name } } }")
            assert _codes(introspection) == ["PERSISTED_QUERY_REQUIRED"]
            mutation = await _first(live, "mutation { logOut }")
            assert _codes(mutation) == ["PERSISTED_QUERY_REQUIRED"]
            # The registered document runs, by its text or by its hash alone.
            by_hash = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(registered)}}
            for extra in ({}, {"extensions": by_hash}):
                running = await _send(live, registered, **extra)
                with pytest.raises(TimeoutError):  # running: it waits for a notification
                    await live.next(running, timeout=0.5)
        # Over HTTP, the same refusal.
        reply = await api.gql("mutation { logOut }", token=user["token"])
        assert reply.codes == ["PERSISTED_QUERY_REQUIRED"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_document_size_and_token_limits(other_app: Any, protocol: str) -> None:
    async with other_app(max_document_bytes=2048, max_tokens=200) as api:
        user = await api.sign_up()
        padding = "#" + "x" * 3000 + "\n"
        big = padding + NOTIFICATIONS
        tokens = "subscription { notifications { " + "id " * 300 + "} }"
        async with _socket(api, user["token"], protocol) as live:
            too_big = await _first(live, big)
            assert _codes(too_big) == ["QUERY_TOO_COMPLEX"]
            assert "over the limit of 2048" in too_big["errors"][0]["message"]
            assert _codes(await _first(live, tokens)) == ["QUERY_TOO_COMPLEX"]
        assert (await api.gql(big, token=user["token"])).codes == ["QUERY_TOO_COMPLEX"]
        assert (await api.gql(tokens, token=user["token"])).codes == ["QUERY_TOO_COMPLEX"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_message_larger_than_an_http_body_closes_the_socket(
    other_app: Any, protocol: str
) -> None:
    async with other_app(max_body_bytes=64 * 1024) as api:
        user = await api.sign_up()
        async with _socket(api, user["token"], protocol) as live:
            huge = "#" + "x" * (100 * 1024) + "\n" + NOTIFICATIONS
            await live.ws.send_json({"id": "1", "type": "start", "payload": {"query": huge}})
            assert await _close_code(live) == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        reply = await api.client.post("/graphql", json={"query": huge})
        assert reply.status == 413


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_depth_and_cost_limits(api: Api, protocol: str) -> None:
    user = await api.sign_up()
    ws = await api.workspace(user)
    async with _socket(api, user["token"], protocol) as live:
        answer = await _first(live, DEEP, variables={"w": ws})
        assert _codes(answer) == ["QUERY_TOO_COMPLEX"]
        assert "depth is" in answer["errors"][0]["message"]
    reply = await api.gql(DEEP, {"w": ws}, token=user["token"])
    assert reply.codes == ["QUERY_TOO_COMPLEX"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_rate_limit_points_are_spent_per_operation(other_app: Any, protocol: str) -> None:
    async with other_app(rate_limit_points=3) as api:
        user = await api.sign_up()
        async with _socket(api, user["token"], protocol) as live:
            ops = [await _send(live, NOTIFICATIONS) for _ in range(5)]
            answers = []
            for op in ops:
                with contextlib.suppress(TimeoutError):  # running subscriptions do not answer
                    answers.append(await live.next(op, timeout=0.5))
        # Each subscription costs 1 point of the 3: the fourth and fifth are refused.
        assert [_codes(a) for a in answers] == [["RATE_LIMITED"], ["RATE_LIMITED"]]
        assert answers[0]["errors"][0]["extensions"]["retryAfter"] >= 1


async def test_introspection_switch_and_suggestions_over_the_socket(other_app: Any) -> None:
    async with other_app(introspection=False, field_suggestions=False) as api:
        user = await api.sign_up()
        async with _socket(api, user["token"], TRANSPORT_WS) as live:
            answer = await _first(live, "{ __schema { types { name } } }")
            assert set(_codes(answer)) == {"GRAPHQL_VALIDATION_FAILED"}
            typo = await _first(live, "subscription { notification { id } }")
            assert _codes(typo) == ["GRAPHQL_VALIDATION_FAILED"]
            assert "Did you mean" not in typo["errors"][0]["message"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_every_error_on_the_socket_is_coded(api: Api, protocol: str) -> None:
    user = await api.sign_up()
    unknown = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    cases: list[tuple[str, dict[str, Any], str]] = [
        (NOTIFICATIONS, {"extensions": "not an object"}, "BAD_USER_INPUT"),
        (NOTIFICATIONS, {"extensions": unknown}, "BAD_USER_INPUT"),  # hash and text differ
        (f"{NOTIFICATIONS} {NOTIFICATIONS}", {}, "GRAPHQL_VALIDATION_FAILED"),
        ("subscription { notifications { id } }", {"operationName": "Nope"}, "BAD_USER_INPUT"),
    ]
    if protocol == LEGACY_WS:  # runs subscriptions only; queries go over HTTP
        cases.append(("query { me { id } }", {}, "BAD_USER_INPUT"))
    async with _socket(api, user["token"], protocol) as live:
        for query, extra, code in cases:
            answer = await _first(live, query, **extra)
            assert set(_codes(answer)) == {code}, (query, extra, answer)
        payload_not_object = {
            "id": "x",
            "type": "subscribe" if protocol == TRANSPORT_WS else "start",
            "payload": 3,
        }
        await live.ws.send_json(payload_not_object)
        assert _codes(await live.next("x")) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_session_ended_without_notice_closes_at_the_next_message(
    other_app: Any, settings: Settings, protocol: str
) -> None:
    """A revocation whose broadcast was missed is still found at the socket's next message."""
    async with other_app(revocation_cache_seconds=0) as api:
        user = await api.sign_up()
        family = jwt.decode(user["token"], options={"verify_signature": False})["fam"]
        async with _socket(api, user["token"], protocol) as live:
            running = await _send(live, NOTIFICATIONS)
            with pytest.raises(TimeoutError):
                await live.next(running, timeout=0.3)
            redis = Redis.from_url(settings.redis_url or "")
            try:  # the record alone, as if its notice on the broker channel was lost
                await redis.set(f"{REVOCATION_PREFIX}family:{family}", "1", ex=60)
            finally:
                await redis.aclose()
            await _send(live, NOTIFICATIONS)
            assert await _close_code(live) == 4403
