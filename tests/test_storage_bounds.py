"""What a client can make the server keep is bounded: idempotency records, APQ registrations."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from notes_bff.config import Settings
from notes_bff.http.idempotency import PREFIX as IDEMPOTENCY_PREFIX
from notes_bff.persisted.protocol import REGISTRATION_BYTES_PER_POINT
from notes_bff.persisted.store import APQ_PREFIX, sha256_hex
from tests.conftest import Api

CREATE = (
    'mutation($w: ID!, $c: String) { createNote(input: {workspaceId: $w, title: "t", '
    "content: $c}) { id content } }"
)


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url or "")
    yield client
    await client.aclose()


async def _post(api: Api, body: dict[str, Any], token: str | None = None, **headers: str) -> Any:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    resp = await api.client.post("/graphql", json=body, headers=headers)
    return resp.status, await resp.json(), resp.headers


async def _records(redis: Redis, user_id: str) -> list[bytes]:
    return [k async for k in redis.scan_iter(f"{IDEMPOTENCY_PREFIX}user:{user_id}:*")]


async def test_idempotency_keeps_mutations_only(api: Api, redis: Redis) -> None:
    owner = await api.sign_up()
    ws = await api.workspace(owner)
    key = uuid.uuid4().hex
    query = {"query": "query($w: ID!) { workspace(id: $w) { noteCount } }", "variables": {"w": ws}}
    first = await _post(api, query, owner["token"], **{"Idempotency-Key": key})
    assert first[1] == {"data": {"workspace": {"noteCount": 0}}}
    assert await _records(redis, owner["id"]) == []  # a query is not recorded
    await api.note(owner, ws)
    again = await _post(api, query, owner["token"], **{"Idempotency-Key": key})
    assert again[1] == {"data": {"workspace": {"noteCount": 1}}}  # it ran again
    assert "Idempotent-Replayed" not in again[2]
    mutation = {"query": CREATE, "variables": {"w": ws, "c": "x"}}
    await _post(api, mutation, owner["token"], **{"Idempotency-Key": key})
    assert len(await _records(redis, owner["id"])) == 1


async def test_a_large_answer_is_remembered_as_done_not_kept(other_app: Any, redis: Redis) -> None:
    async with other_app(idempotency_max_bytes=4096) as api:
        owner = await api.sign_up()
        ws = await api.workspace(owner)
        key = uuid.uuid4().hex
        body = {"query": CREATE, "variables": {"w": ws, "c": "y" * 20_000}}
        first = await _post(api, body, owner["token"], **{"Idempotency-Key": key})
        assert "errors" not in first[1]
        (slot,) = await _records(redis, owner["id"])
        assert len(await redis.get(slot)) < 1024  # the 20 KB answer is not stored
        retry = await _post(api, body, owner["token"], **{"Idempotency-Key": key})
        assert retry[1]["errors"][0]["extensions"]["code"] == "CONFLICT"
        assert "too large to keep" in retry[1]["errors"][0]["message"]
        count = "query($w: ID!) { workspace(id: $w) { noteCount } }"
        assert await api.ok(count, {"w": ws}, token=owner["token"]) == {
            "workspace": {"noteCount": 1}
        }


async def test_each_caller_has_a_budget_of_kept_bytes(other_app: Any, redis: Redis) -> None:
    async with other_app(idempotency_bytes_per_caller=64 * 1024) as api:
        owner = await api.sign_up()
        ws = await api.workspace(owner)
        body = {"query": CREATE, "variables": {"w": ws, "c": "z" * 30_000}}
        statuses = []
        for _ in range(4):
            status, answer, headers = await _post(
                api, body, owner["token"], **{"Idempotency-Key": uuid.uuid4().hex}
            )
            statuses.append(status)
        # Each record holds ~30 KB: the third fills the 64 KiB budget, the fourth is refused
        # before it runs, with Retry-After.
        assert statuses == [200, 200, 200, 429]
        assert answer["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert int(headers["Retry-After"]) >= 1
        assert len(await _records(redis, owner["id"])) == 3
        # Without a key, the same caller's requests still run.
        assert (await _post(api, body, owner["token"]))[0] == 200


def _document(size: int) -> str:
    """A unique query of about ``size`` bytes (a comment pads it)."""
    query = f"query {{ a{uuid.uuid4().hex[:8]}: rateLimit {{ cost remaining }} }}"
    return "#" + "p" * (size - len(query) - 2) + "\n" + query


async def test_apq_registration_costs_in_proportion_to_its_size(api: Api) -> None:
    user = await api.sign_up()
    costs = {}
    for size in (1_000, 10_000, 50_000):
        query = _document(size)
        ext = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}
        _, registered, _ = await _post(api, {"query": query, "extensions": ext}, user["token"])
        _, hit, _ = await _post(api, {"extensions": ext}, user["token"])
        costs[size] = (
            next(iter(registered["data"].values()))["cost"],
            next(iter(hit["data"].values()))["cost"],
        )
    assert costs == {
        size: (1 + math.ceil(size / REGISTRATION_BYTES_PER_POINT), 1) for size in costs
    }


async def test_apq_registered_bytes_per_client_are_bounded(other_app: Any, redis: Redis) -> None:
    async with other_app(apq_register_bytes=8 * 1024) as api:
        user = await api.sign_up()
        stored = []
        for _ in range(4):
            query = _document(3_000)
            ext = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}
            status, answer, _ = await _post(api, {"query": query, "extensions": ext}, user["token"])
            assert status == 200 and "errors" not in answer  # it runs either way
            stored.append(await redis.exists(APQ_PREFIX + sha256_hex(query)) == 1)
        # 3 KB each within 8 KiB: two are kept, the rest run without being stored.
        assert stored == [True, True, False, False]
