"""A periodic job that one process of the deployment runs at a time.

Every process runs the loop; each round only the holder of a Redis lease (SET NX with an
expiry a little shorter than the round) does the work, and gives the lease back when done,
so one process works at a time. The work must be safe to repeat: a process that dies
mid-round leaves it to the next.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable

import structlog
from redis.asyncio import Redis

from notes_bff.background import BackgroundTasks
from notes_bff.metrics import Metrics
from notes_bff.redis_guard import RedisGuard

log = structlog.get_logger("notes_bff.scheduler")
# Delete the lease only if this process still holds it.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


class LeasedJob:
    """Runs ``work`` every ``interval_s`` in whichever process takes the lease ``name``."""

    def __init__(
        self,
        redis: Redis,
        metrics: Metrics,
        name: str,
        interval_s: float,
        work: Callable[[], Awaitable[object]],
    ) -> None:
        self.redis = redis
        self.metrics = metrics
        self.name = name
        self.interval_s = interval_s
        self.work = work
        self.guard = RedisGuard("scheduler", metrics)
        self._tasks = BackgroundTasks()
        self._owner = f"{os.getpid()}:{id(self)}"

    def start(self) -> None:
        """Start the loop."""
        self._tasks.start(**{self.name: self._run()})

    async def stop(self) -> None:
        """Stop the loop."""
        await self._tasks.stop()

    async def _run(self) -> None:
        lease_ms = max(int(self.interval_s * 1000 * 0.9), 100)
        key = f"notes-bff:lock:{self.name}"
        while True:
            await asyncio.sleep(self.interval_s)
            if await self.guard.call(
                lambda: self.redis.set(key, self._owner, nx=True, px=lease_ms)
            ):
                try:
                    await self.work()
                except Exception:
                    log.exception("scheduled_job_failed", job=self.name)
                else:
                    self.metrics.background_success.labels(self.name).set(time.time())
                await self.guard.call(lambda: self.redis.eval(_RELEASE, 1, key, self._owner))
