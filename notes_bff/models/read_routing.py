"""Where a read goes, by class of read (docs/scaling.md, "Read routing").

Every read goes to the primary, except list-class reads (note pages, dashboard sections and
statistics, note and tag counts, notification lists) made inside :func:`list_reads`: those
go where the process's installed :class:`ListReadRoute` sends them (a secondary allowed by
the read preference, or a separate list-read server). Beanie takes no read preference per
operation, so the routed models (:class:`RoutedReads`) ask for their collection here.

A request may carry a :class:`ReadAfter` (the consistency token of the caller's last
write): its list reads then run in a causally consistent session that waits for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from bson import Timestamp
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection


@dataclass(frozen=True)
class ReadAfter:
    """A point in the deployment's history a read must observe: an operation time and the
    (server-signed) cluster time that goes with it."""

    operation_time: Timestamp
    cluster_time: Mapping[str, Any]


class ListReadRoute(Protocol):
    """Where list reads go (``db.ListReads`` implements it)."""

    def collection(self, primary: AsyncCollection[Any]) -> AsyncCollection[Any]:
        """The list-read form of ``primary`` (same database, name and codec options)."""

    def causal_session(self, after: ReadAfter) -> AbstractAsyncContextManager[AsyncClientSession]:
        """A causally consistent session of the list-read client that reads after ``after``."""


_installed: list[ListReadRoute] = []
_routing: ContextVar[ListReadRoute | None] = ContextVar("list_read_route", default=None)
_after: ContextVar[ReadAfter | None] = ContextVar("read_after", default=None)
_on_primary: ContextVar[bool] = ContextVar("on_primary", default=False)


@contextmanager
def installed(route: ListReadRoute) -> Iterator[None]:
    """List reads of this process go through ``route`` inside this block (Beanie's
    documents are bound process-wide too); the route installed before comes back after."""
    _installed.append(route)
    try:
        yield
    finally:
        _installed.remove(route)


@contextmanager
def reading_after(after: ReadAfter | None) -> Iterator[None]:
    """The list reads of this block (and of the tasks it starts) observe ``after``."""
    token = _after.set(after)
    try:
        yield
    finally:
        _after.reset(token)


@contextmanager
def on_primary() -> Iterator[None]:
    """Every read of this block (and of the tasks it starts) is on the primary, list reads
    too: what renders a write's consequence (a subscription event) reads after that write."""
    token = _on_primary.set(True)
    try:
        yield
    finally:
        _on_primary.reset(token)


@asynccontextmanager
async def list_reads() -> AsyncIterator[AsyncClientSession | None]:
    """Route the reads of this block as list reads; yields the session to pass to them (a
    causal one when the request carries a :class:`ReadAfter`, else None)."""
    route = _installed[-1] if _installed and not _on_primary.get() else None
    if route is None:
        yield None
        return
    token = _routing.set(route)
    try:
        after = _after.get()
        if after is None:
            yield None
        else:
            async with route.causal_session(after) as session:
                yield session
    finally:
        _routing.reset(token)


class RoutedReads:
    """A document whose reads inside :func:`list_reads` follow the list-read route."""

    @classmethod
    def get_pymongo_collection(cls) -> AsyncCollection[Any]:
        """Beanie's collection, or its list-read form inside :func:`list_reads`."""
        primary: AsyncCollection[Any] = super().get_pymongo_collection()  # type: ignore[misc]
        route = _routing.get()
        return primary if route is None else route.collection(primary)
