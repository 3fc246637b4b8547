"""Loader results as futures (what user and workspace fields return): batched like ``load``,
errors passed on, and a cancelled one leaves the shared loads to their other readers."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Sequence

import pytest

from notes_bff.loaders.base import Loader


class Squares(Loader[int, int]):
    cache_tag_kind = "sq"

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[int]] = []

    async def batch_load_fn(self, keys: Sequence[int]) -> list[int]:
        self.batches.append(list(keys))
        if 13 in keys:
            raise ValueError("unlucky")
        return [k * k for k in keys]


def test_one_and_many_are_mapped_and_share_one_batch() -> None:
    async def run() -> tuple[object, object, list[list[int]]]:
        loader = Squares()
        one = loader.load_then(3, lambda v: f"{v}!")
        many = loader.load_many_then([2, 3], sum)
        return await one, await many, loader.batches

    assert asyncio.run(run()) == ("9!", 13, [[3, 2]])


def test_no_keys_is_settled_at_once() -> None:
    async def run() -> list[int]:
        future = Squares().load_many_then([], list)
        assert future.done()
        return await future

    assert asyncio.run(run()) == []


def test_an_error_of_the_batch_or_of_then_reaches_the_awaiter() -> None:
    async def run(future_of: str) -> object:
        loader = Squares()
        if future_of == "batch":
            return await loader.load_then(13, str)
        return await loader.load_then(2, lambda v: 1 / (v - 4))

    with pytest.raises(ValueError, match="unlucky"):
        asyncio.run(run("batch"))
    with pytest.raises(ZeroDivisionError):
        asyncio.run(run("then"))


def test_a_cancelled_future_leaves_the_shared_load_to_the_others() -> None:
    async def run() -> int:
        loader = Squares()
        first = loader.load_then(5, int)
        first.cancel()
        return await loader.load_then(5, int) + await loader.load(5)

    assert asyncio.run(run()) == 50


def test_a_loader_is_freed_with_its_request_without_the_garbage_collector() -> None:
    async def run() -> bool:
        loader = Squares()
        await loader.load_then(3, int)
        gone = weakref.ref(loader)
        del loader
        return gone() is None

    gc.disable()  # freed by reference counting alone: no cycle holds a loader and its cache
    try:
        assert asyncio.run(run())
    finally:
        gc.enable()
