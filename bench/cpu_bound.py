"""Benchmark: CPU-bound work on the request path, and /healthz while it runs.

    .venv/bin/python -m bench.cpu_bound [--notes 10] [--shapes]

Default: a ``notes-bff serve --demo`` subprocess; one user creates ``--notes`` notes of
100,000 characters of distinct pathological Markdown (``![`` repeated), then asks for their
``contentHtml`` and ``excerpt`` in one operation, twice (the second finds in the cache what the
first rendered), while another client polls ``/healthz`` on the same worker. Prints the
operation's time and what it answered, and how many health answers arrived and how late.

``--shapes``: markdown-it-py + nh3 render times of pathological inputs at 25k, 50k and 100k
characters (no server); /healthz of a bare aiohttp server while a render runs inline, in a
thread or in a process; then brotli, gzip and orjson on JSON answers of 64 KiB to 6 MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import random
import statistics
import string
import time
import zlib
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import aiohttp
import brotli
import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bench.harness import demo_server, login
from notes_bff.config import Settings
from notes_bff.markdown import render, render_markdown
from notes_bff.validation import CONTENT_MAX

SHAPES: dict[str, Callable[[int], str]] = {
    "plain words": lambda k: "word " * k,
    "`![` (image openers)": lambda k: "![" * k,
    "`[` (link openers)": lambda k: "[" * k,
    "`*[`": lambda k: "*[" * k,
    "`[a](` (unclosed links)": lambda k: "[a](" * k,
    "`[a` (link openers, text)": lambda k: "[a" * k,
    "nested brackets": lambda k: "[" * k + "a" + "]" * k,
    "`*a **a … a** a*` (nested emphasis)": lambda k: "*a **a " * k + "b" + " a** a*" * k,
    "`*a_ ` (mismatched emphasis)": lambda k: "*a_ " * k,
    "`a**b c* …` (delimiters, multiple of 3)": lambda k: "a**b" + "c* " * k,
    "`> ` nesting": lambda k: "> " * k + "a",
    "`- ` list nesting": lambda k: "".join("  " * i + "- a\n" for i in range(k)),
    "backtick runs": lambda k: "".join("e" + "`" * i for i in range(1, k)),
    "`<` (escaped)": lambda k: "<" * k,
    "unclosed `<!--`": lambda k: "</" + "<!--" * k,
    "link reference definitions": lambda k: "[a]:\n" * k,
    "table, many columns": lambda k: "|" + "a|" * k + "\n|" + "-|" * k + "\n" + "|b" * k,
    "table, 100 columns, empty rows": lambda k: "a|" * 100 + "\n" + "-|" * 100 + "\n" + "|\n" * k,
    "`- a` list items": lambda k: "- a\n" * k,
}
COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "brotli q5": lambda body: bytes(brotli.compress(body, quality=5)),
    "brotli q4": lambda body: bytes(brotli.compress(body, quality=4)),
    "gzip 6": lambda body: zlib.compress(body, 6, wbits=31),
}
HEALTH_INTERVAL_S = 0.02


def _fit(shape: Callable[[int], str], size: int) -> str:
    """The longest ``shape(k)`` of at most ``size`` characters."""
    low, high = 1, size
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if len(shape(mid)) <= size else (low, mid - 1)
    return shape(low)


def shapes() -> None:
    """Render times per shape and size, the loop while one renders, compression, encoding."""
    sizes = (CONTENT_MAX // 4, CONTENT_MAX // 2, CONTENT_MAX)
    print("| input | " + " | ".join(f"{s // 1000}k chars s" for s in sizes) + " | 100k/50k |")
    print("|---|---|---|---|---|")
    for name, shape in SHAPES.items():
        times = []
        for size in sizes:
            text = _fit(shape, size)
            started = time.perf_counter()
            render(text)
            times.append(time.perf_counter() - started)
        cells = " | ".join(f"{t:.3f}" for t in times)
        print(f"| {name} | {cells} | {times[2] / max(times[1], 1e-6):.1f} |")
    asyncio.run(_placements())
    rng = random.Random(1)  # noqa: S311 (repeatable text, not secrets)
    words = [
        "".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 10))) for _ in range(5000)
    ]
    nodes = []
    for _ in range(1000):
        content = "\n\n".join(" ".join(rng.choices(words, k=60)) for _ in range(8))
        nodes.append({"id": f"{rng.getrandbits(96):024x}", "content": content})
        nodes[-1]["contentHtml"] = render_markdown(content)
    node_bytes = len(orjson.dumps(nodes)) / len(nodes)
    print("\n| JSON answer | brotli q5 ms | brotli q4 ms (ratio) | gzip 6 ms | orjson encode ms |")
    print("|---|---|---|---|---|")
    for kib in (64, 256, 1024, 6 * 1024):
        started = time.perf_counter()
        body = orjson.dumps({"data": {"notes": {"nodes": nodes[: int(kib * 1024 / node_bytes)]}}})
        encode = time.perf_counter() - started
        timings = []
        for name, compress in COMPRESSORS.items():
            started = time.perf_counter()
            out = compress(body)
            timings.append(f"{(time.perf_counter() - started) * 1000:.1f}")
            if name == "brotli q4":
                timings[-1] += f" ({len(body) / len(out):.1f})"
        print(f"| {len(body) // 1024} KiB | {' | '.join(timings)} | {encode * 1000:.1f} |")


async def _health_during(
    client: TestClient,  # type: ignore[type-arg]
    work: Callable[[], Awaitable[object]],
) -> tuple[list[float], float]:
    """Latencies of /healthz asked one after another while ``work`` ran, and its time."""
    latencies: list[float] = []
    done = asyncio.Event()

    async def poll() -> None:
        while not done.is_set():
            started = time.perf_counter()
            async with client.get("/healthz") as resp:
                await resp.read()
            latencies.append(time.perf_counter() - started)

    poller = asyncio.create_task(poll())
    await asyncio.sleep(0.05)
    latencies.clear()
    started = time.perf_counter()
    await work()
    elapsed = time.perf_counter() - started
    done.set()
    await poller
    return latencies, elapsed


async def _placements() -> None:
    """/healthz of an aiohttp server in this process while 100k characters of ``![`` render
    inline, in a thread, in a process; then a small note through a process against inline."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    gc.set_threshold(Settings().gc_threshold, *gc.get_threshold()[1:])  # as the server does
    content = "![" * (CONTENT_MAX // 2)
    loop = asyncio.get_running_loop()
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        await loop.run_in_executor(pool, render, "warm up")

        async def inline() -> None:
            render(content)

        cases: dict[str, Callable[[], Awaitable[object]]] = {
            "inline": inline,
            "in a thread": lambda: asyncio.to_thread(render, content),
            "in a process": lambda: loop.run_in_executor(pool, render, content),
        }
        print("\n| render runs | render s | /healthz answers | p50 ms | max ms |")
        print("|---|---|---|---|---|")
        async with TestClient(TestServer(app)) as client:
            for name, work in cases.items():
                latencies, elapsed = await _health_during(client, work)
                p50, worst = statistics.median(latencies) * 1000, max(latencies) * 1000
                print(f"| {name} | {elapsed:.2f} | {len(latencies)} | {p50:.1f} | {worst:.0f} |")
        note = "## Title\n\nSome *text* with [a link](https://example.com).\n" * 20
        started = time.perf_counter()
        for _ in range(200):
            await loop.run_in_executor(pool, render, note)
        pooled = (time.perf_counter() - started) / 200
        started = time.perf_counter()
        for _ in range(200):
            render(note)
        inline_s = (time.perf_counter() - started) / 200
        print(
            f"\n{len(note)}-character note: {pooled * 1000:.2f} ms through a process, "
            f"{inline_s * 1000:.2f} ms inline"
        )


async def _gql(
    session: aiohttp.ClientSession, url: str, token: str, query: str, **variables: Any
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    payload = {"query": query, "variables": variables}
    async with session.post(f"{url}/graphql", json=payload, headers=headers) as resp:
        body: dict[str, Any] = await resp.json()
        return body


async def _poll_health(url: str, latencies: list[float], done: asyncio.Event) -> None:
    """GET /healthz one at a time until ``done``, recording each answer's latency."""
    async with aiohttp.ClientSession() as session:
        while not done.is_set():
            started = time.perf_counter()
            async with session.get(f"{url}/healthz") as resp:
                await resp.read()
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(HEALTH_INTERVAL_S)


async def health_during(url: str, token: str, notes: int) -> None:
    """Create pathological notes, then time a page of them while /healthz is polled."""
    async with aiohttp.ClientSession() as session:
        ws = (
            await _gql(
                session,
                url,
                token,
                'mutation { createWorkspace(input: {name: "cpu"}) { id } }',
            )
        )["data"]["createWorkspace"]["id"]
        for i in range(notes):
            content = "![" * (CONTENT_MAX // 2 - 8) + f" note {i:05d}"
            created = await _gql(
                session,
                url,
                token,
                "mutation($i: CreateNoteInput!) { createNote(input: $i) { id } }",
                i={"workspaceId": ws, "title": f"pathological {i}", "content": content},
            )
            assert "errors" not in created, created
        query = (
            "query($w: ID!, $n: Int) "
            "{ notes(workspaceId: $w, first: $n) { nodes { contentHtml excerpt } } }"
        )
        print("| run | operation s | answer | /healthz answers | p50 ms | max ms |")
        print("|---|---|---|---|---|---|")
        for run in ("first", "second"):
            latencies: list[float] = []
            done = asyncio.Event()
            poller = asyncio.create_task(_poll_health(url, latencies, done))
            await asyncio.sleep(0.2)
            latencies.clear()
            started = time.perf_counter()
            body = await _gql(session, url, token, query, w=ws, n=notes)
            elapsed = time.perf_counter() - started
            done.set()
            await poller
            nodes = (body.get("data") or {}).get("notes", {}).get("nodes", [])
            rendered = sum(1 for n in nodes if n["contentHtml"].startswith("<p>"))
            fallback = sum(1 for n in nodes if n["contentHtml"].startswith("<pre>"))
            codes = [e.get("extensions", {}).get("code") for e in body.get("errors", [])]
            answer = f"{rendered} rendered, {fallback} source in <pre>" + (
                f", errors {codes}" if codes else ""
            )
            p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
            worst = max(latencies, default=float("nan")) * 1000
            health = f"{len(latencies)} | {p50:.1f} | {worst:.0f}"
            print(f"| {run} | {elapsed:.2f} | {answer} | {health} |")


def main() -> None:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=10, help="pathological notes (10)")
    parser.add_argument("--shapes", action="store_true", help="renderer and compression only")
    args = parser.parse_args()
    if args.shapes:
        shapes()
        return
    with demo_server() as (_, url):

        async def run() -> None:
            await health_during(url, await login(url), args.notes)

        asyncio.run(run())


if __name__ == "__main__":
    main()
