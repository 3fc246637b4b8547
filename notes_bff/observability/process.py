"""Process metrics (CPU, resident memory, open descriptors, garbage collection pauses),
sampled by each server process itself: under gunicorn, a scrape is answered by one worker,
so every worker writes its own samples for the others to read."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import resource
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from notes_bff.keys import METRICS
from notes_bff.metrics import Metrics

SAMPLE_S = 5.0
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


class ProcessSampler:
    """Samples this process into ``metrics``; times collections through ``gc.callbacks``."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._cpu = 0.0
        self._collecting_since = 0.0

    def sample(self) -> None:
        """Record CPU time, resident memory and open descriptors now."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime
        self.metrics.cpu_seconds.inc(max(cpu - self._cpu, 0.0))
        self._cpu = cpu
        with contextlib.suppress(OSError):  # /proc: Linux only
            pages = int(Path("/proc/self/statm").read_text().split()[1])
            self.metrics.resident_memory.set(pages * _PAGE_BYTES)
            self.metrics.open_fds.set(len(os.listdir("/proc/self/fd")))

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        """``gc.callbacks`` hook: one pause sample per collection, by generation."""
        if phase == "start":
            self._collecting_since = time.perf_counter()
        else:
            pause = time.perf_counter() - self._collecting_since
            self.metrics.gc_pause.labels(str(info["generation"])).observe(pause)


async def process_metrics(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: sample every ``SAMPLE_S`` seconds while the application runs."""
    sampler = ProcessSampler(app[METRICS])
    gc.callbacks.append(sampler.on_gc)

    async def run() -> None:
        while True:
            sampler.sample()
            await asyncio.sleep(SAMPLE_S)

    task = asyncio.create_task(run(), name="notes-bff-process-metrics")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    gc.callbacks.remove(sampler.on_gc)
