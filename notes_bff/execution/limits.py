"""Static operation limits, checked before validation and execution, in time linear in the
document.

Depth, aliases, root fields, directives per field, and a cost like GitHub's GraphQL API: a
field with a ``first`` argument (or a list field) multiplies what is below it by ``first``
(its value, else its default, else ``LIST_ESTIMATE``), and the cost is the number of objects
the operation may return. Fragments and inline fragments count where they are spread, every
time they are used, so they cannot hide anything; yet each fragment is analysed only once per
mode (see ``_Analyzer``) and each spread adds its summary, so a document whose fragments
expand exponentially is analysed in linear time. Totals saturate at ``SATURATED``. Tokens are
limited by the parser itself (graphql-core's ``max_tokens``); graphql-core's field-merging
validation, quadratic in the fields that share a response name, gets a budget of comparisons
(``Limits.max_validation_work``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    type_from_ast,
    value_from_ast,
)
from graphql.validation import OverlappingFieldsCanBeMergedRule, ValidationContext
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension

from notes_bff.persisted.protocol import current_document

# What a list without a `first` argument is assumed to hold (members, tags, assignees…).
LIST_ESTIMATE = 20
# Leaf fields that may each carry up to a note's 100,000 characters (its HTML up to four times
# that) count as this many objects, so the cost also bounds the size of an answer: at the
# default limit, about 40 MB of content or 80 MB of HTML at most (docs/security.md).
TEXT_FIELD_COST = {("Note", "content"): 25, ("Note", "contentHtml"): 50}
# Counts and costs stop growing here (far above any limit), so their arithmetic stays cheap.
SATURATED = 10**18
# The modes a fragment is analysed in: below an untyped field (introspection), typed, and
# typed inside a connection (where `edges` and `nodes` multiply by 1).
_UNTYPED, _TYPED, _IN_CONNECTION = range(3)


@dataclass(frozen=True)
class Limits:
    """The limits of one operation (see ``docs/security.md``)."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_root_fields: int = 20
    max_directives_per_field: int = 4
    max_cost: int = 10_000
    # graphql-core's budget for comparing fields that share a response name (its default,
    # 500,000, is about a second of CPU; 50,000 is a few tens of milliseconds).
    max_validation_work: int = 50_000


@dataclass(frozen=True)
class Analysis:
    """An operation's totals, its fragments expanded, and the work it took to count them."""

    depth: int
    aliases: int
    root_fields: int
    directives: int
    cost: int
    work: int  # selections, spreads and arguments visited: linear in the document
    # The ``first`` variables it read, with their values (None: absent, null or invalid).
    firsts: tuple[tuple[str, int | None], ...] = ()


def _add(a: int, b: int) -> int:
    return min(a + b, SATURATED)


def _int(text: str) -> int:
    """An Int literal's value, saturated without converting a long string of digits."""
    digits = text.lstrip("-")
    value = SATURATED if len(digits) > 18 else int(digits)
    return -value if text.startswith("-") else value


@dataclass
class _Summary:
    """What a selection set adds where it is used, its fragments expanded."""

    cost: int = 0
    depth: int = 0  # selection sets nested below it
    aliases: int = 0
    directives: int = 0  # the most on one field
    fields: int = 0  # at its own level

    def add(self, other: _Summary) -> None:
        """Both selection sets' selections at the same level."""
        self.cost = _add(self.cost, other.cost)
        self.depth = max(self.depth, other.depth)
        self.aliases = _add(self.aliases, other.aliases)
        self.directives = max(self.directives, other.directives)
        self.fields = _add(self.fields, other.fields)


class _Analyzer:
    """Summaries of selection sets; each fragment is summarized once per mode.

    A fragment's summary depends only on its mode (its type comes from its type condition),
    so the fragments are summarized first, each after those it spreads, and a spread adds the
    summary: the totals of the fully expanded operation, in work linear in the document. A
    spread of an unknown fragment, or one closing a cycle, adds nothing, and a fragment on an
    unknown type is summarized untyped (validation refuses all three).
    """

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variable_definitions: tuple[VariableDefinitionNode, ...],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.definitions = {d.variable.name.value: d for d in variable_definitions}
        self.variables = variables
        self.firsts: dict[str, int | None] = {}
        self.fragments: dict[tuple[str, int], _Summary] = {}
        self.work = 0
        for name in self._dependency_order(fragments):
            fragment = fragments[name]
            target = schema.get_type(fragment.type_condition.name.value)
            self.fragments[name, _UNTYPED] = self.summarize(fragment.selection_set, None, False)
            for mode in (_TYPED, _IN_CONNECTION):
                self.fragments[name, mode] = self.summarize(
                    fragment.selection_set, target, mode == _IN_CONNECTION
                )

    def _dependency_order(self, fragments: dict[str, FragmentDefinitionNode]) -> list[str]:
        """Fragment names, each after the fragments it spreads (a cycle is cut where it
        closes); iterative, since a chain of fragments may be as long as the document."""
        spreads = {name: self._spreads(f.selection_set) for name, f in fragments.items()}
        order: list[str] = []
        seen: set[str] = set()
        for root in spreads:
            if root in seen:
                continue
            seen.add(root)
            stack = [(root, iter(spreads[root]))]
            while stack:
                name, pending = stack[-1]
                for spread in pending:
                    self.work += 1
                    if spread in spreads and spread not in seen:
                        seen.add(spread)
                        stack.append((spread, iter(spreads[spread])))
                        break
                else:
                    stack.pop()
                    order.append(name)
        return order

    def _spreads(self, selection_set: SelectionSetNode) -> list[str]:
        """The names of the fragments spread anywhere inside a selection set."""
        names: list[str] = []
        pending = [selection_set]
        while pending:
            for selection in pending.pop().selections:
                self.work += 1
                if isinstance(selection, FragmentSpreadNode):
                    names.append(selection.name.value)
                elif (
                    isinstance(selection, FieldNode | InlineFragmentNode)
                    and selection.selection_set is not None
                ):
                    pending.append(selection.selection_set)
        return names

    def summarize(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType | None, in_connection: bool
    ) -> _Summary:
        """The summary of a selection set of type ``parent`` (``None``: untyped, depth only).

        Inside a connection (an object returned by a field with ``first``), its lists
        (``edges``, ``nodes``) hold the ``first`` items already counted: they multiply by 1.
        """
        summary = _Summary()
        for selection in selection_set.selections:
            self.work += 1
            if isinstance(selection, FragmentSpreadNode):
                mode = _UNTYPED if parent is None else _IN_CONNECTION if in_connection else _TYPED
                fragment = self.fragments.get((selection.name.value, mode))
                if fragment is not None:
                    summary.add(fragment)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = parent
                if parent is not None and condition is not None:
                    target = self.schema.get_type(condition.name.value) or parent
                summary.add(self.summarize(selection.selection_set, target, in_connection))
            elif isinstance(selection, FieldNode):
                summary.fields = _add(summary.fields, 1)
                if selection.alias is not None:
                    summary.aliases = _add(summary.aliases, 1)
                summary.directives = max(summary.directives, len(selection.directives or ()))
                if selection.selection_set is None:
                    if isinstance(parent, GraphQLObjectType):
                        weight = TEXT_FIELD_COST.get((parent.name, selection.name.value), 0)
                        summary.cost = _add(summary.cost, weight)
                    continue
                definition = (
                    parent.fields.get(selection.name.value)
                    if isinstance(parent, GraphQLObjectType)
                    else None
                )
                if definition is None:  # introspection (__schema, __type), unknown fields
                    below = self.summarize(selection.selection_set, None, False)
                    # `ofType` unwraps one type wrapper (never a list of objects): its chain in
                    # the standard introspection query (GraphiQL, codegen) does not count.
                    step = 0 if parent is None and selection.name.value == "ofType" else 1
                    cost = 0
                else:
                    first = self._first(selection, definition)
                    is_list = isinstance(get_nullable_type(definition.type), GraphQLList)
                    below = self.summarize(
                        selection.selection_set,
                        get_named_type(definition.type),
                        first is not None and not is_list,
                    )
                    if first is not None:
                        multiplier = first
                    elif is_list:
                        multiplier = 1 if in_connection else LIST_ESTIMATE
                    else:
                        multiplier = 1
                    step = 1
                    cost = min(max(multiplier, 0) * _add(1, below.cost), SATURATED)
                summary.cost = _add(summary.cost, cost)
                summary.depth = max(summary.depth, step + below.depth)
                summary.aliases = _add(summary.aliases, below.aliases)
                summary.directives = max(summary.directives, below.directives)
        return summary

    def _first(self, node: FieldNode, definition: GraphQLField) -> int | None:
        """The field's ``first``: its literal, or its variable's value as execution coerces
        it (the variable's default when no value is given); absent, null or invalid, the
        argument's default (what the resolvers use for null)."""
        for argument in node.arguments or ():
            self.work += 1
            if argument.name.value != "first":
                continue
            if isinstance(argument.value, IntValueNode):
                return _int(argument.value.value)
            if isinstance(argument.value, VariableNode):
                name = argument.value.name.value
                if name not in self.firsts:
                    self.firsts[name] = self._variable(name)
                if self.firsts[name] is not None:
                    return self.firsts[name]
            break
        argument_definition = definition.args.get("first")
        default = argument_definition.default_value if argument_definition else None
        return default if isinstance(default, int) and not isinstance(default, bool) else None

    def _variable(self, name: str) -> int | None:
        return _int_variable(self.schema, self.definitions, self.variables, name)


def _int_variable(
    schema: GraphQLSchema,
    definitions: dict[str, VariableDefinitionNode],
    variables: dict[str, Any],
    name: str,
) -> int | None:
    """An Int variable's value: the one given, else its default (``None`` when absent, null,
    or not an Int, which validation or coercion refuses)."""
    definition = definitions.get(name)
    if definition is None:
        return None
    scalar = type_from_ast(schema, definition.type)
    if isinstance(scalar, GraphQLNonNull):
        scalar = scalar.of_type
    if not isinstance(scalar, GraphQLScalarType) or scalar.name != "Int":
        return None
    value: Any = None
    if name in variables:
        try:
            value = scalar.parse_value(variables[name])
        except GraphQLError:
            return None
    elif definition.default_value is not None:
        value = value_from_ast(definition.default_value, scalar)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def analyze(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
) -> Analysis:
    """The operation's totals as if every fragment were expanded where it is spread."""
    root = {
        "query": schema.query_type,
        "mutation": schema.mutation_type,
        "subscription": schema.subscription_type,
    }[operation.operation.value]
    analyzer = _Analyzer(schema, fragments, operation.variable_definitions or (), variables)
    summary = analyzer.summarize(operation.selection_set, root, False) if root else _Summary()
    return Analysis(
        depth=1 + summary.depth,
        aliases=summary.aliases,
        root_fields=summary.fields,
        directives=summary.directives,
        cost=summary.cost,
        work=analyzer.work,
        firsts=tuple(analyzer.firsts.items()),
    )


# Analyses kept per cached document: one per operation and set of ``first`` values.
ANALYSES_PER_DOCUMENT = 8


def analyze_cached(
    analyses: list[Any] | None,
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: dict[str, Any],
) -> Analysis:
    """``analyze``, or an earlier answer for the same operation and ``first`` values.

    ``analyses`` is the memo of a document cached by the process (``CachedDocument.analyses``;
    None: not cached). An analysis depends on the schema, the document and the operation,
    and on the variables only through the ``first`` values it read (``Analysis.firsts``), so
    an entry answers when those read the same; at most ``ANALYSES_PER_DOCUMENT`` are kept
    (the oldest first out).
    """
    definitions: dict[str, VariableDefinitionNode] | None = None
    entries: list[tuple[GraphQLSchema, OperationDefinitionNode, Analysis]] = analyses or []
    for known_schema, known_operation, known in entries:
        if known_schema is not schema or known_operation is not operation:
            continue
        if known.firsts:
            if definitions is None:
                definitions = {
                    d.variable.name.value: d for d in operation.variable_definitions or ()
                }
            if any(
                _int_variable(schema, definitions, variables, name) != value
                for name, value in known.firsts
            ):
                continue
        return known
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    analysis = analyze(schema, operation, fragments, variables)
    if analyses is not None:
        if len(analyses) >= ANALYSES_PER_DOCUMENT:
            del analyses[0]
        analyses.append((schema, operation, analysis))
    return analysis


def _over(name: str, value: int, limit: int) -> str:
    if value >= SATURATED:
        return (
            f"{name} is at least {SATURATED}, "
            f"over the limit of {limit} by at least {SATURATED - limit}"
        )
    return f"{name} is {value}, over the limit of {limit} by {value - limit}"


def check(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    limits: Limits,
) -> tuple[list[str], int]:
    """What the operation exceeds (each with the limit and by how much), and its cost."""
    return judge(analyze(schema, operation, fragments, variables), limits)


def judge(analysis: Analysis, limits: Limits) -> tuple[list[str], int]:
    """What an analysed operation exceeds (each with the limit and by how much), and its
    cost."""
    checks = [
        ("depth", analysis.depth, limits.max_depth),
        ("aliases", analysis.aliases, limits.max_aliases),
        ("root fields", analysis.root_fields, limits.max_root_fields),
        ("directives on one field", analysis.directives, limits.max_directives_per_field),
        ("cost (objects it may return)", analysis.cost, limits.max_cost),
    ]
    problems = [_over(name, value, limit) for name, value, limit in checks if value > limit]
    return problems, max(analysis.cost, 1)


def executed_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    """The operation graphql-core executes: the one named (the last of that name), else the
    only one (none of several: graphql-core refuses to choose)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    named = [o for o in operations if o.name is not None and o.name.value == operation_name]
    return named[-1] if named else None


@cache
def merge_rule(budget: int) -> type[OverlappingFieldsCanBeMergedRule]:
    """graphql-core's rule that fields sharing a response name can merge, which aborts the
    validation with ``QUERY_TOO_COMPLEX`` once it has spent ``budget`` (comparisons of fields
    and of fragments) instead of graphql-core's 500,000."""
    message = f"validating it is over the limit of {budget} comparisons of fields"

    class BoundedOverlappingFieldsCanBeMergedRule(OverlappingFieldsCanBeMergedRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.rule_context.remaining_complexity_budget = budget

        def enter_selection_set(self, *args: Any) -> None:
            try:
                super().enter_selection_set(*args)
            except ValidationAbortedError:  # the budget is spent: validate() stops here
                raise _too_complex(message, ValidationAbortedError) from None

    return BoundedOverlappingFieldsCanBeMergedRule


def _too_complex(problems: str, kind: type[GraphQLError] = GraphQLError) -> GraphQLError:
    message = f"The operation is too complex: {problems}."
    return kind(message, extensions={"code": "QUERY_TOO_COMPLEX"})


class OperationLimits(SchemaExtension):
    """Refuses operations over the limits with ``QUERY_TOO_COMPLEX`` before validation, and
    bounds the validation's field merging (``merge_rule``)."""

    def __init__(self, limits: Limits) -> None:
        super().__init__()
        self.limits = limits

    def on_parse(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self.limits.max_tokens
        yield

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        document = ctx.graphql_document
        operation = executed_operation(document, ctx.operation_name) if document else None
        if document is not None and operation is not None:
            resolved = current_document()
            cached = resolved.cached if resolved is not None else None
            memo = cached.analyses if cached is not None and cached.document is document else None
            analysis = analyze_cached(
                memo, ctx.schema._schema, document, operation, ctx.variables or {}
            )
            problems, cost = judge(analysis, self.limits)
            if hasattr(ctx.context, "operation_cost"):
                ctx.context.operation_cost = cost
            if problems:
                ctx.pre_execution_errors = [_too_complex("; ".join(problems))]
        bounded = merge_rule(self.limits.max_validation_work)
        ctx.validation_rules = tuple(
            bounded if rule is OverlappingFieldsCanBeMergedRule else rule
            for rule in ctx.validation_rules
        )
        yield
