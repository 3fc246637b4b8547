"""Benchmark: subscription fan-out latency with many websocket subscribers over 2 workers.

    .venv/bin/python -m bench.fanout [--subscribers 1000] [--events 40] [--rates 2,5,10]

Starts ``notes-bff serve --workers 2 --demo``, opens N websocket subscriptions to one
workspace (spread over both workers by the kernel), then creates notes at each rate. For
every delivery it measures the time from the event's commit (``NoteEvent.at``, stamped by
the worker after the write) to its arrival, and counts drops (events a subscriber missed).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import datetime

import aiohttp

from bench.harness import demo_server, login
from tests.ws import GraphQLSocket

EVENTS = "subscription($w: ID!) { workspaceEvents(workspaceId: $w) { eventId at } }"
CREATE = "mutation($w: ID!, $t: String!) { createNote(input: {workspaceId: $w, title: $t}) { id } }"


async def _listen(sock: GraphQLSocket, op: str, sink: list[float], stop: asyncio.Event) -> int:
    received = 0
    while not stop.is_set():
        try:
            result = await sock.next(op, timeout=1.0)
        except TimeoutError:
            continue
        at = datetime.fromisoformat(result["data"]["workspaceEvents"]["at"].replace("Z", "+00:00"))
        sink.append(time.time() - at.timestamp())
        received += 1
    return received


async def measure(url: str, subscribers: int, events: int, rates: list[float]) -> None:
    """Print one table row per event rate."""
    token = await login(url)
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.post(
            f"{url}/graphql", json={"query": "{ workspaces { id } }"}, headers=headers
        ) as resp:
            workspace = (await resp.json())["data"]["workspaces"][0]["id"]
        sockets: list[GraphQLSocket] = []
        for start in range(0, subscribers, 50):
            batch = [
                GraphQLSocket.open(session, f"{url}/graphql", token=token)
                for _ in range(min(50, subscribers - start))
            ]
            sockets += await asyncio.gather(*batch)
        ops = [await s.subscribe(EVENTS, {"w": workspace}) for s in sockets]
        await asyncio.sleep(3)
        print(f"{subscribers} subscribers connected\n")
        print("| events/s | events | deliveries | dropped | p50 ms | p95 ms | p99 ms |")
        print("|---|---|---|---|---|---|---|")
        for rate in rates:
            latencies: list[float] = []
            stop = asyncio.Event()
            listeners = [
                asyncio.create_task(_listen(s, op, latencies, stop))
                for s, op in zip(sockets, ops, strict=True)
            ]
            started = time.perf_counter()
            for i in range(events):
                await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
                async with session.post(
                    f"{url}/graphql",
                    json={"query": CREATE, "variables": {"w": workspace, "t": f"r{rate}-{i}"}},
                    headers=headers,
                ) as resp:
                    assert "errors" not in await resp.json()
            await asyncio.sleep(5)
            stop.set()
            counts = await asyncio.gather(*listeners)
            expected = events * subscribers
            q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
            print(
                f"| {rate:g} | {events} | {sum(counts)} | {expected - sum(counts)} "
                f"| {q[49] * 1000:.0f} | {q[94] * 1000:.0f} | {q[98] * 1000:.0f} |"
            )
        for s in sockets:
            await s.close()


def main() -> None:
    """Start two workers, measure, stop."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000, help="websocket subscribers")
    parser.add_argument("--events", type=int, default=40, help="events per rate")
    parser.add_argument("--rates", default="2,5,10", help="comma-separated events per second")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    env = {"NOTES_BFF_MAX_CONNECTIONS_PER_USER": str(args.subscribers)}
    with demo_server("--workers", "2", env=env) as (_, url):
        asyncio.run(measure(url, args.subscribers, args.events, rates))


if __name__ == "__main__":
    main()
