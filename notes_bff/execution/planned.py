"""Planned execution of queries: each operation planned once, executed in waves.

graphql-core executes a query field by field: for every field of every object it looks up
the field's definition, collects the subfields, builds a ``Path`` and a resolve info, and
for every awaitable result it wraps the completion in coroutines (the field's, the object's
gathering its fields, the list's gathering its items) that asyncio runs as tasks. On the
workspace page of 20 notes that is about 70 tasks and 300 coroutines per request, most of
them only waiting for one loader batch.

:class:`PlannedExecutor` plans a query once per operation (cached with the parsed document,
so once per persisted hash or cached text): per position, the fields with their
definitions, resolvers, response keys and a completion shape for the return type. Executing
a plan completes whatever is ready at once and puts every awaitable a resolver returned in
the current *wave*; a wave is awaited with one ``gather`` and its values completed in turn,
which may start the next wave. All loads of one depth are issued in the same step, so they
land in the same loader batches as before, and no coroutine or task is made per object or
per list.

The plan covers the success path only: the first error of any kind (a resolver's, a null
for a non-null field, a value that does not serialize) ends the planned run and the
operation is executed again by graphql-core (the base executor), which produces the data and
errors the specification asks for, with their paths and null propagation. A query has no
side effects, and the second run reads what the first loaded from the request's loader
caches. Operations the plan does not cover go to graphql-core directly: mutations and
subscriptions, directives (``@skip``/``@include`` depend on variables), abstract types,
introspection, fragment arguments, and any run with field middleware or an abort signal.

Completed subtrees of document views are reused as :mod:`subtree_reuse` does (the same
result dict wherever the same document meets the same position), which in a wave executor
is safe without its bookkeeping: a shared dict still being filled is filled for every
occurrence, and a run with an error is not kept at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast
from weakref import WeakKeyDictionary

from graphql import (
    ExecutionResult,
    GraphQLBoolean,
    GraphQLField,
    GraphQLID,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLResolveInfoHelpers,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    is_leaf_type,
    is_object_type,
)
from graphql.execution.collect_fields import collect_fields, collect_subfields
from graphql.execution.values import get_argument_values
from graphql.language import OperationType, Visitor, visit
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from notes_bff.execution.context import Context
from notes_bff.execution.plain_fields import has_basic_resolver
from notes_bff.execution.subtree_reuse import ReusingExecutor, view_document

if TYPE_CHECKING:
    from graphql.execution import ExperimentalIncrementalExecutionResults
    from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
    from graphql.language import FieldNode


STRAWBERRY_FIELD = GraphQLCoreConverter.DEFINITION_BACKREF


class Unplanned(Exception):
    """The planned run met something it leaves to graphql-core (an error, most often)."""


class _Shape:
    """How to complete a value of one output type (the success path only)."""

    __slots__ = ()

    def complete(self, run: PlannedExecutor, value: Any, path: Path | None) -> Any:
        raise NotImplementedError


class _NonNull(_Shape):
    __slots__ = ("inner",)

    def __init__(self, inner: _Shape) -> None:
        self.inner = inner

    def complete(self, run: PlannedExecutor, value: Any, path: Path | None) -> Any:
        completed = self.inner.complete(run, value, path)
        if completed is None:
            raise Unplanned("null for a non-null type")
        return completed


# Scalars whose serialization (graphql-core's serialize_string, serialize_id,
# serialize_boolean) returns a value of this exact Python type unchanged.
_PASSED_AS_IS = {
    t.name: (t.serialize, as_is)
    for t, as_is in ((GraphQLString, str), (GraphQLID, str), (GraphQLBoolean, bool))
}


class _Leaf(_Shape):
    __slots__ = ("as_is", "type")

    def __init__(self, leaf_type: GraphQLLeafType) -> None:
        self.type = leaf_type
        serialize, as_is = _PASSED_AS_IS.get(leaf_type.name, (None, None))
        self.as_is = as_is if leaf_type.serialize is serialize else None

    def complete(self, run: PlannedExecutor, value: Any, path: Path | None) -> Any:
        if value is None:
            return None
        if type(value) is self.as_is:
            return value
        if isinstance(value, Exception):
            raise Unplanned("an error as a value")
        return run.complete_leaf_value(self.type, value)


class _List(_Shape):
    __slots__ = ("inner",)

    def __init__(self, inner: _Shape) -> None:
        self.inner = inner

    def complete(self, run: PlannedExecutor, value: Any, path: Path | None) -> Any:
        if value is None:
            return None
        if isinstance(value, str | bytes | dict | Exception) or not isinstance(value, Iterable):
            raise Unplanned("not a list")
        complete = self.inner.complete
        return [complete(run, item, Path(path, index, None)) for index, item in enumerate(value)]


class _Object(_Shape):
    __slots__ = ("plan",)

    def __init__(self, plan: _ObjectPlan) -> None:
        self.plan = plan

    def complete(self, run: PlannedExecutor, value: Any, path: Path | None) -> Any:
        if value is None:
            return None
        if isinstance(value, Exception):
            raise Unplanned("an error as a value")
        return run.complete_planned_object(self.plan, value, path)


@dataclass(slots=True, eq=False)
class _Field:
    """One response key of a position: its definition, resolver and completion."""

    key: str
    definition: GraphQLField | None  # None: __typename
    details: FieldDetailsList
    nodes: list[FieldNode]
    read: Callable[[Any, str], Any] | None  # a basic field's attribute read (no resolver)
    attribute: str
    call: Callable[[Any, GraphQLResolveInfo[Any]], Any] | None  # its resolver called directly
    has_args: bool
    path_needed: bool  # by its resolver's info, or by what completes below it
    shape: _Shape


@dataclass(slots=True, eq=False)
class _ObjectPlan:
    """The fields selected on one object type at one position of the operation."""

    type: GraphQLObjectType
    fields: list[_Field] = field(default_factory=list)
    reusable: bool = False  # a field that is not a plain leaf: worth reusing for views


class _Planner:
    """Builds the plan of one operation; :class:`Unplanned` when it is not covered."""

    def __init__(self, run: PlannedExecutor) -> None:
        self.run = run

    def root(self) -> _ObjectPlan:
        run = self.run
        root_type = run.schema.query_type
        if root_type is None:
            raise Unplanned("no query type")
        collected = collect_fields(
            run.schema, run.fragments, run.variable_values, root_type, run.operation,
            run.hide_suggestions,
        )  # fmt: skip
        return self.object_plan(root_type, collected.grouped_field_set)

    def object_plan(self, object_type: GraphQLObjectType, grouped: GroupedFieldSet) -> _ObjectPlan:
        plan = _ObjectPlan(object_type)
        for key, details in grouped.items():
            node = details[0].node
            if any(d.fragment_variable_values is not None for d in details):
                raise Unplanned("fragment arguments")
            name = node.name.value
            if name == "__typename":
                typename = _Field(key, None, details, [], None, "", None, False, False, _Shape())
                plan.fields.append(typename)
                continue
            definition = object_type.fields.get(name)
            if definition is None:
                raise Unplanned(f"no field {name}")
            shape, leaf = self.shape(definition.type, details)
            read, attribute = _basic_read(definition)
            call = _direct_call(definition, self.run.schema)
            has_args = bool(definition.args or node.arguments)
            nodes = [d.node for d in details]
            path_needed = read is None or not leaf
            planned = _Field(
                key, definition, details, nodes, read, attribute, call, has_args, path_needed,
                shape,
            )  # fmt: skip
            plan.fields.append(planned)
            plan.reusable |= not (read and leaf and not has_args)
        return plan

    def shape(self, output: GraphQLOutputType, details: FieldDetailsList) -> tuple[_Shape, bool]:
        if isinstance(output, GraphQLNonNull):
            inner, leaf = self.shape(output.of_type, details)
            return _NonNull(inner), leaf
        if isinstance(output, GraphQLList):
            inner, _ = self.shape(output.of_type, details)
            return _List(inner), False
        if is_leaf_type(output):
            return _Leaf(output), True
        if is_object_type(output):
            object_type = output
            run = self.run
            collected = collect_subfields(
                run.schema, run.fragments, run.variable_values, run.operation, object_type,
                details, run.hide_suggestions,
            )  # fmt: skip
            return _Object(self.object_plan(object_type, collected.grouped_field_set)), False
        raise Unplanned("an abstract type")


def _basic_read(definition: GraphQLField) -> tuple[Callable[[Any, str], Any] | None, str]:
    """How strawberry's basic resolver of ``definition`` reads its value (its field's
    ``default_resolver`` on its ``python_name``), or None for any other resolver."""
    if not has_basic_resolver(definition):
        return None, ""
    field = (definition.extensions or {}).get(STRAWBERRY_FIELD)
    if not isinstance(field, StrawberryField) or field.base_resolver is not None:
        return None, ""
    return field.default_resolver, field.python_name


def _direct_call(
    definition: GraphQLField, schema: GraphQLSchema
) -> Callable[[Any, GraphQLResolveInfo[Any]], Any] | None:
    """The field's resolver called as strawberry's wrapper calls it (the source as ``self``,
    ``parent`` or ``root``, strawberry's ``Info`` as its info parameter) for a field without
    arguments, field extensions (permissions are some) or exception handlers, where the
    wrapper's other work (argument conversion, the extension chain) has nothing to do; None
    for any other field."""
    field = (definition.extensions or {}).get(STRAWBERRY_FIELD)
    strawberry_schema = getattr(schema, "_strawberry_schema", None)
    if (
        not isinstance(field, StrawberryField)
        or field.base_resolver is None
        or field.extensions
        or field.arguments
        or definition.args
        or strawberry_schema is None
        or strawberry_schema.exception_handlers
    ):
        return None
    resolver, make_info = field.base_resolver, strawberry_schema.config.info_class
    with_self = resolver.self_parameter is not None
    info_name = resolver.info_parameter.name if resolver.info_parameter else None
    source_names = [p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p]

    def call(source: Any, raw: GraphQLResolveInfo[Any]) -> Any:
        kwargs: dict[str, Any] = dict.fromkeys(source_names, source)
        if info_name is not None:
            kwargs[info_name] = make_info(_raw_info=raw, _field=field)
        return resolver(source, **kwargs) if with_self else resolver(**kwargs)

    return call


class _HasDirective(Visitor):
    found = False

    def enter_directive(self, *_: object) -> None:
        self.found = True


def _has_directives(run: PlannedExecutor) -> bool:
    finder = _HasDirective()
    visit(run.operation.selection_set, finder)
    for fragment in run.fragment_definitions.values():
        visit(fragment, finder)
    return finder.found or bool(run.operation.directives)


# Per schema and operation (parsed documents are cached, so an operation node is reused by
# every request sending its document): the plan, or None when the operation is not covered.
_PLANS: WeakKeyDictionary[
    GraphQLSchema, WeakKeyDictionary[OperationDefinitionNode, _ObjectPlan | None]
] = WeakKeyDictionary()

_Waiting = tuple[_Field, dict[str, Any], Path | None]  # where an awaited value goes
_Pending = tuple[Awaitable[Any], _Field, dict[str, Any], Path | None]


def _finished(*_: object) -> Any:
    raise RuntimeError("the execution has finished")


_RELEASED = GraphQLResolveInfoHelpers(gather=_finished, track=_finished)


class PlannedExecutor(ReusingExecutor):
    """The reusing executor with queries run from their plans (see the module)."""

    _wave: list[_Pending]
    _views: dict[tuple[int, _ObjectPlan], tuple[object, dict[str, Any]]]
    _arguments: dict[int, dict[str, Any]]

    def _plan(self) -> _ObjectPlan | None:
        plans = _PLANS.get(self.schema)
        if plans is None:
            plans = _PLANS[self.schema] = WeakKeyDictionary()
        try:
            return plans[self.operation]
        except KeyError:
            pass
        plan: _ObjectPlan | None = None
        if not _has_directives(self):
            try:
                plan = _Planner(self).root()
            except Unplanned:
                plan = None
        plans[self.operation] = plan
        return plan

    def execute_operation(
        self, serially: bool | None = None
    ) -> AwaitableOrValue[ExecutionResult | ExperimentalIncrementalExecutionResults]:
        """A query from its plan; anything else, or a planned run that met an error, by the
        base executor."""
        if self.operation.operation is not OperationType.QUERY:
            return super().execute_operation(serially)
        plan = None
        if not serially and not self.abort_signal and not self._has_middleware():
            plan = self._plan()
        if plan is None:
            self._count("graphql-core")
            return super().execute_operation(serially)
        self._wave, self._views, self._arguments = [], {}, {}
        try:
            data = self.complete_planned_object(plan, self.root_value, None)
        except Exception:  # any error: graphql-core's run reports it
            return self._run_again(serially)
        if self._wave:
            return self._finish(data, serially)
        self._count("planned")
        return self._planned_response(data)

    def _run_again(
        self,
        serially: bool | None,
        waiting: dict[asyncio.Future[Any], list[_Waiting]] | None = None,
    ) -> AwaitableOrValue[ExecutionResult | ExperimentalIncrementalExecutionResults]:
        """After the planned run met an error: what it started stopped, and the operation
        executed again by graphql-core, which reports every error at its path."""
        self._abandon(waiting)
        self._count("fallback")
        return super().execute_operation(serially)

    def _planned_response(
        self, data: dict[str, Any]
    ) -> ExecutionResult | ExperimentalIncrementalExecutionResults:
        """The response of a planned run, after which nothing of the executor is used: its
        resolve-info helpers (its own bound methods, a reference cycle through the context,
        the actor and the loaders' caches) are released, so that the request's objects are
        freed when it ends instead of by the garbage collector."""
        response = self.build_response(data)
        self.async_helpers = _RELEASED
        self._views = {}
        return response

    def _has_middleware(self) -> bool:
        manager = self.middleware_manager
        return manager is not None and bool(manager.middlewares)

    def _count(self, path: str) -> None:
        """One query execution in ``notes_bff_graphql_executions`` (by how it ran)."""
        context = self.context_value
        if isinstance(context, Context):
            metrics = context.metrics
            metrics.labelled(metrics.executions, path).inc()

    async def _finish(
        self, data: dict[str, Any], serially: bool | None
    ) -> ExecutionResult | ExperimentalIncrementalExecutionResults:
        """The response once every awaited value is completed; graphql-core's run after an
        error."""
        waiting: dict[asyncio.Future[Any], list[_Waiting]] = {}
        try:
            await self._complete_as_ready(waiting)
        except Exception:  # as in execute_operation
            fallback = self._run_again(serially, waiting)
            if self.is_awaitable(fallback):
                return await cast("Awaitable[ExecutionResult]", fallback)
            return cast("ExecutionResult", fallback)
        except BaseException:
            self._abandon(waiting)
            raise
        self._count("planned")
        return self._planned_response(data)

    async def _complete_as_ready(self, waiting: dict[asyncio.Future[Any], list[_Waiting]]) -> None:
        """Complete each awaited value as soon as it is ready, all those ready at the same
        step together (their loads then share batches), until none is left. A value is never
        waited for behind another: a resolver may wait for what a deeper one loads. One
        future may stand for several fields (a loader's cached load)."""
        loop = asyncio.get_running_loop()
        ready: list[asyncio.Future[Any]] = []
        wake: list[asyncio.Future[None]] = []

        def on_ready(future: asyncio.Future[Any]) -> None:
            ready.append(future)
            if wake and not wake[0].done():
                wake[0].set_result(None)

        while True:
            for awaitable, planned, result, path in self._wave:
                future = asyncio.ensure_future(awaitable)
                fields = waiting.get(future)
                if fields is None:
                    fields = waiting[future] = []
                    future.add_done_callback(on_ready)
                fields.append((planned, result, path))
            self._wave = []
            if not waiting:
                return
            if not ready:
                wake[:] = [loop.create_future()]
                await wake[0]
            now, ready[:] = ready[:], []
            for done in now:
                value = done.result()
                for planned, result, path in waiting.pop(done):
                    result[planned.key] = planned.shape.complete(self, value, path)

    def _abandon(self, waiting: dict[asyncio.Future[Any], list[_Waiting]] | None = None) -> None:
        """Stop what will not be completed: the resolvers' coroutines (closed, or cancelled
        once running as tasks). Futures of loaders are shared, and left alone."""
        for awaitable in [*(waiting or ()), *(entry[0] for entry in self._wave)]:
            if isinstance(awaitable, asyncio.Task):
                awaitable.cancel()
            elif isinstance(awaitable, Coroutine):
                awaitable.close()
        self._wave = []

    def complete_planned_object(
        self, plan: _ObjectPlan, source: Any, path: Path | None
    ) -> dict[str, Any]:
        """The object's result dict: its ready fields completed, the others in the wave (or
        the dict of this document's first completion at this position)."""
        is_type_of = plan.type.is_type_of
        if is_type_of is not None and is_type_of(source, None) is not True:  # type: ignore[arg-type]
            raise Unplanned("not of its type")
        doc = view_document(source) if plan.reusable else None
        if doc is not None:
            seen = self._views.get((id(doc), plan))
            if seen is not None:
                return seen[1]
        result: dict[str, Any] = {}
        if doc is not None:
            self._views[id(doc), plan] = (doc, result)
        self.fill_object(plan, source, path, result)
        return result

    def fill_object(
        self, plan: _ObjectPlan, source: Any, path: Path | None, result: dict[str, Any]
    ) -> None:
        """Complete the selection of ``plan`` on ``source`` into ``result``: each ready field
        at once, each awaitable one into the wave (its key kept in the selection's order)."""
        type_name = plan.type.name
        is_awaitable = self.is_awaitable
        for planned in plan.fields:
            definition = planned.definition
            if definition is None:
                result[planned.key] = type_name
                continue
            field_path = Path(path, planned.key, type_name) if planned.path_needed else None
            if planned.read is not None:
                value = planned.read(source, planned.attribute)
            else:
                field_path = cast("Path", field_path)  # path_needed: every resolver's info has one
                info = self.build_resolve_info(definition, planned.nodes, plan.type, field_path)
                if planned.call is not None:
                    value = planned.call(source, info)
                else:
                    resolve = definition.resolve or self.field_resolver
                    value = resolve(source, info, **self._args(planned))
            if is_awaitable(value):
                result[planned.key] = None  # keeps the selection's key order
                self._wave.append((value, planned, result, field_path))
            else:
                result[planned.key] = planned.shape.complete(self, value, field_path)

    def _args(self, planned: _Field) -> dict[str, Any]:
        """The field's arguments, coerced once per execution (they depend only on the
        field's node and the variables)."""
        if not planned.has_args:
            return {}
        args = self._arguments.get(id(planned))
        if args is None:
            details = planned.details[0]
            args = self._arguments[id(planned)] = get_argument_values(
                cast("GraphQLField", planned.definition), details.node, self.variable_values,
                details.fragment_variable_values, self.hide_suggestions,
            )  # fmt: skip
        return args
