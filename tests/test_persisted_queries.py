"""Persisted queries: Apollo's APQ protocol over POST and GET, trusted documents, caches; on
each Redis topology."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import BusyLoadingError

from notes_bff import redis_client
from notes_bff.config import Settings
from notes_bff.embedded import EmbeddedProcess
from notes_bff.persisted.store import APQ_PREFIX, sha256_hex
from tests.conftest import Api, Reply, redis_env
from tests.redis_topologies import Deployment

pytestmark = pytest.mark.redis_topologies


def _unique_query() -> str:
    """A document no earlier test registered (an alias makes it unique)."""
    return "query Me { " + f"a{uuid.uuid4().hex[:8]}: me " + "{ id } }"


def _ext(query: str, digest: str | None = None, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": digest or sha256_hex(query)}}


async def _post(api: Api, query: str | None, extensions: dict[str, Any], **headers: str) -> Reply:
    body: dict[str, Any] = {"extensions": extensions}
    if query is not None:
        body["query"] = query
    resp = await api.client.post("/graphql", json=body, headers=headers)
    return Reply(resp.status, await resp.json(), resp.headers)


async def _get(api: Api, query: str | None, extensions: dict[str, Any]) -> Reply:
    params = {"extensions": json.dumps(extensions)}
    if query is not None:
        params["query"] = query
    resp = await api.client.get("/graphql", params=params)
    return Reply(resp.status, await resp.json(), resp.headers)


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = redis_client.connect(settings, name="tests")
    yield client
    await client.aclose()


@pytest.mark.parametrize("send", [_post, _get])
async def test_apq_miss_register_hit(api: Api, send: Callable[..., Any]) -> None:
    query = _unique_query()
    miss = await send(api, None, _ext(query))
    assert (miss.status, miss.codes) == (200, ["PERSISTED_QUERY_NOT_FOUND"])
    assert miss.errors[0]["message"] == "PersistedQueryNotFound"
    assert miss.headers["Cache-Control"] == "private, no-cache, must-revalidate"
    registered = await send(api, query, _ext(query))
    assert registered.status == 200 and not registered.errors
    hit = await send(api, None, _ext(query))
    assert hit.status == 200 and hit.body == registered.body


async def test_apq_key_and_ttl_in_redis_not_refreshed_by_use(
    api: Api, redis: Redis, settings: Settings, other_app: Any
) -> None:
    query = _unique_query()
    await _post(api, query, _ext(query))
    key = APQ_PREFIX + sha256_hex(query)
    assert (await redis.get(key)).decode() == query
    ttl = await redis.ttl(key)
    assert settings.apq_ttl_seconds - 10 < ttl <= settings.apq_ttl_seconds
    await redis.expire(key, 100)
    # A process that has not cached it yet reads it from Redis; the use does not extend its
    # life (as in Apollo Server), so what a client registered is gone after the TTL.
    async with other_app() as other:
        hit = await _post(other, None, _ext(query))
        assert not hit.errors
    assert 0 < await redis.ttl(key) <= 100


async def test_apq_refusals(api: Api, redis: Redis) -> None:
    query = _unique_query()
    mismatch = await _post(api, query, _ext(query, digest="0" * 64))
    assert mismatch.codes == ["BAD_USER_INPUT"]
    assert mismatch.errors[0]["message"] == "provided sha does not match query"
    assert (await _post(api, query, _ext(query, version=2))).codes == ["BAD_USER_INPUT"]
    assert (await _post(api, None, _ext(query, digest="not-a-hash"))).codes == ["BAD_USER_INPUT"]
    # An invalid document is executed (and fails) but never stored under its hash.
    invalid = "{ me { nope } }"
    rejected = await _post(api, invalid, _ext(invalid))
    assert (rejected.status, rejected.codes) == (400, ["GRAPHQL_VALIDATION_FAILED"])
    assert await redis.get(APQ_PREFIX + sha256_hex(invalid)) is None
    assert (await _post(api, None, _ext(invalid))).codes == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_documents_over_the_size_limit_are_refused_before_parsing(api: Api) -> None:
    huge = "{ me { id } }" + " " * 100_001
    for reply in (await _post(api, huge, _ext(huge)), await api.gql(huge)):
        assert (reply.status, reply.codes) == (400, ["QUERY_TOO_COMPLEX"])
        assert "over the limit of 100000" in reply.errors[0]["message"]


async def test_mutation_by_hash_over_get_is_405(api: Api) -> None:
    mutation = "mutation { logOut }"
    assert not (await _post(api, mutation, _ext(mutation))).errors
    refused = await _get(api, None, _ext(mutation))
    assert refused.status == 405


@pytest.fixture
def parse_counter(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts strawberry's calls to graphql-core's parser and validator."""
    import strawberry.schema.schema as strawberry_schema

    counts = {"parse": 0, "validate": 0}
    parse, validate = strawberry_schema.parse, strawberry_schema.validate_document

    def counting_parse(*args: Any, **kwargs: Any) -> Any:
        counts["parse"] += 1
        return parse(*args, **kwargs)

    def counting_validate(*args: Any, **kwargs: Any) -> Any:
        counts["validate"] += 1
        return validate(*args, **kwargs)

    monkeypatch.setattr(strawberry_schema, "parse", counting_parse)
    monkeypatch.setattr(strawberry_schema, "validate_document", counting_validate)
    return counts


async def test_a_hit_is_neither_parsed_nor_validated(
    api: Api, parse_counter: dict[str, int]
) -> None:
    query = _unique_query()
    await _post(api, query, _ext(query))
    assert parse_counter == {"parse": 1, "validate": 1}
    for _ in range(3):
        assert not (await _post(api, None, _ext(query))).errors
        assert not (await _get(api, None, _ext(query))).errors
    assert parse_counter == {"parse": 1, "validate": 1}
    # Plain text queries are parsed every time (they are not persisted).
    await api.gql(query)
    assert parse_counter == {"parse": 2, "validate": 2}


async def test_off_mode(other_app: Any) -> None:
    async with other_app(persisted_queries="off") as api:
        query = _unique_query()
        for reply in (await _post(api, query, _ext(query)), await _get(api, None, _ext(query))):
            assert (reply.status, reply.codes) == (200, ["PERSISTED_QUERY_NOT_SUPPORTED"])
        assert (await api.gql("{ me { id } }")).body == {"data": {"me": None}}


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "NOTES_BFF_MONGODB_URI": settings.mongodb_uri or "",
        **redis_env(settings),
        "NOTES_BFF_MONGODB_DB": settings.mongodb_db,
        "NOTES_BFF_DATA_DIR": str(settings.data_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", "notes_bff", "persisted-queries", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


async def _cli_async(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(_cli, settings, *args)


DASHBOARD = "query Dashboard { dashboard { stats { totalNotes } } }"
ME = "query WhoAmI { me { id } }"
LOG_OUT = "mutation LogOut { logOut }"


@pytest.fixture
def manifests(tmp_path: Path) -> dict[str, Path]:
    apollo = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            {"id": sha256_hex(DASHBOARD), "name": "Dashboard", "type": "query", "body": DASHBOARD},
            {"id": sha256_hex(LOG_OUT), "name": "LogOut", "type": "mutation", "body": LOG_OUT},
        ],
    }
    paths = {
        "apollo": tmp_path / "apollo.json",
        "map": tmp_path / "map.json",
        "broken": tmp_path / "broken.json",
    }
    paths["apollo"].write_text(json.dumps(apollo))
    paths["map"].write_text(json.dumps({sha256_hex(ME): ME}))
    broken = {sha256_hex(ME): ME, "0" * 64: "{ me { id } }", sha256_hex("{ nope }"): "{ nope }"}
    paths["broken"].write_text(json.dumps(broken))
    return paths


async def test_trusted_documents(
    settings: Settings, other_app: Any, manifests: dict[str, Path]
) -> None:
    refused = await _cli_async(settings, "push", str(manifests["broken"]))
    assert refused.returncode == 1
    assert "nothing registered" in refused.stderr
    assert (
        "is not the SHA-256 of its body" in refused.stderr
        and "Cannot query field 'nope'" in refused.stderr
    )
    assert (await _cli_async(settings, "list")).stdout == ""  # refused whole: not even the good one
    for name in ("apollo", "map"):
        pushed = await _cli_async(settings, "push", str(manifests[name]))
        assert pushed.returncode == 0, pushed.stderr
    listing = (await _cli_async(settings, "list")).stdout
    assert f"{sha256_hex(DASHBOARD)}  query  Dashboard" in listing
    assert f"{sha256_hex(ME)}  query  -" in listing
    async with other_app(persisted_queries="trusted") as api:
        user = await api.client.post("/graphql", json={"query": LOG_OUT})  # registered text
        assert (await user.json()) == {"data": {"logOut": True}}
        by_hash = await _get(api, None, _ext(ME))
        assert by_hash.body == {"data": {"me": None}}
        by_text = await api.gql(ME)
        assert by_text.body == {"data": {"me": None}}
        unregistered = await api.gql("{ me { id name } }")
        assert (unregistered.status, unregistered.codes) == (400, ["PERSISTED_QUERY_REQUIRED"])
        unknown = await _post(api, None, _ext("{ me { name } }"))
        assert unknown.codes == ["PERSISTED_QUERY_NOT_FOUND"]
        # APQ registration is not a way around the allow-list.
        sneaky = "{ me { email } }"
        assert (await _post(api, sneaky, _ext(sneaky))).codes == ["PERSISTED_QUERY_REQUIRED"]
        removed = await _cli_async(settings, "remove", sha256_hex(ME))
        assert removed.returncode == 0
    async with other_app(persisted_queries="trusted") as api:
        assert (await api.gql(ME)).codes == ["PERSISTED_QUERY_REQUIRED"]
    assert (await _cli_async(settings, "remove", sha256_hex(ME))).returncode == 1


async def test_apq_survives_a_redis_restart(
    api: Api, redis_server: EmbeddedProcess | Deployment, redis: Redis
) -> None:
    known = _unique_query()
    await _post(api, known, _ext(known))
    redis_server.stop()
    try:
        during = _unique_query()
        # Redis is down: registration and hits still work from this process's cache.
        assert not (await _post(api, during, _ext(during))).errors
        assert not (await _post(api, None, _ext(during))).errors
        assert not (await _post(api, None, _ext(known))).errors
        ready = await api.client.get("/readyz")
        assert ready.status == 200 and "redis" in (await ready.json())["degraded"]
        metrics = await (await api.client.get("/metrics")).text()
        assert 'notes_bff_redis_errors_total{component="persisted_queries"}' in metrics
    finally:
        redis_server.start()
    after = _unique_query()
    for _ in range(50):  # the store waits out its back-off, then uses Redis again
        await _post(api, after, _ext(after))
        with contextlib.suppress(BusyLoadingError):  # Redis replays its append-only file
            if await redis.get(APQ_PREFIX + sha256_hex(after)):
                break
        await asyncio.sleep(0.2)
    assert (await redis.get(APQ_PREFIX + sha256_hex(after))).decode() == after
    assert (await redis.get(APQ_PREFIX + sha256_hex(known))).decode() == known  # persisted (AOF)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_apollo_client_persisted_queries_link(api: Api, js_dir: Path, method: str) -> None:
    user = await api.sign_up("Apollo")
    proc = await asyncio.create_subprocess_exec(
        "node", str(js_dir / "apq.mjs"), str(api.client.make_url("")).rstrip("/"), user["token"], method,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    result = json.loads(out)
    expected = {"me": {"__typename": "User", "id": user["id"], "name": "Apollo"}}
    assert result["first"] == result["second"] == expected
    seen = result["seen"]
    # Miss (hash only), register (hash + text, always POST), then a hit by hash alone.
    assert [(s["method"], s["sentQuery"], s["code"]) for s in seen] == [
        (method, False, "PERSISTED_QUERY_NOT_FOUND"),
        ("POST", True, None),
        (method, False, None),
    ]
