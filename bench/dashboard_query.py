"""Benchmark: the deep dashboard and workspace queries against ``notes-bff serve``.

Starts the server (one worker) on embedded servers with seeded data, then sends the deep
queries of the round-trip test for N = 5 and N = 50. Reports latency percentiles, requests
per second, and the CPU time per request of the server process and of SecantusDB (read
from /proc), since SecantusDB's own cost dominates on this machine and would not on MongoDB.

    .venv/bin/python -m bench.dashboard_query [--requests 200] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from notes_bff.embedded import free_port

NOTE = (
    "title author { name email } assignees { name } mentions { name } lastEditedBy { name } "
    "workspace { name owner { name } members { role user { name } } noteCount tags { tag count } }"
)
QUERIES = {
    "dashboard": "query($n: Int) { dashboard { recent(first: $n) { "
    + NOTE
    + " } stats { totalNotes pinnedNotes overdueNotes dueThisWeek "
    "byPriority { count } byWorkspace { count } topTags { tag } } } }",
    "notes": "query($n: Int) { notes(first: $n) { totalCount nodes { " + NOTE + " } } }",
}
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _child(pid: int, marker: bytes) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[1]) == pid and marker in (entry / "cmdline").read_bytes():
                    return int(entry.name)
            except OSError:
                continue
    raise RuntimeError(f"no child {marker!r} of {pid}")


async def _run(
    url: str, token: str, query: str, n: int, requests: int, concurrency: int
) -> list[float]:
    latencies: list[float] = []
    body = {"query": query, "variables": {"n": n}}
    headers = {"Authorization": f"Bearer {token}"}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            queue.get_nowait()
            started = time.perf_counter()
            async with session.post(f"{url}/graphql", json=body, headers=headers) as resp:
                payload = await resp.json()
                assert "errors" not in payload, payload
            latencies.append(time.perf_counter() - started)

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return latencies


LOGIN = (
    'mutation { logIn(input: {email: "demo@example.com", password: "demo-password"}) '
    "{ accessToken } }"
)
HEADER = (
    "| query | N | requests | concurrency | req/s | p50 ms | p95 ms "
    "| server CPU ms/req | SecantusDB CPU ms/req |\n|---|---|---|---|---|---|---|---|---|"
)


async def _login(url: str) -> str:
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            try:
                async with session.get(f"{url}/readyz") as resp:
                    if resp.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
        async with session.post(f"{url}/graphql", json={"query": LOGIN}) as resp:
            return str((await resp.json())["data"]["logIn"]["accessToken"])


async def measure(server_pid: int, url: str, requests: int, concurrency: int) -> None:
    """Print one Markdown table row per (query, N)."""
    token = await _login(url)
    database = _child(server_pid, b"secantus")
    print(HEADER)
    for name, query in QUERIES.items():
        for n in (5, 50):
            await _run(url, token, query, n, 10, 1)  # warm up
            cpu_server, cpu_db = _cpu_seconds(server_pid), _cpu_seconds(database)
            started = time.perf_counter()
            latencies = await _run(url, token, query, n, requests, concurrency)
            elapsed = time.perf_counter() - started
            server_ms = (_cpu_seconds(server_pid) - cpu_server) * 1000 / requests
            db_ms = (_cpu_seconds(database) - cpu_db) * 1000 / requests
            q = statistics.quantiles(latencies, n=100)
            print(
                f"| {name} | {n} | {requests} | {concurrency} | {requests / elapsed:.0f} "
                f"| {q[49] * 1000:.1f} | {q[94] * 1000:.1f} | {server_ms:.1f} | {db_ms:.1f} |"
            )


def main() -> None:
    """Start the server, measure, stop the server."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per case (default 200)")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent clients (default 4)")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="notes-bff-bench-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTES_BFF_")}
    env |= {"NOTES_BFF_DATA_DIR": str(data_dir), "NOTES_BFF_PORT": str(port)}
    server = subprocess.Popen(
        [sys.executable, "-m", "notes_bff", "serve", "--demo"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        asyncio.run(
            measure(server.pid, f"http://127.0.0.1:{port}", args.requests, args.concurrency)
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)


if __name__ == "__main__":
    main()
