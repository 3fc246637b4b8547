"""A monitor of the event loop: how often a short sleeper got to run while a block ran."""

from __future__ import annotations

import asyncio
from types import TracebackType


class LoopLag:
    """Counts the wake-ups (``ticks``) of a task sleeping ``interval`` at a time: a blocked
    loop wakes it once at the end, a free loop many times."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.ticks += 1

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
