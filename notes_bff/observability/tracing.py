"""OpenTelemetry traces (the ``tracing`` extra), off unless an OTLP endpoint is configured.

Spans: the HTTP request (its parent from an incoming W3C ``traceparent``), the GraphQL
operation and each of its phases, dataloader batches, MongoDB commands (the pymongo
instrumentation's command listener), Redis commands (the redis instrumentation, per client)
and subscription event renderings. While tracing is off every function here is a no-op, and
nothing of OpenTelemetry is imported.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer
    from opentelemetry.util.types import AttributeValue
    from pymongo.monitoring import CommandListener
    from redis.asyncio import Redis, RedisCluster

    from notes_bff.config import Settings

log = structlog.get_logger("notes_bff.tracing")
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


class _State:
    """The process's tracer provider, once tracing is on."""

    provider: TracerProvider | None = None
    tracer: Tracer | None = None


_state = _State()


def configure(settings: Settings) -> None:
    """Export spans by OTLP/HTTP to ``NOTES_BFF_OTLP_ENDPOINT`` (or the standard
    ``OTEL_EXPORTER_OTLP_ENDPOINT``), batched; nothing when neither is set."""
    wanted = settings.otlp_endpoint or any(os.environ.get(v) for v in ENDPOINT_VARIABLES)
    if _state.provider is not None or not wanted:
        return
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("tracing_unavailable", hint="install notes-bff[tracing]")
        return
    name = {} if "OTEL_SERVICE_NAME" in os.environ else {"service.name": "notes-bff"}
    provider = TracerProvider(resource=Resource.create(name))
    exporter = (
        OTLPSpanExporter(endpoint=settings.otlp_endpoint.rstrip("/") + "/v1/traces")
        if settings.otlp_endpoint
        else OTLPSpanExporter()
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    use(provider)


def use(provider: TracerProvider) -> None:
    """Trace with ``provider`` from now on (tests give one with an in-memory exporter)."""
    _state.provider = provider
    _state.tracer = provider.get_tracer("notes_bff")


def span(
    name: str, attributes: Mapping[str, AttributeValue] | None = None, *, end: bool = True
) -> AbstractContextManager[Span | None]:
    """A span, current in the block; ``end=False`` leaves ending it to :func:`finish`."""
    if _state.tracer is None:
        return nullcontext()
    return _state.tracer.start_as_current_span(name, attributes=attributes, end_on_exit=end)


def finish(span: Span | None, name: str | None = None, **attributes: AttributeValue) -> None:
    """End a span, renamed to ``name`` if given, with ``attributes`` (nothing for ``None``)."""
    if span is not None:
        if name is not None:
            span.update_name(name)
        span.set_attributes(attributes)
        span.end()


@contextmanager
def server_span(method: str, route: str, headers: Mapping[str, str]) -> Iterator[Span | None]:
    """The span of one HTTP request, child of the caller's ``traceparent`` if it sent one."""
    if _state.tracer is None:
        yield None
        return
    from opentelemetry import propagate
    from opentelemetry.trace import SpanKind

    parent = propagate.extract(headers)
    attributes = {"http.request.method": method, "http.route": route}
    with _state.tracer.start_as_current_span(
        f"{method} {route}", context=parent, kind=SpanKind.SERVER, attributes=attributes
    ) as current:
        yield current


def set_status(span: Span | None, status: int) -> None:
    """Record an HTTP status on the request's span (5xx is an error)."""
    if span is None:
        return
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))


def traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, for a response header."""
    if _state.tracer is None:
        return None
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def add_trace_ids(logger: Any, method: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """structlog processor: the current span's ``trace_id`` and ``span_id`` on each line."""
    if _state.tracer is not None:
        from opentelemetry.trace import get_current_span

        context = get_current_span().get_span_context()
        if context.is_valid:
            event.setdefault("trace_id", format(context.trace_id, "032x"))
            event.setdefault("span_id", format(context.span_id, "016x"))
    return event


def mongo_listeners() -> list[CommandListener]:
    """pymongo command listeners that trace each command (none while tracing is off)."""
    if _state.tracer is None:
        return []
    from opentelemetry.instrumentation.pymongo import CommandTracer

    return [CommandTracer(_state.tracer)]


def instrument_redis(client: Redis | RedisCluster) -> None:
    """Trace the commands and pipelines of one Redis client."""
    if _state.provider is not None:
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        RedisInstrumentor.instrument_client(client, tracer_provider=_state.provider)
