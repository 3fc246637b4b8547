"""Prometheus metrics of one application (its own registry, so tests may build many apps)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess


@dataclass
class Metrics:
    """The counters and histograms the server records."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "notes_bff_http_requests",
            "HTTP requests by route and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "notes_bff_http_request_duration_seconds",
            "HTTP request latency by route",
            ["route"],
            registry=self.registry,
        )
        self.graphql_errors = Counter(
            "notes_bff_graphql_errors",
            "GraphQL errors by extensions.code",
            ["code"],
            registry=self.registry,
        )

        self.redis_errors = Counter(
            "notes_bff_redis_errors",
            "Redis calls that failed (the caller fell back to local state), by component",
            ["component"],
            registry=self.registry,
        )
        self.persisted_queries = Counter(
            "notes_bff_persisted_queries",
            "Persisted query lookups by source (lru, redis, mongodb, miss) and registrations",
            ["event"],
            registry=self.registry,
        )
        self.subscription_events = Counter(
            "notes_bff_subscription_events",
            "Subscription events: delivered to a subscriber, and rendered (executed; one "
            "rendering serves every local subscriber with the same document and variables)",
            ["stage"],
            registry=self.registry,
        )
        self.events_delivered = self.subscription_events.labels("delivered")
        self.events_rendered = self.subscription_events.labels("rendered")

    def render(self) -> bytes:
        """The text exposition; under gunicorn (``PROMETHEUS_MULTIPROC_DIR``), all workers'."""
        if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
