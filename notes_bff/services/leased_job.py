"""A job that every process runs and one process at a time does: each round, only the
holder of a Redis lease (SET NX with expiry, a little shorter than a round) works, and it
gives the lease back when done (so a process with a shorter round, or the next round, is
never locked out by a long lease). The work must be safe to repeat: it claims what it does
atomically, and a process that dies mid-round leaves the rest to the next."""

from __future__ import annotations

import asyncio
import os
import time

import structlog
from redis.asyncio import Redis

from notes_bff.background import BackgroundTasks
from notes_bff.metrics import Metrics
from notes_bff.redis_guard import RedisGuard

log = structlog.get_logger("notes_bff.scheduler")
LOCK_PREFIX = "notes-bff:lock:"
# Delete the lease only if this process still holds it.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


class LeasedJob:
    """Runs :meth:`scan` every ``interval_s`` in the one process holding the round's lease."""

    name = "job"

    def __init__(self, redis: Redis, metrics: Metrics, interval_s: float) -> None:
        self.redis = redis
        self.interval_s = interval_s
        self.guard = RedisGuard("scheduler", metrics)
        self._tasks = BackgroundTasks()
        self._owner = f"{os.getpid()}:{id(self)}"

    def start(self) -> None:
        """Start the loop."""
        self._tasks.start(**{self.name: self._run()})

    async def stop(self) -> None:
        """Stop the loop."""
        await self._tasks.stop()

    async def scan(self) -> int:
        """One round's work; how many things it did."""
        raise NotImplementedError

    async def _run(self) -> None:
        lock_ms = max(int(self.interval_s * 1000 * 0.9), 100)
        key = LOCK_PREFIX + self.name.replace("_", "-")
        while True:
            await asyncio.sleep(self.interval_s)
            acquired = await self.guard.call(
                lambda: self.redis.set(key, self._owner, nx=True, px=lock_ms)
            )
            if acquired:
                try:
                    await self.scan()
                except Exception:
                    log.exception(f"{self.name}_scan_failed")
                else:
                    self.guard.metrics.background_success.labels(self.name).set(time.time())
                await self.guard.call(lambda: self.redis.eval(_RELEASE, 1, key, self._owner))
