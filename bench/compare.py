"""Benchmark: notes-bff (P) side by side with a naive Strawberry server (N), Ariadne with
dataloaders (A) and a hand-written handler (L), on the same data and the same databases.

    .venv/bin/python -m bench.compare [--rounds 3] [--seconds 5]  (make bench-compare)

Starts one embedded SecantusDB and valkey, seeds them (``notes-bff seed``), checks that every
contender answers every workload with the same JSON as notes-bff, then per round and worker
count starts each server in turn (the order rotates every round) and runs every workload as
full text and as an APQ hash for ``--seconds``. Per server and workload: req/s, p50/p95, CPU
ms per request of the server's process tree and of SecantusDB (/proc), MongoDB commands per
request (``top``: commands on the benchmark's database) and Redis commands per request
(``INFO commandstats``). Medians over rounds go to a Markdown file and a PNG chart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import redis
from pymongo import MongoClient

from bench.compare_report import Sample, write_report
from bench.harness import (
    cpu_seconds,
    load_mix,
    login,
    server_process,
    tree_cpu_seconds,
    wait_ready,
)
from bench.workloads import MODES, WORKLOADS, Target, Workload, apq_retry, registration
from notes_bff.embedded import embedded_servers

SERVERS = {
    "P": ["-m", "notes_bff", "serve"],
    "C": ["-m", "notes_bff", "serve"],
    "N": ["-m", "bench.contenders.naive"],
    "A": ["-m", "bench.contenders.ariadne_batched"],
    "L": ["-m", "bench.contenders.limit"],
}
# P is notes-bff without its response cache (what the GraphQL stack itself costs); C is
# notes-bff as shipped, the response cache on (warm after the first request of each kind).
# Both log JSON lines, as deployed (the development default renders them for a console).
DEPLOYED = {"NOTES_BFF_LOG_JSON": "true"}
SERVER_ENV = {"P": DEPLOYED | {"NOTES_BFF_RESPONSE_CACHE": "false"}, "C": DEPLOYED}
WITHOUT_APQ = {"N"}  # the naive server has no persisted queries: n/a
DB_NAME = "bench"
TARGET = "{ workspaces { id viewerRole noteCount notes(first: 20) { nodes { id } } } }"


@dataclass
class Databases:
    """The embedded servers every contender uses, and the environment that reaches them."""

    env: dict[str, str]
    mongo_pid: int
    mongo: MongoClient[dict[str, Any]]
    redis: redis.Redis

    def mongo_commands(self) -> int:
        """Commands run on the benchmark's database so far (per collection in ``top``)."""
        totals = self.mongo.admin.command("top")["totals"]
        return sum(v["total"]["count"] for k, v in totals.items() if k.startswith(f"{DB_NAME}."))

    def counters(self, pid: int) -> tuple[float, float, int, int]:
        """CPU seconds of ``pid``'s tree and of SecantusDB, MongoDB and Redis commands."""
        return (
            tree_cpu_seconds(pid),
            cpu_seconds(self.mongo_pid),
            self.mongo_commands(),
            self.redis_commands(),
        )

    def redis_commands(self) -> int:
        """Commands Redis has run so far, our own INFO left out."""
        stats = self.redis.info("commandstats")
        return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")


def environment(mongodb_url: str, redis_url: str, data_dir: Path, db_name: str) -> dict[str, str]:
    """The ``NOTES_BFF_*`` variables every server of the comparison runs with."""
    return {
        "NOTES_BFF_MONGODB_URI": mongodb_url,
        "NOTES_BFF_MONGODB_DB": db_name,
        "NOTES_BFF_REDIS_URL": redis_url,
        "NOTES_BFF_DATA_DIR": str(data_dir),
        "NOTES_BFF_JWT_SECRET": "bench-compare-" + "x" * 40,
        "NOTES_BFF_ACCESS_TOKEN_TTL_SECONDS": str(24 * 3600),
        # As shipped, but the budget must outlast the run.
        "NOTES_BFF_RATE_LIMIT_POINTS": str(10**9),
    }


def seed(env: dict[str, str], *options: str) -> None:
    """``notes-bff seed OPTIONS`` into the database of ``env``."""
    argv = [sys.executable, "-m", "notes_bff", "seed", *options]
    subprocess.run(argv, env=os.environ | env, check=True, capture_output=True)


@contextlib.contextmanager
def databases(notes: int) -> Iterator[Databases]:
    """Embedded SecantusDB and valkey in a temporary folder, seeded with demo data."""
    with (
        tempfile.TemporaryDirectory(prefix="notes-bff-compare-") as folder,
        embedded_servers(Path(folder), mongodb=True, redis=True) as started,
    ):
        env = environment(started["mongodb"].url, started["redis"].url, Path(folder), DB_NAME)
        seed(env, "--notes", str(notes))
        assert started["mongodb"].proc is not None
        mongo: MongoClient[dict[str, Any]] = MongoClient(started["mongodb"].url)
        client = redis.Redis.from_url(started["redis"].url)
        try:
            yield Databases(env, started["mongodb"].proc.pid, mongo, client)
        finally:
            client.close()
            mongo.close()


def serving(
    name: str, workers: int, env: dict[str, str]
) -> contextlib.AbstractContextManager[tuple[int, str]]:
    """Server ``name`` with ``workers`` workers on the databases of ``env``: (pid, url)."""
    argv = [sys.executable, *SERVERS[name], "--workers", str(workers)]
    return server_process(argv, env | SERVER_ENV.get(name, {}))


async def target_of(url: str, token: str) -> Target:
    """The viewer's own workspace with the most notes, and the notes of its first page."""
    body = await _post(url, token, {"query": TARGET})
    owned = [w for w in body["data"]["workspaces"] if w["viewerRole"] == "OWNER"]
    best = max(owned, key=lambda w: w["noteCount"])
    return Target(best["id"], [n["id"] for n in best["notes"]["nodes"]])


async def start_all(urls: dict[str, str]) -> tuple[str, Target]:
    """Once every server is ready: the demo user's token and the target (from notes-bff)."""
    token = await login(urls["P"])
    for url in urls.values():
        await wait_ready(url)
    return token, await target_of(urls["P"], token)


async def _post(url: str, token: str, payload: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/graphql", json=payload, headers=headers) as resp,
    ):
        body: dict[str, Any] = await resp.json()
        return body


async def _register(url: str, token: str, workload: Workload) -> None:
    for document in workload.documents:
        await _post(url, token, registration(document))


def modes_of(name: str) -> tuple[str, ...]:
    """The request modes server ``name`` takes."""
    return ("text",) if name in WITHOUT_APQ else MODES


async def check(
    urls: dict[str, str], token: str, target: Target, workloads: Iterable[Workload]
) -> list[str]:
    """Every difference between a contender's answer and notes-bff's (``urls["P"]``) for each
    workload (a read, and the mix's write) and mode."""
    problems = []
    for workload, mode in itertools.product(workloads, MODES):
        for url in urls.values():
            await _register(url, token, workload)
        for number in (0, 9):
            _, payload = workload.request(target, mode, number)
            expected = await _post(urls["P"], token, payload)
            for name, url in urls.items():
                if name == "P" or mode not in modes_of(name):
                    continue
                answer = await _post(url, token, payload)
                if answer.get("data") != expected.get("data") or "errors" in answer:
                    problems.append(f"{name}, {workload.name}, {mode}, #{number}: {answer}")
    return problems


def _numbers(seconds: float) -> Iterator[int]:
    """0, 1, 2, … until ``seconds`` have passed."""
    deadline = time.perf_counter() + seconds
    return itertools.takewhile(lambda _: time.perf_counter() < deadline, itertools.count())


async def measure(
    name: str,
    workers: int,
    pid: int,
    url: str,
    token: str,
    dbs: Databases,
    args: argparse.Namespace,
    target: Target,
) -> list[Sample]:
    """One server's samples: every workload and mode for ``args.seconds`` each."""
    samples = []
    for workload, mode in itertools.product(args.workloads, modes_of(name)):
        await _register(url, token, workload)
        requests = functools.partial(workload.request, target, mode)
        warm = iter(range(args.concurrency * 2))
        await load_mix(url, token, warm, args.concurrency, requests, apq_retry)
        before = dbs.counters(pid)
        result = await load_mix(
            url, token, _numbers(args.seconds), args.concurrency, requests, apq_retry
        )
        count = len(result.latencies)
        cpu, db_cpu, mongo, redis_ = (
            (b - a) * s / count
            for a, b, s in zip(before, dbs.counters(pid), (1000, 1000, 1, 1), strict=True)
        )
        q = statistics.quantiles(result.latencies, n=100)
        sample = Sample(
            server=name, workers=workers, workload=workload.name, mode=mode,
            rps=count / result.elapsed, p50_ms=q[49] * 1000, p95_ms=q[94] * 1000, cpu_ms=cpu,
            db_cpu_ms=db_cpu, mongo_commands=mongo, redis_commands=redis_,
        )  # fmt: skip
        samples.append(sample)
        print(sample.line(), file=sys.stderr, flush=True)
    return samples


async def _session(dbs: Databases, args: argparse.Namespace) -> list[Sample]:
    with contextlib.ExitStack() as stack:
        urls = {n: stack.enter_context(serving(n, 1, dbs.env))[1] for n in args.servers}
        token, target = await start_all(urls)
        problems = await check(urls, token, target, args.workloads)
    if problems:
        raise SystemExit("contenders differ from notes-bff:\n" + "\n".join(problems))
    print("every contender answers as notes-bff does", file=sys.stderr, flush=True)
    samples: list[Sample] = []
    for round_ in range(args.rounds):
        for workers in args.workers:
            shift = round_ % len(args.servers)
            for name in args.servers[shift:] + args.servers[:shift]:
                with serving(name, workers, dbs.env) as (pid, url):
                    await wait_ready(url)
                    samples += await measure(name, workers, pid, url, token, dbs, args, target)
    return samples


def main() -> None:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds, medians reported (3)")
    parser.add_argument("--seconds", type=float, default=5.0, help="per workload and mode (5)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients (8)")
    parser.add_argument("--workers", default="1,2", help="worker counts to run (1,2)")
    parser.add_argument("--notes", type=int, default=400, help="seeded notes (400)")
    parser.add_argument(
        "--servers",
        default="P,C,N,A,L",
        help="servers to run: P (notes-bff, response cache off), C (as shipped), N, A, L",
    )
    parser.add_argument(
        "--output", type=Path, default=Path("bench/results-compare.md"), help="Markdown report"
    )
    parser.add_argument(
        "--chart", type=Path, default=Path("bench/results-compare.png"), help="PNG chart"
    )
    parser.add_argument(
        "--workload",
        action="append",
        choices=WORKLOADS,
        help="a workload to run, by name; repeat for several (all)",
    )
    args = parser.parse_args()
    args.workloads = [WORKLOADS[n] for n in args.workload or WORKLOADS]
    args.workers = [int(w) for w in args.workers.split(",")]
    args.servers = args.servers.split(",")
    if "P" not in args.servers or not set(args.servers) <= set(SERVERS):
        parser.error(f"--servers: some of {','.join(SERVERS)}, P (notes-bff) among them")
    command = " ".join([".venv/bin/python -m bench.compare", *sys.argv[1:]])
    with databases(args.notes) as dbs:
        samples = asyncio.run(_session(dbs, args))
    write_report(samples, command, args.output, args.chart)


if __name__ == "__main__":
    main()
