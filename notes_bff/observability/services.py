"""Timing MongoDB and Redis: per command in metrics, and per operation in its scope."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pymongo import monitoring
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline

from notes_bff.metrics import Metrics
from notes_bff.observability import tracing
from notes_bff.observability.scope import current_scope

_COMMAND = re.compile(r"^[A-Za-z]{1,24}$")


def _add_mongodb(seconds: float) -> None:
    scope = current_scope()
    if scope is not None:
        scope.mongodb_s += seconds
        scope.mongodb_commands += 1


def _collection(event: monitoring.CommandStartedEvent) -> str:
    """The collection a command reads or writes ("" for database and admin commands)."""
    target = event.command.get(event.command_name)
    if event.command_name == "getMore":
        target = event.command.get("collection")
    return target if isinstance(target, str) else ""


class MongoCommandObserver(monitoring.CommandListener):
    """A pymongo listener that times every command of one client.

    pymongo calls it in the task that runs the command, so the time also goes to that
    task's scope (the operation being served).
    """

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._collections: dict[tuple[object, int], str] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        """Remember the command's collection until it ends."""
        self._collections[event.connection_id, event.request_id] = _collection(event)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Record its duration."""
        self._ended(event, failed=False)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Record its duration and the failure."""
        self._ended(event, failed=True)

    def _ended(
        self, event: monitoring.CommandSucceededEvent | monitoring.CommandFailedEvent, failed: bool
    ) -> None:
        collection = self._collections.pop((event.connection_id, event.request_id), "")
        seconds = event.duration_micros / 1e6
        metrics = self.metrics
        metrics.labelled(metrics.mongodb_commands, event.command_name, collection).observe(seconds)
        if failed:
            self.metrics.mongodb_failures.labels(event.command_name, collection).inc()
        _add_mongodb(seconds)


@contextmanager
def _timed(metrics: Metrics, command: str) -> Iterator[None]:
    """Record one Redis round trip (a command, or a pipeline as one) in the metrics and the
    current operation's scope."""
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds = time.perf_counter() - started
        metrics.labelled(metrics.redis_commands, command).observe(seconds)
        scope = current_scope()
        if scope is not None:
            scope.redis_s += seconds
            scope.redis_commands += 1


def _command_name(args: tuple[Any, ...]) -> str:
    name = args[0].decode() if args and isinstance(args[0], bytes) else str(args[0] if args else "")
    return name.upper() if _COMMAND.match(name) else "OTHER"


class ObservedPipeline(Pipeline):
    """A pipeline (or MULTI/EXEC transaction) timed as one command."""

    def __init__(self, metrics: Metrics, *args: Any) -> None:
        super().__init__(*args)
        self.metrics = metrics

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        """Send the queued commands; record the round trip."""
        with _timed(self.metrics, "MULTI" if self.is_transaction else "PIPELINE"):
            return await super().execute(raise_on_error)


class ObservedRedis(Redis):
    """A Redis client whose commands and pipelines are timed (and traced when tracing is on)."""

    def __init__(self, metrics: Metrics, **options: Any) -> None:
        super().__init__(**options)
        self.metrics = metrics
        tracing.instrument_redis(self)

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        """Run one command; record its round trip."""
        with _timed(self.metrics, _command_name(args)):
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        """A timed pipeline."""
        return ObservedPipeline(
            self.metrics, self.connection_pool, self.response_callbacks, transaction, shard_hint
        )


class ObservedClusterPipeline(ClusterPipeline):
    """A Cluster pipeline (or single-slot transaction) timed as one command."""

    def __init__(self, metrics: Metrics, client: RedisCluster, transaction: bool | None) -> None:
        super().__init__(client, transaction)
        self.metrics = metrics

    async def execute(
        self, raise_on_error: bool = True, allow_redirections: bool = True
    ) -> list[Any]:
        """Send the queued commands (to each node that owns some); record the round trips."""
        with _timed(self.metrics, "MULTI" if self._transaction else "PIPELINE"):
            return await super().execute(raise_on_error, allow_redirections)


class ObservedRedisCluster(RedisCluster):
    """A Redis Cluster client timed (and traced) like :class:`ObservedRedis`."""

    def __init__(self, metrics: Metrics, **options: Any) -> None:
        super().__init__(**options)
        self.metrics = metrics
        tracing.instrument_redis(self)

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        """Run one command on the node that owns its keys; record its round trip."""
        with _timed(self.metrics, _command_name(args)):
            return await super().execute_command(*args, **options)

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> ClusterPipeline:
        """A timed pipeline."""
        if shard_hint:
            return super().pipeline(transaction, shard_hint)  # refused, as redis-py does
        return ObservedClusterPipeline(self.metrics, self, transaction)  # type: ignore[abstract]
