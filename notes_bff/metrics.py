"""Prometheus metrics of one application (its own registry, so tests may build many apps).

Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR`` names a directory where every worker writes its
samples; ``/metrics`` then answers the sum of all workers' (the CLI sets it up and marks dead
workers, ``observability/gunicorn.py``). Every label takes a bounded set of values: operation
names through :class:`OperationNames`, the rest from the code (routes, commands, error codes).
Each metric is described in docs/operations.md.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics import MetricWrapperBase

# Seconds; 0.2 is the seed data's p95 target for an operation.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0)
COMMAND_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
COST_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10_000)
SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
# Operation name label values that are not a client's name.
ANONYMOUS = "anonymous"
OTHER = "other"
_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,63}$")
GaugeMode = Literal["livesum", "liveall", "max"]
M = TypeVar("M", bound=MetricWrapperBase)


class OperationNames:
    """Operation names as label values: the first ``limit`` distinct names this process sees
    are their own value; later ones, and names too long to be real, are ``other``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._known: set[str] = set()

    def label(self, name: str | None) -> str:
        """The label value for an operation called ``name`` (``None``: anonymous)."""
        if not name:
            return ANONYMOUS
        if name in self._known:
            return name
        if len(self._known) >= self.limit or not _NAME.match(name):
            return OTHER
        self._known.add(name)
        return name


@dataclass
class Metrics:
    """The counters, gauges and histograms the server records."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    max_operations: int = 200

    def __post_init__(self) -> None:
        self.operation_names = OperationNames(self.max_operations)
        self._labelled: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._http()
        self._graphql()
        self._services()
        self._realtime()
        self._response_cache()
        self._process()

    def labelled(self, metric: M, *values: str) -> M:
        """``metric.labels(*values)``, looked up once per process: for the samples recorded
        on every request (prometheus_client checks and converts the values and takes a lock
        on each ``labels`` call). Label values are bounded (see the module's docstring), and
        so is what this keeps; no labelled child is ever removed."""
        key = (id(metric), values)
        child = self._labelled.get(key)
        if child is None:
            child = self._labelled[key] = metric.labels(*values)
        return child

    def _counter(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
        return Counter(name, doc, labels, registry=self.registry)

    def _histogram(
        self, name: str, doc: str, labels: tuple[str, ...], buckets: tuple[float, ...]
    ) -> Histogram:
        return Histogram(name, doc, labels, buckets=buckets, registry=self.registry)

    def _gauge(self, name: str, doc: str, labels: tuple[str, ...], mode: GaugeMode) -> Gauge:
        """``mode``: how workers' values combine (live: only running workers', all: by pid)."""
        return Gauge(name, doc, labels, registry=self.registry, multiprocess_mode=mode)

    def _http(self) -> None:
        self.requests = self._counter(
            "notes_bff_http_requests",
            "HTTP requests by route, method and status (websocket upgrades too)",
            ("route", "method", "status"),
        )
        self.latency = self._histogram(
            "notes_bff_http_request_duration_seconds",
            "HTTP request latency by route (websockets excluded)",
            ("route",),
            DURATION_BUCKETS,
        )
        self.websockets = self._gauge(
            "notes_bff_websocket_connections",
            "Open websocket connections by route",
            ("route",),
            "livesum",
        )
        self.websocket_closes = self._counter(
            "notes_bff_websocket_closes",
            "Websocket connections that ended, by route and close code",
            ("route", "code"),
        )
        self.readiness = self._counter(
            "notes_bff_readiness_checks",
            "Answers of /readyz by status (ready, degraded, unavailable, draining)",
            ("status",),
        )

    def _graphql(self) -> None:
        self.graphql_errors = self._counter(
            "notes_bff_graphql_errors", "GraphQL errors by extensions.code", ("code",)
        )
        self.operations = self._counter(
            "notes_bff_graphql_operations",
            "GraphQL operations by name, type and outcome (ok, or the first error's code)",
            ("operation", "type", "outcome"),
        )
        self.executions = self._counter(
            "notes_bff_graphql_executions",
            "Query executions by how they ran: planned (execution/planned.py), fallback (an "
            "error met by the plan, run again by graphql-core) or graphql-core (not planned)",
            ("path",),
        )
        self.operation_duration = self._histogram(
            "notes_bff_graphql_operation_duration_seconds",
            "GraphQL query and mutation duration by name and type",
            ("operation", "type"),
            DURATION_BUCKETS,
        )
        self.operation_cost = self._histogram(
            "notes_bff_graphql_operation_cost",
            "GraphQL operation cost (objects it may return) by name and type",
            ("operation", "type"),
            COST_BUCKETS,
        )
        self.phase_duration = self._histogram(
            "notes_bff_graphql_phase_duration_seconds",
            "GraphQL parse, validate and execute durations",
            ("phase",),
            DURATION_BUCKETS,
        )
        self.persisted_queries = self._counter(
            "notes_bff_persisted_queries",
            "Persisted query lookups by tier (lru, redis, mongodb) or miss, and registrations",
            ("event",),
        )
        self.cache_requests = self._counter(
            "notes_bff_cache_requests", "Cache lookups by cache and result", ("cache", "result")
        )
        self.dataloader_batch_size = self._histogram(
            "notes_bff_dataloader_batch_size",
            "Keys per dataloader batch (one database query) by loader",
            ("loader",),
            SIZE_BUCKETS,
        )
        self.rate_limit_rejections = self._counter(
            "notes_bff_rate_limit_rejections",
            "Requests refused by a rate limit, by budget",
            ("budget",),
        )

    def _services(self) -> None:
        self.mongodb_commands = self._histogram(
            "notes_bff_mongodb_command_duration_seconds",
            "MongoDB command duration by command and collection",
            ("command", "collection"),
            COMMAND_BUCKETS,
        )
        self.mongodb_failures = self._counter(
            "notes_bff_mongodb_command_failures",
            "MongoDB commands that failed, by command and collection",
            ("command", "collection"),
        )
        self.redis_commands = self._histogram(
            "notes_bff_redis_command_duration_seconds",
            "Redis command (or pipeline) duration by command",
            ("command",),
            COMMAND_BUCKETS,
        )
        self.redis_errors = self._counter(
            "notes_bff_redis_errors",
            "Redis calls that failed (the caller fell back to local state), by component",
            ("component",),
        )
        self.emails = self._counter(
            "notes_bff_emails",
            "Email send attempts by outcome: sent, retry (failed, tried again later), dead "
            "(failed the last allowed attempt; `notes-bff email list-dead` lists them)",
            ("outcome",),
        )
        self.background_success = self._gauge(
            "notes_bff_background_task_last_success_timestamp_seconds",
            "When a background task last completed a round (Unix time)",
            ("task",),
            "max",
        )

    def _realtime(self) -> None:
        self.subscription_events = self._counter(
            "notes_bff_subscription_events",
            "Subscription events: published by this process, delivered to a subscriber, and "
            "rendered (one rendering serves every local subscriber with the same document and "
            "variables)",
            ("stage",),
        )
        self.events_published = self.subscription_events.labels("published")
        self.events_delivered = self.subscription_events.labels("delivered")
        self.events_rendered = self.subscription_events.labels("rendered")
        self.delivery_lag = self._histogram(
            "notes_bff_subscription_delivery_lag_seconds",
            "From an event's publication to its delivery to a subscriber",
            (),
            DURATION_BUCKETS,
        )
        self.subscriptions = self._gauge(
            "notes_bff_subscriptions_active",
            "Running subscriptions by root field",
            ("field",),
            "livesum",
        )
        self.slow_subscribers = self._counter(
            "notes_bff_slow_subscribers",
            "Subscriptions cut off because their queue overflowed (websocket closed with 4508)",
        )

    def _response_cache(self) -> None:
        self.response_cache = self._counter(
            "notes_bff_response_cache_lookups",
            "Response cache lookups by tier (l1: this worker, l2: Redis) and outcome",
            ("tier", "outcome"),
        )
        self.response_cache_invalidations = self._counter(
            "notes_bff_response_cache_invalidations",
            "Tag versions bumped by writes (each drops every cached answer that read the tag)",
        )
        self.response_cache_stored_bytes = self._counter(
            "notes_bff_response_cache_stored_bytes",
            "Bytes of answers written to the Redis tier",
        )

    def _process(self) -> None:
        self.cpu_seconds = self._counter(
            "notes_bff_process_cpu_seconds", "CPU time of the server processes (user + system)"
        )
        self.resident_memory = self._gauge(
            "notes_bff_process_resident_memory_bytes",
            "Resident memory of each server process",
            (),
            "liveall",
        )
        self.open_fds = self._gauge(
            "notes_bff_process_open_fds",
            "Open file descriptors of each server process",
            (),
            "liveall",
        )
        self.gc_pause = self._histogram(
            "notes_bff_process_gc_pause_seconds",
            "Garbage collection pauses (and, as their count, collections) by generation",
            ("generation",),
            COMMAND_BUCKETS,
        )

    def render(self) -> bytes:
        """The text exposition; under gunicorn (``PROMETHEUS_MULTIPROC_DIR``), all workers'."""
        if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
