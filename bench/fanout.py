"""Benchmark: subscription fan-out latency with many websocket subscribers over 2 workers.

    .venv/bin/python -m bench.fanout [--subscribers 1000] [--events 40] [--rates 2,5,10]
        [--redis single|cluster]

Starts ``notes-bff serve --workers 2 --demo``, opens N graphql-transport-ws subscriptions to
one workspace from a Node.js process (``bench/fanout_listener.mjs``; the kernel spreads them
over both workers), then creates notes at each rate. Latency runs from the event's commit
(``NoteEvent.at``, stamped by the worker right after the write) to the message's arrival;
"dropped" counts deliveries a subscriber never got. CPU columns are milliseconds per event
of both workers together, of Redis (per shard: each node's ``INFO cpu``, with ``--redis
cluster``, a 3-master Redis Cluster started from the embedded valkey binary; minus what the
shard spends when no event flows, measured for ``IDLE_S`` first), of SecantusDB and of the
Node.js listener.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
from redis import Redis
from redis.crc import key_slot

from bench.harness import child_pid, child_pids, cpu_seconds, demo_server, login
from notes_bff.realtime.event_log import stream_key
from tests.js_packages import installed_node
from tests.redis_topologies import PASSWORD, Deployment, cluster

# CPU seconds of each Redis shard so far.
RedisCpu = Callable[[], list[float]]
IDLE_S = 10.0

CREATE = "mutation($w: ID!, $t: String!) { createNote(input: {workspaceId: $w, title: $t}) { id } }"


class Listener:
    """The Node.js subscriber process and its line protocol."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(
        cls, node: str, url: str, token: str, workspace: str, subscribers: int
    ) -> Listener:
        """Open the subscriptions; return once all of them are acknowledged."""
        script = Path(__file__).with_name("fanout_listener.mjs")
        ws_url = url.replace("http", "ws", 1) + "/graphql"
        process = await asyncio.create_subprocess_exec(
            node, str(script), ws_url, token, workspace, str(subscribers),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**26,
        )  # fmt: skip
        listener = cls(process)
        await asyncio.wait_for(listener._line(), timeout=120)
        return listener

    async def _line(self) -> dict[str, list[float] | int]:
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        if not line:
            raise RuntimeError("the listener exited")
        result: dict[str, list[float] | int] = json.loads(line)
        return result

    async def primed(self) -> int:
        """How many sockets have received an event: their subscriptions are live."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"primed\n")
        count = (await self._line())["primed"]
        assert isinstance(count, int)
        return count

    async def report(self) -> tuple[list[float], int]:
        """Latencies (ms) since the last report, and how many sockets were closed so far."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"report\n")
        reply = await self._line()
        latencies, closed = reply["latencies"], reply["closed"]
        assert isinstance(latencies, list)
        assert isinstance(closed, int)
        return latencies, closed

    async def stop(self) -> None:
        """End the process."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"exit\n")
        await self.process.wait()


def _node_cpu(port: int) -> float:
    with Redis(port=port, password=PASSWORD) as client:
        info = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


@contextlib.contextmanager
def redis_cluster() -> Iterator[tuple[dict[str, str], RedisCpu]]:
    """A 3-master Redis Cluster: the server's settings, and its shards' CPU."""
    with (
        tempfile.TemporaryDirectory(prefix="notes-bff-bench-") as folder,
        cluster(Path(folder)) as deployment,
    ):
        yield _settings(deployment), lambda: [_node_cpu(n.port) for n in deployment.servers]


def _settings(deployment: Deployment) -> dict[str, str]:
    nodes = ",".join(deployment.settings["redis_cluster_nodes"])
    return {"NOTES_BFF_REDIS_CLUSTER_NODES": nodes, "NOTES_BFF_REDIS_PASSWORD": PASSWORD}


async def measure(
    node: str,
    url: str,
    server_pid: int,
    subscribers: int,
    events: int,
    rates: list[float],
    redis_cpu: RedisCpu | None,
) -> None:
    """Print one table row per event rate. ``redis_cpu``: the shards' CPU (None: the
    embedded valkey the server started)."""
    token = await login(url)
    headers = {"Authorization": f"Bearer {token}"}
    workers = child_pids(server_pid, b"notes_bff")
    database = child_pid(server_pid, b"secantus")
    if redis_cpu is None:
        valkey = child_pid(server_pid, b"valkey")
        redis_cpu = lambda: [cpu_seconds(valkey)]  # noqa: E731 - one expression
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{url}/graphql", json={"query": "{ workspaces { id } }"}, headers=headers
        ) as resp:
            workspace = (await resp.json())["data"]["workspaces"][0]["id"]

        async def create(title: str) -> None:
            variables = {"w": workspace, "t": title}
            body = {"query": CREATE, "variables": variables}
            async with session.post(f"{url}/graphql", json=body, headers=headers) as resp:
                assert "errors" not in await resp.json()

        listener = await Listener.start(node, url, token, workspace, subscribers)
        # A subscribe is processed after its socket's ping is answered: warm up with events
        # until every subscription has received one, so none is counted as a drop.
        while await listener.primed() < subscribers:
            await create("warm-up")
            await asyncio.sleep(1)
        await asyncio.sleep(2)
        await listener.report()
        # Redis's own work when no event flows (its timers, the Cluster bus), subtracted below.
        quiet, quiet_started = redis_cpu(), time.perf_counter()
        await asyncio.sleep(IDLE_S)
        idle = [
            (b - a) / (time.perf_counter() - quiet_started)
            for a, b in zip(quiet, redis_cpu(), strict=True)
        ]
        # tests/redis_topologies.cluster gives the shards equal slot ranges, in order.
        shard = min(key_slot(stream_key(workspace).encode()) * len(idle) // 16384, len(idle) - 1)
        print(f"{subscribers} subscribers connected, {len(workers)} workers", end="")
        print(f", the workspace on shard {shard + 1} of {len(idle)}\n")
        print(
            "| events/s (achieved) | events | deliveries | dropped | p50 ms | p95 ms | p99 ms "
            "| workers CPU ms/event | Redis (per shard) | SecantusDB | listener |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for rate in rates:
            pids = [workers, [database], [listener.process.pid]]
            cpu, shards = [sum(cpu_seconds(p) for p in group) for group in pids], redis_cpu()
            started = time.perf_counter()
            for i in range(events):
                await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
                await create(f"r{rate}-{i}")
            achieved = events / (time.perf_counter() - started)
            await asyncio.sleep(5)
            now = [sum(cpu_seconds(p) for p in group) for group in pids]
            per_event = [(b - a) * 1000 / events for a, b in zip(cpu, now, strict=True)]
            spent = time.perf_counter() - started
            per_shard = [
                (b - a - rate_idle * spent) * 1000 / events
                for a, b, rate_idle in zip(shards, redis_cpu(), idle, strict=True)
            ]
            redis = " / ".join(f"{ms:.2f}" for ms in per_shard)
            latencies, closed = await listener.report()
            q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
            dropped = events * subscribers - len(latencies)
            print(
                f"| {rate:g} ({achieved:.1f}) | {events} | {len(latencies)} | {dropped} "
                f"| {q[49]:.0f} | {q[94]:.0f} | {q[98]:.0f} "
                f"| {per_event[0]:.0f} | {redis} | {per_event[1]:.1f} "
                f"| {per_event[2]:.0f} |" + (f" ({closed} sockets closed)" if closed else "")
            )
        await listener.stop()


def main() -> None:
    """Start two workers, measure, stop."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000, help="websocket subscribers")
    parser.add_argument("--events", type=int, default=40, help="events per rate")
    parser.add_argument("--rates", default="2,5,10", help="comma-separated events per second")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument(
        "--redis", choices=["single", "cluster"], default="single", help="Redis topology"
    )
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    node = installed_node()
    if node is None:
        raise SystemExit("bench.fanout needs node and npm (the listener runs in Node.js)")
    env = {"NOTES_BFF_MAX_CONNECTIONS_PER_USER": str(args.subscribers)}
    with contextlib.ExitStack() as stack:
        redis_cpu: RedisCpu | None = None
        if args.redis == "cluster":
            settings, redis_cpu = stack.enter_context(redis_cluster())
            env |= settings
        pid, url = stack.enter_context(demo_server("--workers", str(args.workers), env=env))
        asyncio.run(measure(node, url, pid, args.subscribers, args.events, rates, redis_cpu))


if __name__ == "__main__":
    main()
