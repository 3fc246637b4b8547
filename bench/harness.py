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
from collections.abc import Callable, Coroutine, Iterator
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


def children_by_parent() -> dict[int, list[int]]:
    """Every live process's children (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    return children


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``."""
    children = children_by_parent()
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and of every live process below it (workers, render processes)."""
    total = 0.0
    for member in {pid, *descendants(pid)}:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += cpu_seconds(member)
    return total


def child_pids(pid: int, marker: bytes) -> list[int]:
    """The children of ``pid`` whose command line contains ``marker``."""
    found = []
    for child in children_by_parent().get(pid, []):
        with contextlib.suppress(OSError):
            if marker in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
    return found


def child_pid(pid: int, marker: bytes) -> int:
    """The child of ``pid`` whose command line contains ``marker``."""
    found = child_pids(pid, marker)
    if not found:
        raise RuntimeError(f"no child {marker!r} of {pid}")
    return found[0]


@contextlib.contextmanager
def server_process(argv: list[str], env: dict[str, str]) -> Iterator[tuple[int, str]]:
    """``argv`` on a free port (``NOTES_BFF_PORT``), with ``env`` instead of the caller's
    ``NOTES_BFF_*`` variables: (pid, url); stopped with SIGTERM on exit."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTES_BFF_")} | env
    server = subprocess.Popen(
        argv, env=env | {"NOTES_BFF_PORT": str(port)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield server.pid, f"http://127.0.0.1:{port}"
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def demo_server(
    *args: str, env: dict[str, str] | None = None
) -> contextlib.AbstractContextManager[tuple[int, str]]:
    """``notes-bff serve --demo`` on embedded servers in a temporary folder: (pid, url)."""
    data_dir = tempfile.mkdtemp(prefix="notes-bff-bench-")
    argv = [sys.executable, "-m", "notes_bff", "serve", "--demo", *args]
    return server_process(argv, (env or {}) | {"NOTES_BFF_DATA_DIR": data_dir})


async def wait_ready(url: str) -> None:
    """Return once ``url/readyz`` answers 200 (at most two minutes)."""
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{url}/readyz") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not get ready")


async def graphql(url: str, query: str, variables: dict[str, Any], token: str | None = None) -> Any:
    """The data of one operation POSTed to ``url/graphql`` (an answer with errors fails)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{url}/graphql", json={"query": query, "variables": variables}, headers=headers
        ) as resp,
    ):
        body = await resp.json()
    assert "errors" not in body, body
    return body["data"]


async def login(url: str) -> str:
    """Wait for readiness, then the demo user's access token."""
    await wait_ready(url)
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/graphql", json={"query": LOGIN}) as resp,
    ):
        return str((await resp.json())["data"]["logIn"]["accessToken"])


def bench_main(
    doc: str | None,
    measure: Callable[[int, str, int, int], Coroutine[Any, Any, None]],
    default_requests: int,
    env: dict[str, str] | None = None,
) -> None:
    """The command line of a benchmark: start the demo server (with ``env``), ``measure``,
    stop it."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument(
        "--requests", type=int, default=default_requests, help=f"per case ({default_requests})"
    )
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent clients (4)")
    args = parser.parse_args()
    with demo_server(env=env) as (pid, url):
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


Request = tuple[str, dict[str, Any]]


async def load(
    url: str, token: str, requests: int, concurrency: int, *, method: str, **payload: Any
) -> LoadResult:
    """Send ``requests`` GraphQL requests (``payload`` as JSON body, or GET parameters)."""
    return await load_mix(
        url, token, iter(range(requests)), concurrency, lambda _: (method, payload)
    )


async def load_mix(
    url: str,
    token: str,
    numbers: Iterator[int],
    concurrency: int,
    request: Callable[[int], Request],
    retry: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None] | None = None,
) -> LoadResult:
    """Send one request per number drawn from ``numbers``: ``request(number)`` gives its method
    and payload (JSON body, or GET parameters). No answer may carry errors, unless
    ``retry(payload, answer)`` gives a payload to send again (once; APQ's unknown hash)."""
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}

    async def worker(session: aiohttp.ClientSession) -> None:
        for number in numbers:
            method, payload = request(number)
            started = time.perf_counter()
            if method == "GET":
                sent = session.get(f"{url}/graphql", params=payload, headers=headers)
            else:
                sent = session.post(f"{url}/graphql", json=payload, headers=headers)
            async with sent as resp:
                body = await resp.json()
            if "errors" in body and retry is not None and (again := retry(payload, body)):
                async with session.post(f"{url}/graphql", json=again, headers=headers) as resp:
                    body = await resp.json()
            assert "errors" not in body, body
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return LoadResult(latencies, time.perf_counter() - started)
