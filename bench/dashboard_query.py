"""Benchmark: the deep dashboard and workspace queries against ``notes-bff serve``.

Starts the server (one worker) on embedded servers with seeded data, then sends the deep
queries of the round-trip test for N = 5 and N = 50. Reports latency percentiles, requests
per second, and the CPU time per request of the server process and of SecantusDB (read
from /proc), since SecantusDB's own cost dominates on this machine and would not on MongoDB.
The response cache is off (every request executes: what the GraphQL stack costs) and the
rate-limit budget outlasts the run (a dashboard of 50 notes costs over 5,000 points).

    .venv/bin/python -m bench.dashboard_query [--requests 200] [--concurrency 4]
"""

from __future__ import annotations

from bench.harness import bench_main, child_pid, cpu_seconds, load, login

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
# Every request executed, none refused.
SERVER_ENV = {"NOTES_BFF_RESPONSE_CACHE": "false", "NOTES_BFF_RATE_LIMIT_POINTS": str(10**9)}
HEADER = (
    "| query | N | requests | concurrency | req/s | p50 ms | p95 ms "
    "| server CPU ms/req | SecantusDB CPU ms/req |\n|---|---|---|---|---|---|---|---|---|"
)


async def measure(server_pid: int, url: str, requests: int, concurrency: int) -> None:
    """Print one Markdown table row per (query, N)."""
    token = await login(url)
    database = child_pid(server_pid, b"secantus")
    print(HEADER)
    for name, query in QUERIES.items():
        for n in (5, 50):
            body = {"query": query, "variables": {"n": n}}
            await load(url, token, 10, 1, method="POST", **body)  # warm up
            cpu_server, cpu_db = cpu_seconds(server_pid), cpu_seconds(database)
            result = await load(url, token, requests, concurrency, method="POST", **body)
            server_ms = (cpu_seconds(server_pid) - cpu_server) * 1000 / requests
            db_ms = (cpu_seconds(database) - cpu_db) * 1000 / requests
            print(
                f"| {name} | {n} | {requests} | {concurrency} | {result.row(requests)} "
                f"| {server_ms:.1f} | {db_ms:.1f} |"
            )


def main() -> None:
    """Start the server, measure, stop the server."""
    bench_main(__doc__, measure, 200, env=SERVER_ENV)


if __name__ == "__main__":
    main()
