"""Before and after a change: two notes-bff servers (response cache off) served at the same
time on the same databases, loaded together, CPU per request of each.

    git archive BASE notes_bff | tar -x -C /tmp/base
    .venv/bin/python -m bench.ab --base /tmp/base [--rounds 10] [--seconds 5]

On a machine shared with other work, CPU per request moves by tens of percent from one run to
the next; two servers measured over the same seconds move together. ``--base`` is a folder
holding the ``notes_bff`` package to compare with (a checkout or ``git archive`` of the base
commit); the other server runs this working tree. Each round loads both with the workspace
page (``--workload``) as full text and as an APQ hash, 4 clients each; prints each pair and
the medians, and the median of the pairs' ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from bench.compare import SERVER_ENV, _numbers, _register, databases, target_of
from bench.harness import (
    Request,
    load_mix,
    login,
    server_process,
    tree_cpu_seconds,
    wait_ready,
)
from bench.workloads import MODES, WORKLOADS, Target, Workload, apq_retry


def argv(base: Path | None) -> list[str]:
    """``notes-bff serve`` with one worker, from ``base`` (else this working tree)."""
    if base is None:
        return [sys.executable, "-m", "notes_bff", "serve", "--workers", "1"]
    run = (
        f"import sys; sys.path.insert(0, {str(base)!r}); import runpy; "
        "runpy.run_module('notes_bff', run_name='__main__', alter_sys=True)"
    )
    return [sys.executable, "-c", run, "serve", "--workers", "1"]


async def _cpu_ms(
    pid: int, url: str, token: str, requests: Callable[[int], Request], seconds: float
) -> float:
    """CPU ms per request of server ``pid`` over ``seconds`` of load."""
    before = tree_cpu_seconds(pid)
    result = await load_mix(url, token, _numbers(seconds), 4, requests, apq_retry)
    return (tree_cpu_seconds(pid) - before) * 1000 / len(result.latencies)


async def _run(
    servers: dict[str, tuple[int, str]], workload: Workload, args: argparse.Namespace
) -> dict[tuple[str, str], list[float]]:
    url = servers["after"][1]
    token = await login(url)
    for _, address in servers.values():
        await wait_ready(address)
    target: Target = await target_of(url, token)
    for _, address in servers.values():
        await _register(address, token, workload)
    samples: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for mode in MODES:
            requests = functools.partial(workload.request, target, mode)
            measured = await asyncio.gather(
                *(_cpu_ms(pid, address, token, requests, args.seconds)
                  for pid, address in servers.values())
            )  # fmt: skip
            for name, cpu in zip(servers, measured, strict=True):
                samples.setdefault((name, mode), []).append(cpu)
            print(
                f"{mode}: "
                + ", ".join(f"{n} {c:.2f} ms" for n, c in zip(servers, measured, strict=True))
            )
    return samples


def main() -> None:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True, help="folder with the base notes_bff")
    parser.add_argument("--rounds", type=int, default=10, help="rounds (10)")
    parser.add_argument("--seconds", type=float, default=5.0, help="per round and mode (5)")
    parser.add_argument("--notes", type=int, default=400, help="seeded notes (400)")
    parser.add_argument(
        "--workload", default="workspace page, 20 notes", choices=WORKLOADS, help="(page of 20)"
    )
    args = parser.parse_args()
    with databases(args.notes) as dbs, contextlib.ExitStack() as stack:
        servers = {
            name: stack.enter_context(server_process(argv(base), dbs.env | SERVER_ENV["P"]))
            for name, base in (("before", args.base), ("after", None))
        }
        samples = asyncio.run(_run(servers, WORKLOADS[args.workload], args))
    for (name, mode), values in sorted(samples.items()):
        print(f"{name} {mode}: median {statistics.median(values):.2f} ms")
    before = [v for mode in MODES for v in samples["before", mode]]
    after = [v for mode in MODES for v in samples["after", mode]]
    ratios = [a / b for b, a in zip(before, after, strict=True)]
    print(f"after ÷ before, median of the pairs: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
