"""The scope being served (a request, or one GraphQL operation), found through a context
variable: the MongoDB and Redis observers add their time to it, loaders and caches find the
application's metrics through it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from notes_bff.metrics import Metrics


@dataclass
class Scope:
    """What one request or operation spent in the backing services."""

    metrics: Metrics
    mongodb_s: float = 0.0
    mongodb_commands: int = 0
    redis_s: float = 0.0
    redis_commands: int = 0


_current: ContextVar[Scope | None] = ContextVar("observed_scope", default=None)


def current_scope() -> Scope | None:
    """The innermost scope of this task (tasks it starts inherit it)."""
    return _current.get()


@contextmanager
def observing(metrics: Metrics) -> Iterator[Scope]:
    """A new scope for the block."""
    scope, before = Scope(metrics), _current.get()
    _current.set(scope)
    try:
        yield scope
    finally:
        # Not ``reset``: a subscription's generator may be closed from another context.
        _current.set(before)


def count_cache(cache: str, hit: bool) -> None:
    """One lookup of ``cache`` (``notes_bff_cache_requests_total``), if a scope is served."""
    scope = current_scope()
    if scope is not None:
        metrics = scope.metrics
        metrics.labelled(metrics.cache_requests, cache, "hit" if hit else "miss").inc()
