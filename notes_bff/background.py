"""Tasks that run for a component's life: started together, cancelled and awaited together."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

import structlog

log = structlog.get_logger("notes_bff.background")
# A task still running this long after its cancellation swallowed it: cancelled again.
RECANCEL_S = 2.0


class BackgroundTasks:
    """A component's named background tasks."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, **work: Coroutine[Any, Any, None]) -> None:
        """Run each coroutine as a task named ``notes-bff-<name>``."""
        self._tasks += [
            asyncio.create_task(coro, name=f"notes-bff-{name.replace('_', '-')}")
            for name, coro in work.items()
        ]

    async def stop(self) -> None:
        """Cancel every task and wait until each has finished; a task whose cancellation
        was lost on its way is cancelled again every ``RECANCEL_S``, so a component's stop
        never hangs on it. (On Python 3.11, ``asyncio.timeout``, which redis-py's reads use,
        turns a cancellation that meets its deadline into a ``TimeoutError`` and forgets it:
        a retry loop then just retries.)"""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        running = set(tasks)
        while running:
            _, running = await asyncio.wait(running, timeout=RECANCEL_S)
            for task in running:
                log.warning("task_cancelled_again", task=task.get_name())
                task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
