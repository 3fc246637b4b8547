"""Static operation limits, checked before validation and execution.

Depth, aliases, root fields, directives per field, and a cost like GitHub's GraphQL API: a
field with a ``first`` argument (or a list field) multiplies what is below it by ``first``
(its value, else its default, else ``LIST_ESTIMATE``), and the cost is the number of objects
the operation may return. Fragments and inline fragments are expanded where they are spread,
so they count every time they are used and cannot hide anything. Tokens are limited by the
parser itself (graphql-core's ``max_tokens``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
)
from strawberry.extensions import SchemaExtension

# What a list without a `first` argument is assumed to hold (members, tags, assignees…).
LIST_ESTIMATE = 20


@dataclass(frozen=True)
class Limits:
    """The limits of one operation (see ``docs/security.md``)."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_root_fields: int = 20
    max_directives_per_field: int = 4
    max_cost: int = 10_000


@dataclass
class _Tally:
    depth: int = 0
    aliases: int = 0
    directives: int = 0
    problems: list[str] = field(default_factory=list)


class _Analyzer:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.tally = _Tally()

    def _fields(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, seen: frozenset[str]
    ) -> Iterator[tuple[FieldNode, GraphQLNamedType]]:
        """The fields of a selection set with fragments expanded (each spread, each time)."""
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                yield from self._fields(selection.selection_set, target or parent, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:  # unknown or cyclic: validation reports it
                    continue
                target = self.schema.get_type(fragment.type_condition.name.value) or parent
                yield from self._fields(fragment.selection_set, target, seen | {name})

    def _first(self, node: FieldNode, arguments: dict[str, Any]) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value == "first":
                value = argument.value
                if isinstance(value, IntValueNode):
                    return int(value.value)
                if isinstance(value, VariableNode):
                    given = self.variables.get(value.name.value)
                    return given if isinstance(given, int) else None
        definition = arguments.get("first")
        default = getattr(definition, "default_value", None)
        return default if isinstance(default, int) else None

    def _depth(self, selection_set: SelectionSetNode, depth: int, seen: frozenset[str]) -> None:
        """Depth (and aliases, directives) below a field whose type is not analyzed: the
        nesting of selections alone, fragments expanded (circular introspection queries)."""
        self.tally.depth = max(self.tally.depth, depth)
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.alias is not None:
                    self.tally.aliases += 1
                self.tally.directives = max(self.tally.directives, len(selection.directives or ()))
                if selection.selection_set is not None:
                    # `ofType` unwraps one type wrapper (never a list of objects): its chain in
                    # the standard introspection query (GraphiQL, codegen) does not count.
                    below = depth if selection.name.value == "ofType" else depth + 1
                    self._depth(selection.selection_set, below, seen)
            elif isinstance(selection, InlineFragmentNode):
                self._depth(selection.selection_set, depth, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:
                    self._depth(fragment.selection_set, depth, seen | {name})

    def cost(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType,
        depth: int,
        in_connection: bool = False,
    ) -> int:
        """Objects the selection set may return; records depth, aliases, directives.

        Inside a connection (an object returned by a field with ``first``), its lists
        (``edges``, ``nodes``) hold the ``first`` items already counted: they multiply by 1.
        """
        self.tally.depth = max(self.tally.depth, depth)
        total = 0
        for node, owner in self._fields(selection_set, parent, frozenset()):
            if node.alias is not None:
                self.tally.aliases += 1
            self.tally.directives = max(self.tally.directives, len(node.directives or ()))
            if node.selection_set is None:
                continue
            definition = (
                owner.fields.get(node.name.value) if isinstance(owner, GraphQLObjectType) else None
            )
            if definition is None:  # introspection (__schema, __type) or unknown fields
                self._depth(node.selection_set, depth + 1, frozenset())
                continue
            child = get_named_type(definition.type)
            first = self._first(node, definition.args)
            is_list = isinstance(get_nullable_type(definition.type), GraphQLList)
            connection = first is not None and not is_list
            if first is not None:
                multiplier = first
            elif is_list:
                multiplier = 1 if in_connection else LIST_ESTIMATE
            else:
                multiplier = 1
            below = self.cost(node.selection_set, child, depth + 1, connection)
            total += max(multiplier, 0) * (1 + below)
        return total


def check(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    limits: Limits,
) -> tuple[list[str], int]:
    """What the operation exceeds (each with the limit and by how much), and its cost."""
    root = {
        "query": schema.query_type,
        "mutation": schema.mutation_type,
        "subscription": schema.subscription_type,
    }[operation.operation.value]
    if root is None:
        return [], 1
    analyzer = _Analyzer(schema, fragments, variables)
    roots = sum(1 for _ in analyzer._fields(operation.selection_set, root, frozenset()))
    cost = analyzer.cost(operation.selection_set, root, 1)
    tally = analyzer.tally
    checks = [
        ("depth", tally.depth, limits.max_depth),
        ("aliases", tally.aliases, limits.max_aliases),
        ("root fields", roots, limits.max_root_fields),
        ("directives on one field", tally.directives, limits.max_directives_per_field),
        ("cost (objects it may return)", cost, limits.max_cost),
    ]
    problems = [
        f"{name} is {value}, over the limit of {limit} by {value - limit}"
        for name, value, limit in checks
        if value > limit
    ]
    return problems, max(cost, 1)


class OperationLimits(SchemaExtension):
    """Refuses operations over the limits with ``QUERY_TOO_COMPLEX``, before validation."""

    def __init__(self, limits: Limits) -> None:
        super().__init__()
        self.limits = limits

    def on_parse(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self.limits.max_tokens
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        if document is not None:
            fragments = {
                d.name.value: d
                for d in document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            for operation in operations:
                if (
                    ctx.operation_name
                    and operation.name
                    and operation.name.value != ctx.operation_name
                ):
                    continue
                problems, cost = check(
                    ctx.schema._schema, operation, fragments, ctx.variables or {}, self.limits
                )
                if hasattr(ctx.context, "operation_cost"):
                    ctx.context.operation_cost = cost
                if problems:
                    message = "The operation is too complex: " + "; ".join(problems) + "."
                    error = GraphQLError(message, extensions={"code": "QUERY_TOO_COMPLEX"})
                    ctx.pre_execution_errors = [error]
                    break
        yield
