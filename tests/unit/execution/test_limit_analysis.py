"""The operation-limit analysis counts the totals of the fully expanded operation in work
linear in the document, whatever its fragments, spreads, aliases, directives and variables
do; graphql-core's field-merging validation has a budget. No servers: ``check`` and
``analyze`` run on documents parsed by graphql-core."""

from __future__ import annotations

import re
from typing import Any

import pytest
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    Visitor,
    get_introspection_query,
    parse,
    specified_rules,
    validate,
    visit,
)
from graphql.validation import OverlappingFieldsCanBeMergedRule, ValidationContext
from graphql.validation.validate import ValidationAbortedError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notes_bff.execution.limits import (
    ANALYSES_PER_DOCUMENT,
    SATURATED,
    Analysis,
    Limits,
    analyze,
    analyze_cached,
    check,
    executed_operation,
    merge_rule,
)
from notes_bff.schema import build_schema

SCHEMA = build_schema()._schema
# The analysis visits a selection of a fragment at most four times (to find the spreads, then
# in each of three modes), a spread once more (to order the fragments), and an argument at
# most three times; each is two AST nodes or more.
WORK_PER_NODE = 4


class _NodeCount(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.nodes = 0

    def enter(self, *_args: Any) -> None:
        self.nodes += 1


def _nodes(document: DocumentNode) -> int:
    counter = _NodeCount()
    visit(document, counter)
    return counter.nodes


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _analyze(
    query: str, variables: dict[str, Any] | None = None, operation_name: str | None = None
) -> tuple[Analysis, int]:
    """The analysis of the operation that runs, and the number of nodes of the document."""
    document = parse(query)
    operation = executed_operation(document, operation_name)
    assert operation is not None
    return analyze(SCHEMA, operation, _fragments(document), variables or {}), _nodes(document)


def _problems(query: str, variables: dict[str, Any] | None = None) -> list[str]:
    document = parse(query)
    operation = executed_operation(document, None)
    assert operation is not None
    return check(SCHEMA, operation, _fragments(document), variables or {}, Limits())[0]


def _cost(query: str, variables: dict[str, Any] | None = None) -> int:
    return _analyze(query, variables)[0].cost


def _bomb(levels: int, leaf: str = "a: __typename", spreads: int = 2, operation: str = "") -> str:
    """Each fragment spreads the previous one ``spreads`` times: ``spreads**levels`` leaves."""
    fragments = [f"fragment F0 on Query {{ {leaf} }}"]
    fragments += [
        f"fragment F{i} on Query {{ {f' ...F{i - 1}' * spreads} }}" for i in range(1, levels + 1)
    ]
    return f"{operation}{{ ...F{levels} }} " + " ".join(fragments)


# --- the fragment bomb of the issue, saturation ---------------------------------------------


def test_a_fragment_bomb_counts_every_copy_without_expanding_them() -> None:
    analysis, nodes = _analyze(_bomb(40))
    assert analysis.aliases == analysis.root_fields == 2**40
    assert analysis.work <= WORK_PER_NODE * nodes
    problems = _problems(_bomb(40))
    assert "aliases is 1099511627776, over the limit of 30 by 1099511627746" in problems
    assert "root fields is 1099511627776, over the limit of 20 by 1099511627756" in problems


def test_counts_saturate_and_still_name_the_limit() -> None:
    problems = _problems(_bomb(80, "a: notes(first: 100) { nodes { title } }"))
    assert f"aliases is at least {SATURATED}, over the limit of 30 by at least" in problems[0]
    cost = [p for p in problems if p.startswith("cost")]
    assert cost == [
        f"cost (objects it may return) is at least {SATURATED}, "
        f"over the limit of 10000 by at least {SATURATED - 10_000}"
    ]


@pytest.mark.parametrize(("digits", "cost"), [("9" * 5000, SATURATED), ("-" + "9" * 5000, 0)])
def test_a_long_int_literal_saturates_without_conversion(digits: str, cost: int) -> None:
    # int() refuses more than 4,300 digits: the analysis must not convert them.
    assert _cost(f"{{ notes(first: {digits}) {{ totalCount }} }}") == cost


# --- linear work on adversarial families ------------------------------------------------------


def _chain(n: int) -> str:
    """Each fragment spreads the previous one three times (3**n leaves)."""
    return _bomb(n, "a: __typename me { id }", spreads=3)


def _one_big_fragment(n: int) -> str:
    """A fragment of n fields, spread under n aliased fields."""
    fields = " ".join(f"f{i}: id" for i in range(n))
    spreads = " ".join(f"m{i}: me {{ ...U }}" for i in range(n))
    return f"{{ {spreads} }} fragment U on User {{ {fields} }}"


def _aliases(n: int) -> str:
    return "{ me { " + " ".join(f"a{i}: id" for i in range(n)) + " } }"


def _inline_nesting(n: int) -> str:
    return "{ me { " + "... on User { " * n + "id" + " }" * n + " } }"


def _directives(n: int) -> str:
    return "{ me { id" + " @include(if: true)" * n + " } }"


def _variables(n: int) -> str:
    definitions = " ".join(f"$v{i}: Int = {i}" for i in range(n))
    fields = " ".join(f"n{i}: notes(first: $v{i}) {{ totalCount }}" for i in range(n))
    return f"query({definitions}) {{ {fields} }}"


def _nested_spreads(n: int) -> str:
    """Fragments spread twice inside nested fields of the previous one: depth adds up."""
    fragments = ["fragment W0 on Workspace { id }"]
    fragments += [
        f"fragment W{i} on Workspace {{ notes(first: 2) {{ nodes {{ workspace "
        f"{{ ...W{i - 1} ...W{i - 1} }} }} }} }}"
        for i in range(1, n)
    ]
    return f"{{ workspaces {{ ...W{n - 1} }} }} " + " ".join(fragments)


FAMILIES = [_chain, _one_big_fragment, _aliases, _directives, _variables, _nested_spreads]


@pytest.mark.parametrize("family", [*FAMILIES, _inline_nesting], ids=lambda f: f.__name__)
def test_work_stays_linear_as_adversarial_documents_double(family: Any) -> None:
    # graphql-core's parser refuses more than 200 levels of nesting.
    sizes = [2**k for k in range(3, 8 if family is _inline_nesting else 11)]
    ratios = []
    for size in sizes:
        analysis, nodes = _analyze(family(size))
        ratios.append(analysis.work / nodes)
    assert max(ratios) <= WORK_PER_NODE, list(zip(sizes, ratios, strict=True))


def test_the_expanded_totals_grow_exponentially_where_the_work_does_not() -> None:
    small, _ = _analyze(_nested_spreads(10))
    large, large_nodes = _analyze(_nested_spreads(20))
    assert (small.depth, large.depth) == (3 * 9 + 2, 3 * 19 + 2)
    assert large.cost > 2**10 * small.cost
    assert large.work / large_nodes <= WORK_PER_NODE


# --- exactness, cycles, the stack -------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "{ me { ...A } } fragment A on User { ...B id } fragment B on User { ...A name }",
        "{ me { ...A } } fragment A on User { ...A }",
        "{ workspaces { ...W } } "
        "fragment W on Workspace { notes { nodes { workspace { ...W } } } }",
        "{ me { ...Missing } } fragment A on Nowhere { a: b { ...A } }",
    ],
)
def test_cycles_and_unknown_fragments_terminate(query: str) -> None:
    # Validation refuses them; the analysis only has to stop, in linear work.
    analysis, nodes = _analyze(query)
    assert analysis.work <= WORK_PER_NODE * nodes


def test_long_fragment_chains_and_deep_nesting_fit_the_stack() -> None:
    n = 5000  # far more than 5,000 tokens: the fragments are analysed without recursion
    chain = " ".join(f"fragment F{i} on User {{ ...F{i - 1} }}" for i in range(1, n))
    analysis, _ = _analyze(f"{{ me {{ ...F{n - 1} }} }} fragment F0 on User {{ a: id }} {chain}")
    assert (analysis.aliases, analysis.depth) == (1, 2)
    nested, _ = _analyze(_inline_nesting(196))
    assert nested.depth == 2
    fields, _ = _analyze("{ " + "a { " * 198 + "b" + " }" * 198 + " }")
    assert fields.depth == 199


def test_only_the_operation_that_runs_is_checked() -> None:
    document = _bomb(40, operation="query Small { __typename } query Bomb ")
    small, nodes = _analyze(document, operation_name="Small")
    bomb, _ = _analyze(document, operation_name="Bomb")
    assert (small.aliases, bomb.aliases) == (0, 2**40)
    assert small.work <= WORK_PER_NODE * nodes
    # Several operations and no name: graphql-core refuses to choose, so none is checked.
    assert executed_operation(parse(document), None) is None
    assert executed_operation(parse(document), "Other") is None


# --- variables --------------------------------------------------------------------------------

PAGES = (
    "notes(first: {0}) {{ nodes {{ workspace {{ notes(first: {0}) {{ nodes {{ title }} }} }} }} }}"
)


def test_a_variable_default_costs_exactly_as_the_literal() -> None:
    literal = _cost("{ " + PAGES.format(100) + " }")
    assert literal > 10_000
    assert _cost("query($f: Int = 100) { " + PAGES.format("$f") + " }") == literal
    assert _problems("query($f: Int = 100) { " + PAGES.format("$f") + " }")
    given = _cost("query($f: Int = 100) { " + PAGES.format("$f") + " }", {"f": 5})
    assert given == _cost("{ " + PAGES.format(5) + " }")


@pytest.mark.parametrize(
    ("definition", "variables", "first"),
    [
        ("$f: Int = 100", {}, 100),
        ("$f: Int! = 100", {}, 100),
        ("$f: Int = 100", {"f": 3}, 3),  # a value given wins over the default
        ("$f: Int = 100", {"f": 3.0}, 3),  # coerced as execution coerces it
        ("$f: Int = 100", {"f": None}, 20),  # null: the argument's default (the resolvers')
        ("$f: Int", {}, 20),  # no value, no default: the argument's default
        ("$f: Int = null", {}, 20),
        ("$f: Int = 100", {"f": "100"}, 20),  # not an Int: coercion refuses the operation
        ("$f: Int = 100", {"f": True}, 20),
        ("$f: Int = 100", {"f": 2**40}, 20),  # not a 32-bit Int
        ('$f: String = "100"', {}, 20),  # not an Int: validation refuses the operation
        ("$f: [Int] = [100]", {}, 20),
        ("$g: Int = 100", {}, 20),  # $f is not defined
    ],
)
def test_first_given_by_a_variable(definition: str, variables: dict[str, Any], first: int) -> None:
    query = f"query({definition}) {{ notes(first: $f) {{ nodes {{ id }} }} }}"
    assert _cost(query, variables) == _cost(f"{{ notes(first: {first}) {{ nodes {{ id }} }} }}")


# --- analyses kept with a cached document -------------------------------------------------


def _cached(memo: list[Any] | None, document: DocumentNode, variables: dict[str, Any]) -> Analysis:
    operation = executed_operation(document, None)
    assert operation is not None
    return analyze_cached(memo, SCHEMA, document, operation, variables)


def test_a_cached_analysis_answers_only_for_the_same_first_values() -> None:
    document = parse("query($f: Int = 100, $id: ID) { " + PAGES.format("$f") + " me { id } }")
    memo: list[Any] = []
    default = _cached(memo, document, {})
    # The same `first` (given or by default): the same analysis, whatever other variables.
    assert _cached(memo, document, {"id": "a"}) is default
    assert _cached(memo, document, {"f": 100, "id": "b"}) is default
    assert _cached(memo, document, {"f": 100.0}) is default  # coerced as execution does
    small = _cached(memo, document, {"f": 5})
    assert small is not default and _cached(memo, document, {"f": 5}) is small
    for variables in ({}, {"f": 5}, {"f": None}, {"f": "x"}, {"f": 2**40}):
        fresh = _cached(None, document, variables)
        assert _cached(memo, document, variables).cost == fresh.cost
    assert default.cost > Limits().max_cost > small.cost  # the refusal stands when reused
    assert len(memo) == 3  # 100, 5, and the argument's default (null or invalid values)


def test_cached_analyses_are_bounded_per_document_and_tied_to_its_operation() -> None:
    document = parse("query A($f: Int) { " + PAGES.format("$f") + " } query B { me { id } }")
    memo: list[Any] = []
    for first in range(ANALYSES_PER_DOCUMENT + 3):
        _cached_named(memo, document, "A", {"f": first})
    assert len(memo) == ANALYSES_PER_DOCUMENT
    other = _cached_named(memo, document, "B", {"f": 1})
    assert other.cost == _cached_named(None, document, "B", {}).cost
    assert memo[-1][2] is other
    # A new parse of the same text is another document: not answered by this memo's entries.
    again = parse("query A($f: Int) { " + PAGES.format("$f") + " } query B { me { id } }")
    assert _cached_named(memo, again, "A", {"f": 1}) not in [entry[2] for entry in memo[:-1]]


def _cached_named(
    memo: list[Any] | None, document: DocumentNode, name: str, variables: dict[str, Any]
) -> Analysis:
    operation = executed_operation(document, name)
    assert operation is not None
    return analyze_cached(memo, SCHEMA, document, operation, variables)


# --- property tests: exact totals, linear work ------------------------------------------------

# A part of the schema: each field's type (None: a leaf); `first` on PAGED fields.
FIELDS: dict[str, dict[str, str | None]] = {
    "Query": {
        "__typename": None,
        "me": "User",
        "notes": "NoteConnection",
        "workspaces": "Workspace",
        "dashboard": "Dashboard",
    },
    "Dashboard": {"recent": "Note", "stats": "DashboardStats"},
    "DashboardStats": {"totalNotes": None},
    "User": {"id": None, "name": None},
    "NoteConnection": {"nodes": "Note", "edges": "NoteEdge", "totalCount": None},
    "NoteEdge": {"cursor": None, "node": "Note"},
    "Note": {"id": None, "workspace": "Workspace", "author": "User", "assignees": "User"},
    "Workspace": {"id": None, "owner": "User", "members": "Member", "notes": "NoteConnection"},
    "Member": {"role": None, "user": "User"},
}
PAGED = {"notes", "recent"}
SPREAD = re.compile(r"\.\.\.(F\d+)\b")
HEADER = "query($v: Int = 7, $w: Int) "
VARIABLES = st.sampled_from([{}, {"w": 3}, {"v": 1, "w": None}])


@st.composite
def _documents(
    draw: st.DrawFn, fragments: int, repeats: int, cycles: bool
) -> tuple[str, dict[str, tuple[str, str]]]:
    """A query whose fragments spread earlier fragments (any fragment with ``cycles``), up to
    ``repeats`` times in a row, with aliases, directives and pages; and the fragments' types
    and bodies."""
    types = [draw(st.sampled_from(sorted(FIELDS))) for _ in range(draw(st.integers(0, fragments)))]

    def selections(type_name: str, depth: int, spreadable: range) -> str:
        parts = []
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(("field", "field", "spread", "inline")))
            candidates = [i for i in spreadable if types[i] == type_name]
            if kind == "spread" and candidates:
                spread = f"...F{draw(st.sampled_from(candidates))}"
                parts.extend([spread] * draw(st.integers(1, repeats)))
            elif kind == "inline" and depth > 0:
                inner = selections(type_name, depth - 1, spreadable)
                parts.append(f"... on {type_name} {{ {inner} }}")
            else:
                field = draw(st.sampled_from(sorted(FIELDS[type_name])))
                text = draw(st.sampled_from(("", "a: ", "b: "))) + field
                if field in PAGED:
                    pages = ("", "(first: 2)", "(first: $v)", "(first: $w)", "(first: null)")
                    text += draw(st.sampled_from(pages))
                text += " @include(if: true)" * draw(st.integers(0, 2))
                child = FIELDS[type_name][field]
                if child is not None:
                    inner = selections(child, depth - 1, spreadable) if depth else "__typename"
                    text += f" {{ {inner} }}"
                parts.append(text)
        return " ".join(parts)

    bodies = {
        f"F{i}": (t, selections(t, 2, range(len(types) if cycles else i)))
        for i, t in enumerate(types)
    }
    operation = selections("Query", 3, range(len(types)))
    definitions = " ".join(f"fragment {n} on {t} {{ {body} }}" for n, (t, body) in bodies.items())
    return f"{HEADER}{{ {operation} }} {definitions}", bodies


def _inlined(query: str, bodies: dict[str, tuple[str, str]]) -> str:
    """The operation of ``query`` with every spread replaced by an inline fragment."""
    expanded: dict[str, str] = {}

    def expand(text: str) -> str:
        return SPREAD.sub(lambda m: f"... on {bodies[m[1]][0]} {{ {expanded[m[1]]} }}", text)

    for name, (_, body) in bodies.items():  # each fragment spreads earlier ones only
        expanded[name] = expand(body)
    operation = query.split(" fragment ", 1)[0]
    return expand(operation)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(document=_documents(fragments=5, repeats=2, cycles=False), variables=VARIABLES)
def test_fragments_count_exactly_as_if_they_were_inlined(
    document: tuple[str, dict[str, tuple[str, str]]], variables: dict[str, Any]
) -> None:
    query, bodies = document
    with_fragments, nodes = _analyze(query, variables)
    inlined, _ = _analyze(_inlined(query, bodies), variables)
    assert with_fragments.work <= WORK_PER_NODE * nodes
    totals = ("depth", "aliases", "root_fields", "directives", "cost")
    assert [getattr(with_fragments, t) for t in totals] == [getattr(inlined, t) for t in totals]


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(document=_documents(fragments=40, repeats=4, cycles=True), variables=VARIABLES)
def test_work_is_linear_in_the_document_with_any_fragments(
    document: tuple[str, dict[str, tuple[str, str]]], variables: dict[str, Any]
) -> None:
    analysis, nodes = _analyze(document[0], variables)
    assert analysis.work <= WORK_PER_NODE * nodes


# --- graphql-core's field-merging validation --------------------------------------------------


def _doubling(levels: int) -> str:
    """Every field twice at every depth: 2**levels fields share one response path."""
    chain = ["notes(first: 1)", "nodes", "workspace"] * 4
    leaf = "totalCount" if chain[levels - 1].startswith("notes") else "id"

    def build(i: int) -> str:
        return leaf if i == levels else " ".join([f"{chain[i]} {{ {build(i + 1)} }}"] * 2)

    return "{ " + build(0) + " }"


def _same_subselection_in_fragments(n: int) -> str:
    spreads = " ".join(f"...F{i}" for i in range(n))
    fragments = " ".join(
        f"fragment F{i} on Dashboard {{ stats {{ totalNotes }} }}" for i in range(n)
    )
    return f"{{ dashboard {{ {spreads} }} }} {fragments}"


DASHBOARD = """query Dashboard {
  me { ...Person email }
  dashboard {
    stats { totalNotes byPriority { priority count } topTags { tag count } }
    pinned { ...Card } dueSoon { ...Card } overdue { ...Card } recent { ...Card }
  }
  workspaces { id name viewerRole members { role user { ...Person } }
    notes(first: 10) { edges { cursor node { ...Card } } pageInfo { hasNextPage endCursor } } }
}
fragment Person on User { id name avatarUrl }
fragment Card on Note { id title excerpt tags priority dueDate author { ...Person }
  assignees { ...Person } workspace { id name } }"""


def _merge_work(rule: type[OverlappingFieldsCanBeMergedRule], query: str) -> tuple[int, list[Any]]:
    """The budget the field-merging rule spends validating a document, and the errors."""
    rules: list[Any] = []

    class Counting(rule):  # type: ignore[valid-type,misc]
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.budget = self.rule_context.remaining_complexity_budget
            rules.append(self)

    errors = validate(
        SCHEMA,
        parse(query, max_tokens=Limits().max_tokens),
        [Counting if r is OverlappingFieldsCanBeMergedRule else r for r in specified_rules],
    )
    return rules[0].budget - rules[0].rule_context.remaining_complexity_budget, errors


@pytest.mark.parametrize(
    ("family", "sizes"), [(_doubling, [4, 5, 6]), (_same_subselection_in_fragments, [25, 50, 100])]
)
def test_graphql_cores_field_merging_is_quadratic(family: Any, sizes: list[int]) -> None:
    nodes = [_nodes(parse(family(size))) for size in sizes]
    spent = [_merge_work(OverlappingFieldsCanBeMergedRule, family(size))[0] for size in sizes]
    for i in range(1, len(sizes)):
        assert spent[i] / spent[i - 1] >= 0.9 * (nodes[i] / nodes[i - 1]) ** 2, (nodes, spent)


@pytest.mark.parametrize(
    "query", [_doubling(9), _same_subselection_in_fragments(300)], ids=["doubling", "fragments"]
)
def test_field_merging_validation_spends_at_most_its_budget(query: str) -> None:
    # Within every operation limit and 5,000 tokens; graphql-core's own budget (500,000
    # comparisons) takes about a second of CPU here.
    assert _problems(query) == []
    budget = Limits().max_validation_work
    spent, errors = _merge_work(merge_rule(budget), query)
    assert budget < spent <= budget + 2
    assert len(errors) == 1 and isinstance(errors[0], ValidationAbortedError)
    assert errors[0].extensions == {"code": "QUERY_TOO_COMPLEX"}
    assert errors[0].message == (
        "The operation is too complex: "
        f"validating it is over the limit of {budget} comparisons of fields."
    )


@pytest.mark.parametrize(
    "query", [get_introspection_query(descriptions=True), DASHBOARD], ids=["introspection", "app"]
)
def test_real_documents_spend_a_small_part_of_the_budget(query: str) -> None:
    spent, errors = _merge_work(merge_rule(Limits().max_validation_work), query)
    assert errors == [] and spent <= Limits().max_validation_work // 10


async def test_the_schema_refuses_a_validation_over_budget_as_too_complex() -> None:
    result = await build_schema().execute(_doubling(9))
    assert result.errors is not None and len(result.errors) == 1
    error: GraphQLError = result.errors[0]
    assert (error.extensions or {}).get("code") == "QUERY_TOO_COMPLEX"
    assert "validating it is over the limit of 50000 comparisons of fields" in error.message


def test_large_text_fields_weigh_in_the_cost() -> None:
    """A page's cost bounds its size: content and its HTML count as many objects each."""
    plain = _cost("{ notes(first: 100) { nodes { id title } } }")
    content = _cost("{ notes(first: 100) { nodes { id title content } } }")
    both = _cost("{ notes(first: 100) { nodes { id title content contentHtml } } }")
    assert (content - plain, both - content) == (100 * 25, 100 * 50)
    # Aliases cannot multiply it past the limit: five full pages with content are refused.
    pages = " ".join(f"p{i}: notes(first: 100) {{ nodes {{ content }} }}" for i in range(5))
    assert any("cost" in problem for problem in _problems(f"{{ {pages} }}"))
