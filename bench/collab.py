"""Benchmark: collaborative editing relay latency and throughput across two hosts.

    .venv/bin/python -m bench.collab [--notes 50] [--editors 5] [--rates 1,2,4] [--seconds 10]

Starts embedded MongoDB and Redis servers, host A (``notes-bff serve --workers 2``) and host B
(``notes-bff serve``, one process) on them, then a Node.js process
(``bench/collab_driver.mjs``) with NOTES x EDITORS y-websocket clients, editors alternating
between A and B. At each rate (edits per second per editor) every editor inserts stamped
tokens; latency runs from the insertion to its arrival in another editor's document, across
hosts (through the Redis log) and within one host. CPU columns are of all server processes
together, of valkey and of the driver; "per worker" divides the updates the servers took in
by their three processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.harness import child_pid, child_pids, cpu_seconds, graphql, wait_ready
from notes_bff.embedded import embedded_servers, free_port
from tests.js_packages import installed_node

CREATE = (
    "mutation($w: ID!, $t: String!) "
    '{ createNote(input: {workspaceId: $w, title: $t, content: "# Bench"}) { id } }'
)
HEADER = (
    "| edits/s per editor | updates/s in | relayed/s | missing | cross-host p50 / p95 ms "
    "| same-host p50 / p95 ms | servers CPU % | updates/s per server process | valkey CPU % "
    "| SecantusDB CPU % | driver CPU % |"
)
SIGN_UP = (
    'mutation($e: String!) { signUp(input: {email: $e, password: "bench password", '
    'name: "Bench"}) { accessToken } }'
)


async def measure(
    node: str, hosts: list[subprocess.Popen[bytes]], urls: list[str], args: argparse.Namespace
) -> None:
    """Print one table row per rate."""
    for url in urls:
        await wait_ready(url)
    a, b = urls
    signed = await graphql(a, SIGN_UP, {"e": "bench@example.com"})
    token = str(signed["signUp"]["accessToken"])
    created = await graphql(
        a, 'mutation { createWorkspace(input: {name: "Bench"}) { id } }', {}, token
    )
    workspace = created["createWorkspace"]["id"]
    notes = []
    for i in range(args.notes):
        note = await graphql(a, CREATE, {"w": workspace, "t": f"n{i}"}, token)
        notes.append(note["createNote"]["id"])
    servers = [hosts[1].pid, *child_pids(hosts[0].pid, b"notes_bff")]
    valkey = child_pid(os.getpid(), b"valkey")
    database = child_pid(os.getpid(), b"secantus")
    config = {"a": a, "b": b, "token": token, "notes": notes, "editors": args.editors,
              "rates": args.rates, "seconds": args.seconds}  # fmt: skip
    script = Path(__file__).with_name("collab_driver.mjs")
    driver = await asyncio.create_subprocess_exec(
        node, str(script), json.dumps(config), stdout=asyncio.subprocess.PIPE, limit=2**24
    )
    assert driver.stdout is not None
    print(f"{args.notes} notes x {args.editors} editors = {args.notes * args.editors} clients; "
          f"host A: 2 workers, host B: 1 process\n")  # fmt: skip
    print(HEADER)
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    groups = [servers, [valkey], [database], [driver.pid]]
    cpu: list[float] = []
    while line := await driver.stdout.readline():
        report = json.loads(line)
        if report.get("start"):
            cpu = [sum(cpu_seconds(p) for p in group) for group in groups]
            continue
        wall = report["seconds"] + 2.0
        used = [sum(cpu_seconds(p) for p in g) - c for g, c in zip(groups, cpu, strict=True)]
        rate_in = report["edits"] / report["seconds"]
        cross, same = report["cross"], report["same"]
        percent = [u / wall * 100 for u in used]
        print(
            f"| {report['phase']:g} | {rate_in:.0f} | {report['received'] / report['seconds']:.0f} "
            f"| {report['missing']} | {cross['p50']:.1f} / {cross['p95']:.1f} "
            f"| {same['p50']:.1f} / {same['p95']:.1f} | {percent[0]:.0f} "
            f"| {rate_in / len(servers):.0f} | {percent[1]:.0f} | {percent[2]:.0f} "
            f"| {percent[3]:.0f} |"
        )
    await driver.wait()


def main() -> None:
    """Start the servers, measure, stop."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--notes", type=int, default=50, help="documents (50)")
    parser.add_argument("--editors", type=int, default=5, help="editors per document (5)")
    parser.add_argument("--rates", default="1,2,4", help="edits per second per editor (1,2,4)")
    parser.add_argument("--seconds", type=float, default=10.0, help="per rate (10)")
    args = parser.parse_args()
    args.rates = [float(r) for r in args.rates.split(",")]
    node = installed_node()
    if node is None:
        raise SystemExit("bench.collab needs node and npm (the editors run in Node.js)")
    data = Path(tempfile.mkdtemp(prefix="notes-bff-bench-"))
    with embedded_servers(data, mongodb=True, redis=True) as started:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOTES_BFF_")} | {
            "NOTES_BFF_MONGODB_URI": started["mongodb"].url,
            "NOTES_BFF_REDIS_URL": started["redis"].url,
            "NOTES_BFF_DATA_DIR": str(data),
            "NOTES_BFF_MAX_CONNECTIONS_PER_USER": str(args.notes * args.editors),
            "NOTES_BFF_RATE_LIMIT_POINTS": "10000000",
        }
        ports = [free_port(), free_port()]
        hosts = [
            subprocess.Popen(
                [sys.executable, "-m", "notes_bff", "serve", "--port", str(port), *extra],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for port, extra in zip(ports, (["--workers", "2"], []), strict=True)
        ]
        try:
            urls = [f"http://127.0.0.1:{port}" for port in ports]
            asyncio.run(measure(node, hosts, urls, args))
        finally:
            for host in hosts:
                host.send_signal(signal.SIGTERM)
                host.wait(60)


if __name__ == "__main__":
    main()
