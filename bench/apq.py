"""Benchmark: the dashboard query as full text vs as an APQ hash, side by side.

    .venv/bin/python -m bench.apq [--requests 300] [--concurrency 4]

The same server and data for every row; rows alternate so noise hits them alike. Reports
requests per second, p50/p95 latency, request bytes and the server's CPU per request.
"""

from __future__ import annotations

import json
from typing import Any

from bench.harness import bench_main, cpu_seconds, load, login
from notes_bff.persisted.store import sha256_hex

DASHBOARD = (
    "query Dashboard { dashboard { "
    "pinned(first: 5) { id title priority dueDate tags author { name } } "
    "dueSoon(first: 5) { id title dueDate assignees { name } } "
    "overdue(first: 5) { id title dueDate } "
    "recent(first: 10) { id title excerpt(length: 120) updatedAt workspace { name } } "
    "assignedToMe(first: 5) { id title dueDate } "
    "stats { totalNotes pinnedNotes overdueNotes dueThisWeek byPriority { priority count } "
    "byWorkspace { workspace { name } count } topTags(first: 8) { tag count } } } }"
)
EXTENSIONS = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(DASHBOARD)}}
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "full text, POST": ("POST", {"query": DASHBOARD}),
    "APQ hash, POST": ("POST", {"extensions": EXTENSIONS}),
    "APQ hash, GET": ("GET", {"extensions": json.dumps(EXTENSIONS)}),
}


async def measure(server_pid: int, url: str, requests: int, concurrency: int) -> None:
    """Print the table and the full-text : hash ratio."""
    token = await login(url)
    await load(url, token, 1, 1, method="POST", query=DASHBOARD, extensions=EXTENSIONS)
    print("| request | bytes sent | req/s | p50 ms | p95 ms | server CPU ms/req |")
    print("|---|---|---|---|---|---|")
    rates: dict[str, float] = {}
    for name, (method, payload) in CASES.items():
        await load(url, token, 20, 1, method=method, **payload)  # warm up
        before = cpu_seconds(server_pid)
        result = await load(url, token, requests, concurrency, method=method, **payload)
        cpu_ms = (cpu_seconds(server_pid) - before) * 1000 / requests
        rates[name] = requests / result.elapsed
        size = len(json.dumps(payload)) if method == "POST" else len(payload["extensions"])
        print(f"| {name} | {size} | {result.row(requests)} | {cpu_ms:.1f} |")
    ratio = rates["APQ hash, POST"] / rates["full text, POST"]
    print(f"\nAPQ hash / full text throughput (POST): {ratio:.2f}")


def main() -> None:
    """Start the server, measure, stop the server."""
    bench_main(__doc__, measure, 300)


if __name__ == "__main__":
    main()
