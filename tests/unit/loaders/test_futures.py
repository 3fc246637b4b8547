"""Loader results as futures (what user and workspace fields return): batched like ``load``,
errors passed on, and a cancelled one leaves the shared loads to their other readers."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Sequence
from typing import Any

import pytest

from notes_bff.loaders.base import Loader
from notes_bff.loaders.by_id import _DocumentByIdLoader


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


class Doc:
    """A stored document (loaded once per key, until the key is cleared)."""

    def __init__(self, key: int) -> None:
        self.key = key


class Docs(_DocumentByIdLoader[Any]):
    cache_tag_kind = "doc"

    async def batch_load_fn(self, keys: Sequence[Any]) -> list[Any]:
        return [Doc(k) if k != 404 else None for k in keys]


def test_a_document_view_is_made_once_per_document() -> None:
    made: list[int] = []

    def view(doc: Doc) -> tuple[str, int]:
        made.append(doc.key)
        return ("view", doc.key)

    async def run() -> list[Any]:
        loader = Docs()
        one = [loader.view_then(1, view, "gone") for _ in range(20)]
        many = loader.views_then([1, 2, 404, 2], view)
        first = await asyncio.gather(*one, many)
        loader.clear(1)  # a write: the next load reads a new document, which gets its view
        again = await loader.view_then(1, view, "gone")
        with pytest.raises(LookupError, match="gone"):
            await loader.view_then(404, view, "gone")
        return [first[0], first[-1], again, all(v is first[0] for v in first[:20])]

    one, many, again, shared = asyncio.run(run())
    assert (one, many, again, shared) == (
        ("view", 1),
        [("view", 1), ("view", 2), ("view", 2)],
        ("view", 1),
        True,
    )
    assert made == [1, 2, 1]
