"""Plain leaf fields resolved without graphql-core's per-field machinery.

Most fields of a page (a note's ``id``, ``title``, ``tags``…) are scalars or enums read from
an attribute: strawberry gives them its own "basic" resolver (no resolver function, no field
extension, no permission), which ignores its ``info``. graphql-core still
builds a ``Path``, strawberry's ``Info``-ready ``GraphQLResolveInfo`` (fifteen fields) and
checks for arguments and awaitables for each of them, several hundred times per page.

:class:`PlainFieldsExecutor` reads such a field straight from its source and completes the
value with graphql-core's own ``complete_value`` (so serialization, null checks and their
errors are the same), building the field's ``Path`` only for a list (its items' paths) or an
error. Every other field (a resolver, arguments, ``__typename``, an object or abstract type)
and every field while a middleware is installed goes through graphql-core unchanged, so
authorization, loaders and the response cache's read recording run exactly as before.

The served executor builds on it: :mod:`notes_bff.execution.subtree_reuse` also completes a
subtree repeated within one execution once.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    get_nullable_type,
    is_leaf_type,
    is_non_null_type,
)
from graphql.pyutils import AwaitableOrValue, Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

if TYPE_CHECKING:
    from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet


BASIC_RESOLVER = "_get_basic_result"  # strawberry's (schema_converter.from_resolver)


def has_basic_resolver(field: GraphQLField) -> bool:
    """Whether ``field`` resolves by strawberry's basic resolver (an attribute read)."""
    return getattr(field.resolve, "__name__", "") == BASIC_RESOLVER


class _Leaf(NamedTuple):
    """A plain leaf field: its name, basic resolver, return type, and that type unwrapped
    when it is no list (``named``: None for a list of leaves, whose items need paths)."""

    name: str
    resolve: Any
    return_type: GraphQLOutputType
    named: GraphQLLeafType | None
    non_null: bool


class _LeafInfo(NamedTuple):
    """What ``complete_value`` reads of the info for a list of leaves: the names in its
    errors."""

    field_name: str
    parent_type: GraphQLObjectType


# Per (type, field name) of every schema built: the field's plan (None: graphql-core's way).
_PLANS: dict[tuple[GraphQLObjectType, str], _Leaf | None] = {}


def _plan(name: str, field: GraphQLField | None) -> _Leaf | None:
    """A plain leaf's plan: strawberry's basic resolver, no arguments, a leaf type.

    The basic resolver is the one strawberry gives a field without resolver, extension
    (permissions are one) or exception handler; its ``_is_default`` flag alone is not enough
    (a field with permissions but no resolver has it too).
    """
    if field is None or field.args or not has_basic_resolver(field):
        return None
    nullable = get_nullable_type(field.type)
    if isinstance(nullable, GraphQLList):
        is_list, item = True, get_nullable_type(nullable.of_type)
    else:
        is_list, item = False, nullable
    if not is_leaf_type(item):
        return None
    named = None if is_list else item
    return _Leaf(name, field.resolve, field.type, named, is_non_null_type(field.type))


class PlainFieldsExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor with plain leaf fields read directly (see the module)."""

    @staticmethod
    def _leaf(parent_type: GraphQLObjectType, field_name: str) -> _Leaf | None:
        key = (parent_type, field_name)
        try:
            return _PLANS[key]
        except KeyError:
            field = None if field_name.startswith("__") else parent_type.fields.get(field_name)
            return _PLANS.setdefault(key, _plan(field_name, field))

    def _complete_leaf(
        self,
        leaf: _Leaf,
        parent_type: GraphQLObjectType,
        source: Any,
        response_name: str,
        field_details_list: FieldDetailsList,
        path: Path | None,
        position_context: Any,
    ) -> AwaitableOrValue[Any]:
        """The field's completed value, or None with its error recorded (graphql-core's
        ``handle_field_error``, which raises on to the parent for a non-null field).

        A scalar or enum is completed as graphql-core's ``complete_value`` does (its errors
        word for word); a list of them by ``complete_value`` itself, with the field's path.
        """
        field_path = Path(path, response_name, parent_type.name) if leaf.named is None else None
        try:
            result = leaf.resolve(source, None)
            if self.is_awaitable(result):  # an attribute holding an awaitable: the usual way
                field_path = Path(path, response_name, parent_type.name)
                return self.execute_field(
                    parent_type, source, field_details_list, field_path, position_context
                )
            if isinstance(result, Exception):
                raise result
            if leaf.named is not None:
                if result is None or result is Undefined:
                    if leaf.non_null:
                        message = (
                            f"Cannot return null for non-nullable field {parent_type}.{leaf.name}."
                        )
                        raise TypeError(message)
                    return None
                return self.complete_leaf_value(leaf.named, result)
            info = cast("GraphQLResolveInfo[Any]", _LeafInfo(leaf.name, parent_type))
            return self.complete_value(
                leaf.return_type,
                field_details_list,
                info,
                cast("Path", field_path),
                result,
                position_context,
            )
        except Exception as raw_error:
            error_path = field_path or Path(path, response_name, parent_type.name)
            self.handle_field_error(raw_error, leaf.return_type, field_details_list, error_path)
            return None

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        """graphql-core's ``execute_fields``, with plain leaves completed in place."""
        if self.middleware_manager and self.middleware_manager.middlewares:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list in grouped_field_set.items():
                leaf = self._leaf(parent_type, field_details_list[0].node.name.value)
                if leaf is not None:
                    result = self._complete_leaf(
                        leaf, parent_type, source_value, response_name,
                        field_details_list, path, position_context,
                    )  # fmt: skip
                else:
                    result = self.execute_field(
                        parent_type,
                        source_value,
                        field_details_list,
                        Path(path, response_name, parent_type.name),
                        position_context,
                    )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return _gathered(results, awaitable_fields)


async def _gathered(results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
    """``results`` with its awaitable fields awaited concurrently (as graphql-core does)."""
    if len(awaitable_fields) == 1:
        field = awaitable_fields[0]
        results[field] = await cast("Awaitable[Any]", results[field])
    else:
        awaited = await gather_with_cancel(*(results[field] for field in awaitable_fields))
        results.update(zip(awaitable_fields, awaited, strict=True))
    return results
