"""Flame graphs of notes-bff (the comparison's P: response cache off) serving one workload.

    .venv/bin/python -m bench.profile [--workload "workspace page, 20 notes"] [--seconds 20]

Seeds the comparison's databases (``bench.compare.databases``), starts ``notes-bff serve``
(one worker) under ``py-spy record``, sends the workload as full text and then as an APQ
hash (one server each), and writes per mode an SVG flame graph and py-spy's collapsed
stacks under ``bench/profiles/``, then prints the share of samples per phase
(``PHASES``: the first pattern found in a stack, innermost frame first, names its phase).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.compare import SERVER_ENV, SERVERS, _numbers, _register, databases, target_of
from bench.harness import load_mix, login, wait_ready
from bench.workloads import MODES, WORKLOADS, apq_retry
from notes_bff.embedded import free_port

OUT = Path("bench/profiles")
# Imports, seeding and the harness's sign-in (Argon2): the server starting, not serving.
STARTUP = re.compile(r"importlib\._bootstrap|argon2|notes_bff/seed\.py")
# (phase, regular expression on one frame "function (file:line)"), most specific first. A
# sample belongs to the phase of its innermost frame that matches one; the generic phases
# (the event loop, HTTP) only when no frame matches a specific one.
PHASES = [
    ("response-cache bookkeeping", r"response_cache"),
    ("rate limit", r"ratelimit\.py|rate_limits\.py"),
    ("auth (token check)", r"notes_bff/auth/"),
    ("logs", r"structlog|notes_bff/logs\.py|logging/"),
    ("metrics and tracing", r"prometheus_client|notes_bff/metrics\.py|observability/"),
    ("Redis client", r"\(redis/"),
    ("Beanie model construction", r"pydantic|beanie/odm/utils/parsing"),
    ("data access (PyMongo, BSON, Beanie queries)", r"pymongo|bson|beanie/"),
    ("loaders (aiodataloader)", r"aiodataloader|notes_bff/loaders/"),
    ("services", r"notes_bff/services/|notes_bff/models/|notes_bff/pagination"),
    ("parse", r"graphql/language/"),
    ("validation (rules, limits)", r"graphql/validation/|execution/limits\.py"),
    ("Strawberry field wrappers", r"strawberry/schema/schema_converter|strawberry/types/field"),
    ("resolvers (schema/)", r"notes_bff/schema/"),
    (
        "execution (graphql-core, plain_fields, planned)",
        r"graphql/execution/|graphql/pyutils/|graphql/type/|execution/plain_fields"
        r"|execution/planned",
    ),
    ("Strawberry (operation, extensions, results)", r"strawberry/|notes_bff/execution/"),
]
GENERIC = [
    ("HTTP (aiohttp, middlewares, view, JSON)", r"aiohttp/|notes_bff/http/|orjson|multidict"),
    ("event loop (asyncio, uvloop, sockets)", r"."),
]


def phase_shares(collapsed: Path) -> list[tuple[str, float]]:
    """Share of samples per phase in py-spy's collapsed stacks (``stack count`` lines),
    those of the server's start (``STARTUP``) and py-spy's rare empty stacks left out."""
    counts: collections.Counter[str] = collections.Counter()
    specific = [(name, re.compile(pattern)) for name, pattern in PHASES]
    generic = [(name, re.compile(pattern)) for name, pattern in GENERIC]
    for line in collapsed.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or STARTUP.search(stack):
            continue
        frames = stack.split(";")[::-1]
        phase = next(
            name
            for patterns in (specific, generic)
            for frame in frames
            for name, rx in patterns
            if rx.search(frame)
        )
        counts[phase] += int(number)
    total = sum(counts.values()) or 1
    return [(name, 100 * count / total) for name, count in counts.most_common()]


async def _load(url: str, mode: str, workload_name: str, seconds: float) -> int:
    token = await login(url)
    await wait_ready(url)
    target = await target_of(url, token)
    workload = WORKLOADS[workload_name]
    await _register(url, token, workload)
    requests = functools.partial(workload.request, target, mode)
    result = await load_mix(url, token, _numbers(seconds), 8, requests, apq_retry)
    return len(result.latencies)


@contextlib.contextmanager
def _spied(argv: list[str], env: dict[str, str]) -> Iterator[str]:
    """``argv`` (py-spy and the server) on a free port: its URL; stopped with SIGINT, on
    which py-spy writes its output (SIGTERM would lose it)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTES_BFF_")} | env
    spy = subprocess.Popen(
        argv,
        env=env | {"NOTES_BFF_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)


def profile(env: dict[str, str], workload: str, mode: str, seconds: float, stem: str) -> None:
    """One server under py-spy, loaded with ``workload`` in ``mode``: SVG and collapsed."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    outputs = {"flamegraph": OUT / f"{stem}.svg", "raw": OUT / f"{stem}.collapsed"}
    for kind, path in outputs.items():
        argv = [spy, "record", "--rate", "250", "--gil", "--format", kind, "-o", str(path), "--"]
        argv += [sys.executable, *SERVERS["P"], "--workers", "1"]
        with _spied(argv, env | SERVER_ENV["P"]) as url:
            count = asyncio.run(_load(url, mode, workload, seconds))
        print(f"{stem} ({kind}): {count} requests", file=sys.stderr)


def main() -> None:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--workload", default="workspace page, 20 notes", choices=WORKLOADS)
    parser.add_argument("--seconds", type=float, default=20.0, help="of load per mode (20)")
    parser.add_argument("--notes", type=int, default=400, help="seeded notes (400)")
    parser.add_argument("--tag", default="", help="suffix of the files' names")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", args.workload.lower()).strip("-")
    with databases(args.notes) as dbs:
        for mode in MODES:
            stem = f"{slug}-{mode}{args.tag}"
            profile(dbs.env, args.workload, mode, args.seconds, stem)
            print(f"\n{stem}:")
            for name, share in phase_shares(OUT / f"{stem}.collapsed"):
                print(f"  {share:5.1f} %  {name}")


if __name__ == "__main__":
    main()
