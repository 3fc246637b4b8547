"""Subscription events rendered once per process, not once per subscriber.

graphql-core executes a subscription's selection set for every event and every subscriber.
When a thousand subscribers of one worker use the same document with the same variables,
that is a thousand identical executions. :class:`SharedEventExecutor` renders such an event
once per :class:`~notes_bff.realtime.delivery.Delivery` and hands the same result to all of
them. Authorization stays per subscriber: each subscription's source stream checks its
viewer before it yields the event (``resolvers/live.py``).

A result is shared across viewers only if its execution never read the viewer
(:attr:`Context.viewer_id`); one that did (``Workspace.viewerRole``, ``User.email``) is
rendered once per viewer instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Hashable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import orjson
from graphql import ExecutionResult
from graphql.execution import Executor
from graphql.language import (
    FieldNode,
    FragmentDefinitionNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    Visitor,
    visit,
)
from graphql.pyutils import AwaitableOrValue

from notes_bff.execution.context import Context
from notes_bff.execution.planned import PlannedExecutor
from notes_bff.models.read_routing import on_primary
from notes_bff.observability import tracing
from notes_bff.realtime.delivery import Delivery, current_delivery, ready
from notes_bff.services.actor import ViewerReads, recording_viewer_reads

if TYPE_CHECKING:
    from opentelemetry.trace import Span


@dataclass(frozen=True)
class _Rendered:
    result: ExecutionResult
    viewer: str | None
    read_viewer: bool


def _viewer(context: object) -> str | None:
    claims = context.actor.claims if isinstance(context, Context) else None
    return claims.user_id if claims is not None else None


def _count(context: object, rendered: bool, delivery: Delivery | None = None) -> None:
    """Count a rendering, or a delivery (with its lag since publication, if it is live)."""
    if isinstance(context, Context):
        metrics = context.metrics
        (metrics.events_rendered if rendered else metrics.events_delivered).inc()
        if delivery is not None and delivery.live:
            metrics.delivery_lag.observe(max(time.time() - delivery.event.at, 0.0))


_UNSET: Any = object()


class SharedEventExecutor(PlannedExecutor):
    """Strawberry's executor, with per-event executions shared through the delivery."""

    _key: tuple[str, str | None, bytes] | None = _UNSET

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        """The event's executor: a shared rendering when the source stream yielded an event
        of a delivery, else graphql-core's own (a copy of this executor)."""
        delivery = current_delivery()
        _count(self.context_value, rendered=False, delivery=delivery)
        key = self._sharing_key()
        if delivery is None or key is None:
            _count(self.context_value, rendered=True)
            return super().build_per_event_executor(payload)
        return cast("Executor[Any]", _SharedEvent(self, payload, delivery, key))

    def _sharing_key(self) -> tuple[str, str | None, bytes] | None:
        """Same document text, operation and rendering variables: the same rendering."""
        if self._key is _UNSET:
            loc = self.operation.loc
            names = _rendering_variables(self.operation, self.fragment_definitions.values())
            coerced = self.variable_values.coerced
            used = {name: coerced[name] for name in sorted(names) if name in coerced}
            try:
                variables = orjson.dumps(used)
            except TypeError:
                loc = None
            name = self.operation.name.value if self.operation.name else None
            self._key = (loc.source.body, name, variables) if loc is not None else None
        return self._key


class _VariableNames(Visitor):
    """Names of the variables a document uses, except in the root fields' arguments."""

    def __init__(self, root: SelectionSetNode) -> None:
        super().__init__()
        self.root = root
        self.names: set[str] = set()

    def enter_field(self, node: FieldNode, *_: Any) -> Any:
        if any(selection is node for selection in self.root.selections):
            # Root field arguments only steer the source stream (which events, `after`);
            # each event is rendered from its payload, so they do not change the rendering.
            for directive in node.directives or ():
                visit(directive, self)
            if node.selection_set is not None:
                visit(node.selection_set, self)
            return self.SKIP
        return None

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        self.names.add(node.name.value)


def _rendering_variables(
    operation: OperationDefinitionNode, fragments: Iterable[FragmentDefinitionNode]
) -> set[str]:
    """The variables that can change how an event renders (a reconnecting client's `after`
    cannot: subscribers resuming from different events still share renderings)."""
    names = _VariableNames(operation.selection_set)
    visit(operation.selection_set, names)
    for fragment in fragments:
        visit(fragment, names)
    return names.names


class _SharedEvent:
    """Stands in for a per-event executor; only the first of a delivery's subscribers with
    the same key (and viewer, where the result read it) builds and runs a real one."""

    def __init__(
        self, subscription: SharedEventExecutor, payload: Any, delivery: Delivery, key: Hashable
    ) -> None:
        self.subscription = subscription
        self.payload = payload
        self.delivery = delivery
        self.key = key
        self.viewer = _viewer(subscription.context_value)

    def execute_operation(self, serially: bool | None = None) -> AwaitableOrValue[ExecutionResult]:
        """The shared rendering of the event for this subscriber."""
        return self._reuse(False, serially)

    def _reuse(self, own: bool, serially: bool | None) -> AwaitableOrValue[ExecutionResult]:
        """The rendering for everyone, or (``own``) the one for this subscriber's viewer."""
        key = (self.key, self.viewer) if own else (self.key,)
        rendering = self.delivery.shared(key, lambda: self._render(serially))
        if not rendering.done():
            return self._reuse_when_ready(rendering, own, serially)
        rendered = rendering.result()
        if not own and rendered.read_viewer and rendered.viewer != self.viewer:
            return self._reuse(True, serially)
        return rendered.result

    async def _reuse_when_ready(
        self, rendering: asyncio.Future[_Rendered], own: bool, serially: bool | None
    ) -> ExecutionResult:
        await asyncio.shield(rendering)
        result = self._reuse(own, serially)
        return await result if isinstance(result, Awaitable) else result

    def _render(self, serially: bool | None) -> asyncio.Future[_Rendered]:
        """Execute, noting whether anything read the viewer, here or after an await."""
        executor = Executor.build_per_event_executor(self.subscription, self.payload)
        _count(executor.context_value, rendered=True)
        attributes = {"event.kind": self.delivery.event.kind}
        with (
            on_primary(),  # an event follows a write: its rendering reads after it
            recording_viewer_reads() as reads,
            tracing.span("graphql.subscription.render", attributes, end=False) as span,
        ):
            result = executor.execute_operation(serially)
            if isinstance(result, Awaitable):
                # The task copies the context now, so the recording goes on inside it.
                return asyncio.ensure_future(self._finish(result, reads, span))
        tracing.finish(span)
        return ready(_Rendered(cast("ExecutionResult", result), self.viewer, reads.seen))

    async def _finish(
        self, result: Awaitable[Any], reads: ViewerReads, span: Span | None
    ) -> _Rendered:
        try:
            return _Rendered(await result, self.viewer, reads.seen)
        finally:
            tracing.finish(span)
