"""Tasks that run for a component's life: started together, cancelled and awaited together."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any


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
        """Cancel every task and wait until each has finished."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
