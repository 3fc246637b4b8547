"""Shared benchmark plumbing: a ``notes-bff serve --demo`` subprocess, load, CPU readings."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from notes_bff.embedded import free_port

TICKS = os.sysconf("SC_CLK_TCK")
LOGIN = (
    'mutation { logIn(input: {email: "demo@example.com", password: "demo-password"}) '
    "{ accessToken } }"
)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def child_pids(pid: int, marker: bytes) -> list[int]:
    """The children of ``pid`` whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[1]) == pid and marker in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


def child_pid(pid: int, marker: bytes) -> int:
    """The child of ``pid`` whose command line contains ``marker``."""
    found = child_pids(pid, marker)
    if not found:
        raise RuntimeError(f"no child {marker!r} of {pid}")
    return found[0]


@contextlib.contextmanager
def demo_server(*args: str, env: dict[str, str] | None = None) -> Iterator[tuple[int, str]]:
    """``notes-bff serve --demo`` on embedded servers in a temporary folder: (pid, url)."""
    port = free_port()
    extra = env or {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTES_BFF_")} | extra
    env |= {"NOTES_BFF_DATA_DIR": tempfile.mkdtemp(prefix="notes-bff-bench-")}
    env |= {"NOTES_BFF_PORT": str(port)}
    server = subprocess.Popen(
        [sys.executable, "-m", "notes_bff", "serve", "--demo", *args],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield server.pid, f"http://127.0.0.1:{port}"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)


async def login(url: str) -> str:
    """Wait for readiness, then the demo user's access token."""
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{url}/readyz") as resp:
                    if resp.status == 200:
                        break
            await asyncio.sleep(0.2)
        async with session.post(f"{url}/graphql", json={"query": LOGIN}) as resp:
            return str((await resp.json())["data"]["logIn"]["accessToken"])


def bench_main(
    doc: str | None,
    measure: Callable[[int, str, int, int], Awaitable[None]],
    default_requests: int,
) -> None:
    """The command line of a benchmark: start the demo server, ``measure``, stop it."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument(
        "--requests", type=int, default=default_requests, help=f"per case ({default_requests})"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent clients (4)")
    args = parser.parse_args()
    with demo_server() as (pid, url):
        asyncio.run(measure(pid, url, args.requests, args.concurrency))


@dataclass
class LoadResult:
    """Latencies of one load run and its wall time."""

    latencies: list[float]
    elapsed: float

    def row(self, requests: int) -> str:
        """``req/s | p50 ms | p95 ms`` cells."""
        q = statistics.quantiles(self.latencies, n=100)
        return f"{requests / self.elapsed:.0f} | {q[49] * 1000:.1f} | {q[94] * 1000:.1f}"


async def load(
    url: str, token: str, requests: int, concurrency: int, *, method: str, **payload: Any
) -> LoadResult:
    """Send ``requests`` GraphQL requests (``payload`` as JSON body, or GET parameters)."""
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    remaining = iter(range(requests))

    async def worker(session: aiohttp.ClientSession) -> None:
        for _ in remaining:
            started = time.perf_counter()
            if method == "GET":
                request = session.get(f"{url}/graphql", params=payload, headers=headers)
            else:
                request = session.post(f"{url}/graphql", json=payload, headers=headers)
            async with request as resp:
                body = await resp.json()
                assert "errors" not in body, body
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return LoadResult(latencies, time.perf_counter() - started)
