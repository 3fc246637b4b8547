"""HTTP behaviour: compression, limits, methods, GraphiQL, error statuses, masking, outages."""

from __future__ import annotations

import gc
import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

import brotli
import pytest
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer
from pymongo import AsyncMongoClient

from notes_bff.config import Settings
from notes_bff.embedded import EmbeddedProcess, free_port
from notes_bff.server import create_app
from tests.conftest import Api, make_settings


async def _big_query(api: Api) -> tuple[str, dict[str, str]]:
    user = await api.sign_up()
    ws = await api.workspace(user)
    for i in range(10):
        await api.note(user, ws, title=f"A fairly long note title number {i}", content="x " * 300)
    return "{ notes { nodes { title content } } }", {"Authorization": f"Bearer {user['token']}"}


@pytest.mark.parametrize(
    ("accept", "encoding"), [("gzip, deflate", "gzip"), ("gzip, br", "br"), ("identity", None)]
)
async def test_compression(api: Api, accept: str, encoding: str | None) -> None:
    query, headers = await _big_query(api)
    resp = await api.client.post(
        "/graphql",
        json={"query": query},
        headers={**headers, "Accept-Encoding": accept},
        auto_decompress=False,
    )
    raw = await resp.read()
    assert resp.headers.get("Content-Encoding") == encoding
    body = {"gzip": gzip.decompress, "br": brotli.decompress, None: lambda b: b}[encoding](raw)
    assert len(json.loads(body)["data"]["notes"]["nodes"]) == 10
    if encoding:
        assert len(raw) < len(body) and "Accept-Encoding" in resp.headers.get("Vary", "")


async def test_small_responses_are_not_compressed(api: Api) -> None:
    resp = await api.client.post(
        "/graphql", json={"query": "{ me { id } }"}, headers={"Accept-Encoding": "gzip, br"}
    )
    assert "Content-Encoding" not in resp.headers
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    assert await resp.json() == {"data": {"me": None}}


async def test_body_over_one_mebibyte_is_413(api: Api) -> None:
    resp = await api.client.post(
        "/graphql",
        data=b'{"query": "' + b" " * (1024 * 1024 + 10) + b'{ me { id } }"}',
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 413
    assert (await resp.json())["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    "body", [b"{not json", b"[1, 2", '"caf\xe9"'.encode("latin-1"), b"42", b'{"query": 5}']
)
async def test_malformed_bodies_are_400(api: Api, body: bytes) -> None:
    resp = await api.client.post(
        "/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    assert resp.status == 400
    assert (await resp.json())["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_mutation_over_get_is_405(api: Api) -> None:
    resp = await api.client.get("/graphql", params={"query": "mutation { logOut }"})
    assert resp.status == 405
    assert (await resp.json())["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    query = await api.client.get("/graphql", params={"query": "{ me { id } }"})
    assert query.status == 200 and (await query.json()) == {"data": {"me": None}}


async def test_parse_and_validation_errors_are_400(api: Api) -> None:
    parse = await api.gql("{ me { id ")
    assert (parse.status, parse.codes) == (400, ["GRAPHQL_PARSE_FAILED"])
    invalid = await api.gql("{ me { nope } }")
    assert (invalid.status, invalid.codes) == (400, ["GRAPHQL_VALIDATION_FAILED"])


async def test_graphiql_page(api: Api) -> None:
    resp = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert resp.status == 200 and "graphiql" in (await resp.text()).lower()


async def test_metrics_endpoint(api: Api) -> None:
    await api.gql("{ me { nope } }")
    text = await (await api.client.get("/metrics")).text()
    assert "notes_bff_http_requests_total" in text
    assert 'notes_bff_graphql_errors_total{code="GRAPHQL_VALIDATION_FAILED"}' in text


async def test_workers_collect_garbage_less_often_as_configured(other_app: Any) -> None:
    before = gc.get_threshold()
    try:
        async with other_app(gc_threshold=12_345):
            assert gc.get_threshold() == (12_345, *before[1:])
            assert gc.get_freeze_count() > 0  # what startup built is never scanned again
    finally:
        gc.set_threshold(*before)


async def _fail_point(settings: Settings, data: dict[str, Any] | None) -> None:
    """Turn MongoDB's failCommand on until it is turned off (``data`` None). Not for a count
    of commands: the background finds of the worker's applications (jobs, the search indexer)
    could use a counted fail point up before the request's own find."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(settings.mongodb_uri)
    try:
        mode: Any = "alwaysOn" if data else "off"
        await client.admin.command(
            {"configureFailPoint": "failCommand", "mode": mode, "data": data or {}}
        )
    finally:
        await client.close()


async def test_unexpected_errors_are_masked_with_a_request_id(api: Api, settings: Settings) -> None:
    user = await api.sign_up()
    await _fail_point(
        settings, {"failCommands": ["find"], "errorCode": 8, "errmsg": "secret internals"}
    )
    try:
        reply = await api.gql("{ workspaces { id } }", token=user["token"])
    finally:
        await _fail_point(settings, None)
    assert reply.codes == ["INTERNAL_SERVER_ERROR"]
    error = reply.errors[0]
    assert error["message"] == "Unexpected error."
    assert "secret" not in json.dumps(reply.body) and "Traceback" not in json.dumps(reply.body)
    assert error["extensions"]["requestId"] == reply.headers["X-Request-Id"]


async def test_a_dropped_mongodb_connection_is_service_unavailable(
    api: Api, settings: Settings
) -> None:
    user = await api.sign_up()
    # Every find fails: pymongo retries a read once by itself (a single drop is invisible).
    await _fail_point(settings, {"failCommands": ["find"], "closeConnection": True})
    try:
        reply = await api.gql("{ workspaces { id } }", token=user["token"])
    finally:
        await _fail_point(settings, None)
    assert (reply.status, reply.codes) == (503, ["SERVICE_UNAVAILABLE"])
    # Recovered by itself, without a restart.
    assert (await api.ok("{ workspaces { id } }", token=user["token"])) == {"workspaces": []}


@pytest.fixture
async def dead_services_client(
    servers: dict[str, EmbeddedProcess], tmp_path: Any
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    nowhere = free_port()
    settings = make_settings(
        servers, tmp_path, mongodb_uri=f"mongodb://127.0.0.1:{nowhere}/?directConnection=true",
        redis_url=f"redis://127.0.0.1:{nowhere}/0", mongodb_timeout_ms=300,
    )  # fmt: skip
    async with TestClient(TestServer(create_app(settings)), cookie_jar=DummyCookieJar()) as client:
        yield client


async def test_readiness_and_requests_when_services_are_down(
    dead_services_client: TestClient,
) -> None:  # type: ignore[type-arg]
    client = dead_services_client
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    body = await ready.json()
    assert (ready.status, body["status"]) == (503, "unavailable")
    assert (set(body["failed"]), set(body["degraded"])) == ({"mongodb"}, {"redis"})
    resp = await client.post(
        "/graphql",
        json={
            "query": 'mutation { logIn(input: {email: "a@b.co", password: "12345678"}) { accessToken } }'
        },
    )
    body = await resp.json()
    assert resp.status == 503, body
    assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"


async def test_security_headers(api: Api) -> None:
    page = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    reply = await api.client.post("/graphql", json={"query": "{ me { id } }"})
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" not in reply.headers  # development: no HSTS


async def test_a_failing_field_beside_others_sharing_loads_keeps_the_connection(api: Api) -> None:
    # Found by the fuzz run: `notes` fails (non-null, so data is null and graphql-core cancels
    # its siblings) while `dashboard` awaits the same cached load; the request must still
    # get its answer, not a dropped connection.
    user = await api.sign_up()
    reply = await api.gql(
        "{ notes(first: 0) { nodes { id } } dashboard { pinned { id } dueSoon(days: 0) { id } } }",
        token=user["token"],
    )
    assert reply.status == 200
    assert "BAD_USER_INPUT" in reply.codes and reply.data is None
