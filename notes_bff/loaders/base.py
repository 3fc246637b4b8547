"""The base of every loader: a shared result is never cancelled by one of its awaiters,
every batch is measured (its size) and traced, and its tags reach the response cache."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, ClassVar, TypeVar

from aiodataloader import DataLoader

from notes_bff.observability import tracing
from notes_bff.observability.scope import current_scope
from notes_bff.response_cache.reads import reading
from notes_bff.response_cache.tags import tag

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")


async def _observed(
    name: str,
    tag: Callable[[K], str],
    load: Callable[[list[K]], Awaitable[list[V]]],
    keys: list[K],
) -> list[V]:
    """One batch: its size in ``notes_bff_dataloader_batch_size``, and a span; the response
    cache learns what it reads first."""
    await reading(*(tag(key) for key in keys))
    scope = current_scope()
    if scope is not None:
        metrics = scope.metrics
        metrics.labelled(metrics.dataloader_batch_size, name).observe(len(keys))
    with tracing.span("dataloader.batch", {"dataloader.name": name, "dataloader.keys": len(keys)}):
        return await load(keys)


def _settle(result: asyncio.Future[T], compute: Callable[[], T]) -> None:
    """Settle ``result`` with ``compute()``, or with its error (unless it was cancelled)."""
    if result.done():
        return
    try:
        result.set_result(compute())
    except (Exception, asyncio.CancelledError) as exc:
        result.set_exception(exc)


def _observing(
    load: Callable[[Any, list[K]], Awaitable[list[V]]],
) -> Callable[[Any, list[K]], Awaitable[list[V]]]:
    @functools.wraps(load)
    async def batch_load_fn(self: Loader[K, V], keys: list[K]) -> list[V]:
        return await _observed(type(self).__name__, self.cache_tag, partial(load, self), keys)

    return batch_load_fn


class Loader(DataLoader[K, V]):
    """A DataLoader whose ``load`` futures are shielded.

    Several resolvers await one cached future. When graphql-core cancels one of them (a
    sibling field failed), cancelling the shared future itself would raise CancelledError in
    every other resolver awaiting it, and so in the request: each awaiter gets its own shield.
    """

    # The kind of the response cache's tag of what loading a key reads (response_cache.tags).
    cache_tag_kind: ClassVar[str]

    def cache_tag(self, key: K) -> str:
        """The response cache's tag of what loading ``key`` reads."""
        return tag(self.cache_tag_kind, key)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Each batch function measured and traced (``_observed``), wrapped once per class:
        a wrapper kept on the instance (a partial of its own bound methods) made every loader
        a reference cycle, which only the garbage collector frees, with the documents it
        cached."""
        super().__init_subclass__(**kwargs)
        load = cls.__dict__.get("batch_load_fn")
        if load is not None:
            cls.batch_load_fn = _observing(load)  # type: ignore[assignment,misc]

    def load(self, key: K) -> asyncio.Future[V]:
        """The value for ``key`` (batched with the others of this tick)."""
        return asyncio.shield(super().load(key))

    def load_then(self, key: K, then: Callable[[V], T]) -> asyncio.Future[T]:
        """``then`` of the value for ``key``, as a future of its own (``load_many_then`` for
        one key, without its bookkeeping)."""
        load: asyncio.Future[V] = DataLoader.load(self, key)
        result: asyncio.Future[T] = asyncio.get_running_loop().create_future()

        load.add_done_callback(lambda _: _settle(result, lambda: then(load.result())))
        return result

    def load_many_then(self, keys: list[K], then: Callable[[list[V]], T]) -> asyncio.Future[T]:
        """``then`` of the values for ``keys``, as a future of its own: no coroutine, so a
        resolver can return it and an executor await it without a task. Like ``load``'s
        shield, cancelling it leaves the shared loads alone."""
        loads: list[asyncio.Future[V]] = [DataLoader.load(self, key) for key in keys]
        result: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        waiting = len(loads)

        def settle(_: object) -> None:
            nonlocal waiting
            waiting -= 1
            if waiting == 0:
                _settle(result, lambda: then([load.result() for load in loads]))

        if not loads:
            _settle(result, lambda: then([]))
        for load in loads:
            load.add_done_callback(settle)
        return result
