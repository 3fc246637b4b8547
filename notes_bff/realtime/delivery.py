"""One event as delivered in this process: what its local subscribers share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from contextvars import ContextVar
from typing import Any, TypeVar, cast

from notes_bff.loaders import Loaders, build_loaders
from notes_bff.realtime.events import Event

T = TypeVar("T")


class Delivery:
    """An event with the work its subscribers in this process do once, not once each.

    The loaders are new for every event (never stale) and shared, so N local subscribers
    resolving the same note cost one batch of queries, not N. :meth:`shared` runs any other
    piece of work (the rendering of a subscription document, the online list) once.
    ``live`` is set for an event just published (not one replayed from the log).
    """

    def __init__(self, event: Event, *, live: bool = False) -> None:
        self.event = event
        self.live = live
        self._loaders: Loaders | None = None
        self._shared: dict[Hashable, asyncio.Future[Any]] = {}

    @property
    def loaders(self) -> Loaders:
        """Fresh loaders for this event, built on first use."""
        if self._loaders is None:
            self._loaders = build_loaders()
        return self._loaders

    def shared(self, key: Hashable, start: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
        """The outcome of ``start()``, called by the first caller with ``key`` only.

        It runs as its own task; await it through ``asyncio.shield``, so a subscriber that
        goes away while waiting does not cancel it for the others. Work that is done at once
        can return :func:`ready`, which later callers read without awaiting.
        """
        future = self._shared.get(key)
        if future is None:
            future = self._shared[key] = asyncio.ensure_future(start())
        return cast("asyncio.Future[T]", future)


def ready(value: T) -> asyncio.Future[T]:
    """A future that already holds ``value``."""
    future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future


# Subscriptions resolve each event with that event's delivery (fresh loaders per event,
# shared by the process's subscribers of it); set in the subscription's task, so concurrent
# subscriptions of one connection never see each other's.
_delivery: ContextVar[Delivery | None] = ContextVar("delivery", default=None)


def use_delivery(delivery: Delivery) -> None:
    """Resolve what follows in this task as part of ``delivery``."""
    _delivery.set(delivery)


def current_delivery() -> Delivery | None:
    """The subscription event this task is resolving, if any."""
    return _delivery.get()
