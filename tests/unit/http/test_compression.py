"""Response compression: large bodies are compressed off the event loop, and decode intact."""

from __future__ import annotations

import gzip
import random
import string
from collections.abc import AsyncIterator, Callable

import brotli
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from notes_bff.http.middlewares import compression
from tests.loop_lag import LoopLag


@pytest.fixture(scope="module")
def large_body() -> bytes:
    """18 MiB of varied words: about a third of a second of brotli at quality 5."""
    rng = random.Random(7)
    words = [
        "".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(20000)
    ]
    return " ".join(rng.choices(words, k=3_000_000)).encode()


@pytest.fixture(scope="module")
async def client(large_body: bytes) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    async def large(request: web.Request) -> web.Response:
        return web.Response(body=large_body, content_type="text/plain")

    async def small(request: web.Request) -> web.Response:
        return web.Response(body=b"small " * 1000, content_type="text/plain")

    app = web.Application(middlewares=[compression(1024)])
    app.router.add_get("/large", large)
    app.router.add_get("/small", small)
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.mark.parametrize(
    ("coding", "decompress"), [("br", brotli.decompress), ("gzip", gzip.decompress)]
)
async def test_large_bodies_are_compressed_off_the_loop(
    client: TestClient,  # type: ignore[type-arg]
    large_body: bytes,
    coding: str,
    decompress: Callable[[bytes], bytes],
) -> None:
    async with LoopLag() as lag:
        resp = await client.get(
            "/large", headers={"Accept-Encoding": coding}, auto_decompress=False
        )
        raw = await resp.read()
    assert resp.headers["Content-Encoding"] == coding
    assert "Accept-Encoding" in resp.headers["Vary"]
    assert len(raw) < len(large_body)
    assert decompress(raw) == large_body
    # On the loop, compressing took a third of a second without a tick; now the loop turns.
    assert lag.ticks >= 10, lag.ticks


@pytest.mark.parametrize(
    ("coding", "decompress"), [("br", brotli.decompress), ("gzip", gzip.decompress)]
)
async def test_small_bodies_are_compressed_too(
    client: TestClient,  # type: ignore[type-arg]
    coding: str,
    decompress: Callable[[bytes], bytes],
) -> None:
    resp = await client.get("/small", headers={"Accept-Encoding": coding}, auto_decompress=False)
    assert resp.headers["Content-Encoding"] == coding
    assert decompress(await resp.read()) == b"small " * 1000
