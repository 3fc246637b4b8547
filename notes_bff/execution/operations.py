"""Per GraphQL operation, on every transport: metrics, a span per phase, one log line.

The first schema extension, so it wraps every other one and reads the errors after
``ErrorCodes`` has coded them. A subscription is recorded when it ends (its duration is its
lifetime, so it stays out of the duration histogram) and counts as active meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import structlog
from graphql import FieldNode, get_operation_ast
from strawberry.extensions import SchemaExtension

from notes_bff.execution.context import Context
from notes_bff.metrics import Metrics
from notes_bff.observability import tracing
from notes_bff.observability.scope import Scope, observing
from notes_bff.persisted.protocol import current_document

if TYPE_CHECKING:
    from opentelemetry.trace import Span
    from opentelemetry.util.types import AttributeValue

log = structlog.get_logger("notes_bff.operations")
SUBSCRIPTION = "subscription"


def _codes(result: object) -> list[str]:
    errors = getattr(result, "errors", None) or []
    return [(e.extensions or {}).get("code") or "INTERNAL_SERVER_ERROR" for e in errors]


class OperationObserver(SchemaExtension):
    """Records each operation (see the module's docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.codes: list[str] = []
        self.events = 0
        self.subscribed: str | None = None  # the root field of a running subscription
        self.metrics: Metrics | None = None

    @contextmanager
    def _phase(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        with tracing.span(f"graphql.{phase}"):
            yield
        if self.metrics is not None:
            metrics = self.metrics
            metrics.labelled(metrics.phase_duration, phase).observe(time.perf_counter() - started)

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if not isinstance(context, Context):
            yield
            return
        self.metrics = context.metrics
        started = time.perf_counter()
        with observing(self.metrics) as scope, tracing.span("graphql.operation", end=False) as span:
            try:
                yield
            except asyncio.CancelledError:
                # A query timed out or its client went away; a subscription just ended.
                if self.subscribed is None:
                    self.codes.append("CANCELLED")
                raise
            finally:
                self._record(context, scope, time.perf_counter() - started, span)

    def on_parse(self) -> Iterator[None]:
        with self._phase("parse"):
            yield

    def on_validate(self) -> Iterator[None]:
        with self._phase("validate"):
            yield

    def on_execute(self) -> Iterator[None]:
        with self._phase("execute"):
            yield
        field = self._subscription_field()
        if field is not None and self.metrics is not None:
            self.subscribed = field
            self.metrics.subscriptions.labels(field).inc()

    def on_stream_result(self, result: Any) -> Iterator[None]:
        yield  # after the others: ErrorCodes has coded the errors
        self.events += 1
        self.codes += _codes(result)

    def _subscription_field(self) -> str | None:
        """The root field of a subscription that started."""
        ctx = self.execution_context
        if ctx.graphql_document is None or ctx.pre_execution_errors:
            return None
        operation = get_operation_ast(ctx.graphql_document, ctx.operation_name)
        if operation is None or operation.operation.value != SUBSCRIPTION:
            return None
        first = operation.selection_set.selections[0]
        return first.name.value if isinstance(first, FieldNode) else None

    def _type(self) -> str:
        ctx = self.execution_context
        if ctx.graphql_document is None:
            return "unknown"
        try:
            return ctx.operation_type.value
        except RuntimeError:  # no operation of the requested name
            return "unknown"

    def _record(self, context: Context, scope: Scope, seconds: float, span: Span | None) -> None:
        metrics = scope.metrics
        ctx = self.execution_context
        name, kind = ctx.operation_name, self._type()
        codes = list(dict.fromkeys([*_codes(ctx.result), *self.codes]))
        outcome = codes[0] if codes else "ok"
        label = metrics.operation_names.label(name)
        metrics.labelled(metrics.operations, label, kind, outcome).inc()
        if self.subscribed is not None:
            metrics.subscriptions.labels(self.subscribed).dec()
        else:
            metrics.labelled(metrics.operation_duration, label, kind).observe(seconds)
        metrics.labelled(metrics.operation_cost, label, kind).observe(context.operation_cost)
        slow = kind != SUBSCRIPTION and seconds * 1000 >= context.settings.slow_operation_ms
        resolved = current_document()
        fields: dict[str, Any] = {
            "operation": (name or "")[:100] or None,
            "operation_type": kind,
            "outcome": outcome,
            "errors": codes,
            "user_id": context.actor.claims.user_id if context.actor.claims else None,
            "persisted_query": resolved.digest if resolved is not None else None,
            "cost": context.operation_cost,
            "duration_ms": round(seconds * 1000, 1),
            "mongodb_ms": round(scope.mongodb_s * 1000, 1),
            "mongodb_commands": scope.mongodb_commands,
            "redis_ms": round(scope.redis_s * 1000, 1),
            "redis_commands": scope.redis_commands,
        }
        if kind == SUBSCRIPTION:
            fields["events"] = self.events
        (log.warning if slow else log.info)("slow_operation" if slow else "operation", **fields)
        attributes: dict[str, AttributeValue] = {
            "graphql.operation.name": label,
            "graphql.operation.type": kind,
            "graphql.outcome": outcome,
            "graphql.cost": context.operation_cost,
        }
        tracing.finish(span, f"{kind} {label}", **attributes)
