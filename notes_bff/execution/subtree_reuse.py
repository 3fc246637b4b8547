"""Completed subtrees reused within one execution.

The dashboard of 50 notes asks for ``workspace { name owner { name } members { role user {
name } } noteCount tags { tag count } }`` under every note: the same few workspaces, the same
selection, completed 50 times (about 2,800 of the page's 3,200 fields). A completion's result
depends only on the object, the selection (its field nodes, hence arguments and variables)
and what one execution holds fixed (the variables, the viewer, the loaders' cache): a query
has no side effects. :class:`ReusingExecutor` completes such a subtree once and puts the
same result dict at every other place it occurs.

What is reused, and when:

- Only objects of the types declared with :func:`document_view`: a strawberry type whose
  every field is a function of its ``doc`` (a resolver re-wraps the loader's cached document
  on each call, so the wrappers differ while their document is the same object). The key is
  (the document's identity, the runtime object type, the identity of the field details
  list): graphql-core collects a position's subfields once per execution, so the same list
  means the same field nodes at the same position of the query. The entry keeps the
  document and the list alive, so neither id can be reused within the execution.
- Only selections with at least one field that is not a plain leaf (a resolver, an object,
  a list of objects, arguments; not ``__typename``): ``{ name }`` costs less to complete
  again than to look up.
- Not in a mutation (its root fields write between completions; nothing is reused there), and
  not across executions: the memo is made in :meth:`ReusingExecutor.execute_operation`,
  which every subscription event's executor (a copy) runs too.
- Not meant for incremental delivery (``@defer``/``@stream``, off in this schema: the base
  executor ignores them): a reused dict would not carry the occurrence's deferred payloads.
- Only a completion that ended without an error at or below its path: every field error goes
  through ``handle_field_error``, which notes its path (also one graphql-core then drops
  because an ancestor was nulled). Once the first completion ended with such an error, later
  occurrences are completed in full again, so each gets its own errors at its own paths.
- Concurrent occurrences (the 50 notes' ``workspace`` fields resume together from one loader
  batch) wait for the first one's completion once it has started, and complete on their own
  if it ends with an error or is cancelled. An occurrence never waits for a completion that
  has not started (a task cancelled before its first step never runs its ``finally``): it
  checks again when it runs itself, and completes on its own if the first has still not
  started.

Why this is safe for authorization and the response cache: notes-bff has no strawberry
permission classes; its checks run in resolvers and services and depend on the viewer and the
document (``User.email``, ``Workspace.viewerRole``), never on ``info.path`` or the parent;
the same viewer, document and selection give the same answer. The response cache records the
tags of what the loaders' batches read; the first completion made every load the reused
subtree stands for (the later ones would have hit the loaders' cache and recorded nothing),
and whether the viewer was read is one flag per execution.

Cost and gain (bench/results.md, "Reused subtrees"): the dashboard of 50 notes went from
43-46 ms to 19-21 ms of server CPU per request; on the page of 20 notes, which repeats no
reusable subtree, the check per completed object is paid for by completing an object without
``is_type_of`` in place (graphql-core's ``complete_object_value`` minus one call): 1.01 times the
plain-fields executor alone, not measurable on the whole server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from graphql import ExecutionResult, GraphQLObjectType, GraphQLOutputType, GraphQLResolveInfo
from graphql.language import OperationType
from graphql.pyutils import AwaitableOrValue, Path

from notes_bff.execution.plain_fields import PlainFieldsExecutor

if TYPE_CHECKING:
    from graphql.execution import ExperimentalIncrementalExecutionResults
    from graphql.execution.collect_fields import FieldDetailsList

T = TypeVar("T")

# Types declared document views: how to get an instance's document.
_VIEWS: dict[type, Callable[[Any], object]] = {}


def _doc(value: Any) -> object:
    return value.doc


def document_view(cls: type[T]) -> type[T]:
    """Declare ``cls`` (a strawberry type) a view of its ``doc`` attribute: every field of an
    instance is a function of the document and of what one execution holds fixed (variables,
    viewer), none reads ``info.path`` or the parent, and it has no permission class that
    would. Its completions are then reused within an execution (see the module)."""
    _VIEWS[cls] = _doc
    return cls


def view_document(value: object) -> object | None:
    """The document ``value`` is a view of, if its type was declared a document view."""
    identify = _VIEWS.get(type(value))
    return identify(value) if identify is not None else None


class _Pending:
    """Entry states other than a result dict."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_CREATED = _Pending("CREATED")  # the first completion's coroutine has not started yet
_RUNNING = _Pending("RUNNING")  # it has started: waiting for it is safe
_FAILED = _Pending("FAILED")  # it ended with an error (or was cancelled): complete again


class _Entry:
    """One (document, type, position) of an execution: its first completion's state."""

    __slots__ = ("doc", "fields", "state", "waiters")

    def __init__(self, doc: object, fields: FieldDetailsList) -> None:
        self.doc = doc  # kept alive: its id is part of the key
        self.fields = fields  # likewise
        self.state: _Pending | dict[str, Any] = _CREATED
        self.waiters: list[asyncio.Future[Any]] = []


class ReusingExecutor(PlainFieldsExecutor):
    """The plain-fields executor that also completes a repeated subtree once (see the
    module)."""

    _memo: dict[tuple[int, GraphQLObjectType, int], _Entry] | None = None
    _worth: dict[tuple[GraphQLObjectType, int], tuple[FieldDetailsList, bool]]
    _error_paths: list[Path] | None = None

    def execute_operation(
        self, serially: bool | None = None
    ) -> AwaitableOrValue[ExecutionResult | ExperimentalIncrementalExecutionResults]:
        """A fresh memo for this execution (none for a mutation)."""
        if self.operation.operation is OperationType.MUTATION:
            self._memo = self._error_paths = None
        else:
            self._memo, self._worth, self._error_paths = {}, {}, []
        return super().execute_operation(serially)

    def handle_field_error(
        self,
        raw_error: Exception,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> None:
        """graphql-core's, with the error's path noted (a completion with an error below
        its path is not reused)."""
        if self._error_paths is not None:
            self._error_paths.append(path)
        super().handle_field_error(raw_error, return_type, field_details_list, path)

    def _judge(
        self, return_type: GraphQLObjectType, fields: FieldDetailsList
    ) -> tuple[FieldDetailsList, bool]:
        """Whether the selection has a field that is not a plain leaf (nor __typename),
        noted for the execution (with the list, so that its id stays its own)."""
        grouped_field_set = self.collect_subfields(return_type, fields)[0]
        worth = any(
            name != "__typename" and self._leaf(return_type, name) is None
            for name in (details[0].node.name.value for details in grouped_field_set.values())
        )
        judged = self._worth[return_type, id(fields)] = (fields, worth)
        return judged

    def _clean(self, path: Path, mark: int) -> bool:
        """No error at or below ``path`` among those noted since ``mark``."""
        paths = cast("list[Path]", self._error_paths)
        for error_path in paths[mark:]:
            at: Path | None = error_path
            while at is not None:
                if at is path:
                    return False
                at = at.prev
        return True

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        """graphql-core's, or the result of this subtree's first completion (see the
        module)."""
        memo = self._memo
        if memo is not None:  # the checks inline: most objects are not reused
            identify = _VIEWS.get(type(result))
            if identify is not None:
                judged = self._worth.get((return_type, id(field_details_list)))
                if judged is None:
                    judged = self._judge(return_type, field_details_list)
                if judged[1]:
                    return self._reuse(
                        memo, identify(result), return_type, field_details_list,
                        info, path, result, position_context,
                    )  # fmt: skip
        if return_type.is_type_of:
            return super().complete_object_value(
                return_type, field_details_list, info, path, result, position_context
            )
        # graphql-core's complete_object_value without `is_type_of`: one call less per object
        return self.collect_and_execute_subfields(
            return_type, field_details_list, path, result, position_context
        )

    def _reuse(
        self,
        memo: dict[tuple[int, GraphQLObjectType, int], _Entry],
        doc: object,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        """The first completion of (document, type, position), or its result."""
        key = (id(doc), return_type, id(field_details_list))
        entry = memo.get(key)
        if entry is None:
            entry = memo[key] = _Entry(doc, field_details_list)
            mark = len(cast("list[Path]", self._error_paths))
            try:
                completed = super().complete_object_value(
                    return_type, field_details_list, info, path, result, position_context
                )
            except BaseException:
                entry.state = _FAILED
                raise
            if self.is_awaitable(completed):
                return self._first(entry, completed, path, mark)
            value = cast("dict[str, Any]", completed)
            entry.state = value if self._clean(path, mark) else _FAILED
            return value
        state = entry.state
        if isinstance(state, dict):
            return state
        if state is _FAILED:
            return super().complete_object_value(
                return_type, field_details_list, info, path, result, position_context
            )
        return self._follow(
            entry, return_type, field_details_list, info, path, result, position_context
        )

    async def _first(
        self, entry: _Entry, completed: Awaitable[dict[str, Any]], path: Path, mark: int
    ) -> dict[str, Any]:
        """Await the first completion, then hand its result (or FAILED) to the waiters."""
        entry.state = _RUNNING
        state: _Pending | dict[str, Any] = _FAILED
        try:
            value = await completed
            if self._clean(path, mark):
                state = value
            return value
        finally:
            entry.state = state
            waiters, entry.waiters = entry.waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(state)

    async def _follow(
        self,
        entry: _Entry,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> dict[str, Any]:
        """The first completion's result once it is done; this occurrence's own completion
        if that one failed or has still not started."""
        state = entry.state
        if state is _RUNNING:
            waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            entry.waiters.append(waiter)
            state = await waiter
        if isinstance(state, dict):
            return state
        completed = super().complete_object_value(
            return_type, field_details_list, info, path, result, position_context
        )
        if self.is_awaitable(completed):
            completed = await completed
        return cast("dict[str, Any]", completed)
