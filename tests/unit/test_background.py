"""Background tasks: named, and stopped together: every task cancelled and awaited (its
clean-up finished) before ``stop`` returns; a stopped set can start again."""

from __future__ import annotations

import asyncio

from notes_bff.background import BackgroundTasks


async def test_stop_cancels_and_awaits_every_task() -> None:
    cleaned: list[str] = []

    async def forever(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.01)  # clean-up that itself awaits
            cleaned.append(name)

    tasks = BackgroundTasks()
    tasks.start(log_compactor=forever("a"), indexer=forever("b"))
    await asyncio.sleep(0)
    names = {t.get_name() for t in asyncio.all_tasks()}
    assert {"notes-bff-log-compactor", "notes-bff-indexer"} <= names
    await tasks.stop()
    assert sorted(cleaned) == ["a", "b"]
    left = {t.get_name() for t in asyncio.all_tasks()}
    assert not left & {"notes-bff-log-compactor", "notes-bff-indexer"}


async def test_a_stopped_set_starts_again_and_stops_only_its_new_tasks() -> None:
    runs: list[str] = []

    async def run(name: str) -> None:
        runs.append(name)
        await asyncio.Event().wait()

    tasks = BackgroundTasks()
    tasks.start(first=run("first"))
    await asyncio.sleep(0)
    await tasks.stop()
    tasks.start(second=run("second"))
    await asyncio.sleep(0)
    [second] = [t for t in asyncio.all_tasks() if t.get_name() == "notes-bff-second"]
    assert not second.done()
    await tasks.stop()
    assert second.cancelled()
    assert runs == ["first", "second"]
    await tasks.stop()  # stopping twice is harmless


async def test_a_task_that_swallows_its_cancellation_still_stops() -> None:
    # As a retry loop does when redis-py turns the cancellation into a TimeoutError.
    cancellations: list[bool] = []

    async def retrying() -> None:
        while True:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancellations.append(True)
                if len(cancellations) == 1:
                    continue
                raise

    tasks = BackgroundTasks()
    tasks.start(retrying=retrying())
    await asyncio.sleep(0)
    await asyncio.wait_for(tasks.stop(), timeout=60)  # without a second cancel: never
    assert len(cancellations) == 2
