"""A planned query answers exactly as graphql-core does (data, errors and their paths), with
fewer tasks, the same loader batches and repeated subtrees completed once."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any

import pytest
import strawberry
from aiodataloader import DataLoader
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from notes_bff.execution.planned import PlannedExecutor
from tests.unit.execution.test_subtree_reuse import (
    CALLS,
    DOCS,
    QUERIES,
    SPACE_IDS,
    Mutation,
    Query,
    Subscription,
    _context,
)

# Beyond the reuse tests' queries: what the plan leaves to graphql-core (directives, abstract
# types are not in this schema), fragments, aliases, __typename, arguments from variables.
MORE = [
    "{ notes { id space @include(if: true) { name } } }",
    "query($yes: Boolean!) { notes { id space @skip(if: $yes) { name } } }",
    "{ notes { ...N } } fragment N on Note { id t: __typename space { ...S } } "
    "fragment S on Space { name members { upper } }",
    "{ notes { id } __typename }",
    "{ first: notes { id } second: notes { spaceNow { name } } }",
    "query($n: Int!) { count(n: $n) rootKind }",
    "{ notes { id space { name } } broken: count(n: -1) }",
]


@strawberry.type
class ArgQuery(Query):
    @strawberry.field
    def root_kind(self, root: Any, info: strawberry.Info) -> str:
        return f"{type(root).__name__} {info.field_name}"

    @strawberry.field
    def count(self, n: int) -> int:
        if n < 0:
            raise ValueError("negative")
        return n


def _answer(executor: type[StrawberryGraphQLCoreExecutionContext], query: str) -> Any:
    schema = strawberry.Schema(
        query=ArgQuery, mutation=Mutation, subscription=Subscription,
        execution_context_class=executor,
    )  # fmt: skip
    variables = {"yes": True, "n": 3}

    async def run() -> Any:
        # A hang guard, not a timing assertion.
        execution = schema.execute(query, variable_values=variables, context_value=_context())
        return await asyncio.wait_for(execution, 30)

    CALLS.clear()
    result = asyncio.run(run())
    errors = sorted(((e.message, e.path) for e in result.errors or []), key=str)
    return {"data": result.data, "errors": errors}


@pytest.mark.parametrize("query", QUERIES + MORE)
def test_same_data_and_errors_at_the_same_paths_as_graphql_core(query: str) -> None:
    assert _answer(PlannedExecutor, query) == _answer(StrawberryGraphQLCoreExecutionContext, query)


def test_keys_keep_the_selection_order_when_fields_complete_later() -> None:
    answer = _answer(PlannedExecutor, "{ notes { space { count name members { name } } } }")
    assert list(answer["data"]["notes"][0]["space"]) == ["count", "name", "members"]


def test_a_repeated_subtree_is_completed_once() -> None:
    for query in (QUERIES[0], QUERIES[1]):
        answer = _answer(PlannedExecutor, query)
        assert not answer["errors"]
        assert CALLS["members"] == len(DOCS)  # a, b, bad: once each, not per note
    _answer(PlannedExecutor, QUERIES[2])  # two positions: two subtrees each
    assert CALLS["members"] == 2 * len(DOCS)


class _Tasks:
    """Counts the tasks the event loop creates (a task factory)."""

    def __init__(self) -> None:
        self.created = 0

    def __call__(
        self,
        loop: asyncio.AbstractEventLoop,
        coro: Generator[Any, None, Any] | Coroutine[Any, Any, Any],
    ) -> asyncio.Task[Any]:
        self.created += 1
        return asyncio.Task(coro, loop=loop)


@strawberry.type
class Person:
    name: str


@strawberry.type
class Item:
    id: int

    @strawberry.field(graphql_type=Person)
    def owner(self, info: strawberry.Info) -> Awaitable[Person]:
        people: DataLoader[int, Person] = info.context["people"]
        return people.load(self.id % 3)  # a future, as notes-bff's user fields return

    @strawberry.field(graphql_type=list[Person])
    def watchers(self, info: strawberry.Info) -> Awaitable[list[Person]]:
        people: DataLoader[int, Person] = info.context["people"]
        return people.load_many([self.id % 2, self.id % 5])


@strawberry.type
class Items:
    @strawberry.field
    def items(self, info: strawberry.Info) -> list[Item]:
        return [Item(id=i) for i in range(info.context["items"])]


def _tasks(executor: type[StrawberryGraphQLCoreExecutionContext], items: int) -> int:
    schema = strawberry.Schema(query=Items, execution_context_class=executor)
    tasks = _Tasks()

    async def people(ids: list[int]) -> list[Person]:
        return [Person(name=f"person {i}") for i in ids]

    async def run() -> Any:
        asyncio.get_running_loop().set_task_factory(tasks)
        query = "{ items { id owner { name } watchers { name } } }"
        context = {"people": DataLoader(people), "items": items}
        result = await schema.execute(query, context_value=context)
        assert not result.errors
        return result.data

    data = asyncio.run(run())
    assert data["items"][7] == {
        "id": 7, "owner": {"name": "person 1"},
        "watchers": [{"name": "person 1"}, {"name": "person 2"}],
    }  # fmt: skip
    return tasks.created


def test_a_planned_query_makes_no_task_per_field_object_or_list() -> None:
    # Items with two fields each resolved by a loader's future: graphql-core runs each
    # item's completion and each field's in a task; the plan awaits the futures themselves:
    # its tasks (the loader's dispatch and batch) do not grow with the items.
    assert _tasks(PlannedExecutor, 10) == _tasks(PlannedExecutor, 40) <= 4
    assert _tasks(StrawberryGraphQLCoreExecutionContext, 40) >= 40 * 2


def test_loads_of_one_depth_share_one_batch() -> None:
    batches: list[list[str]] = []

    async def run() -> None:
        schema = strawberry.Schema(query=Query, execution_context_class=PlannedExecutor)
        context = _context()
        spaces = context["spaces"]

        async def recorded(ids: list[str]) -> list[Any]:
            batches.append(list(ids))
            return [DOCS[i] for i in ids]

        context["spaces"] = DataLoader(recorded)
        assert spaces is not context["spaces"]
        result = await schema.execute("{ notes { space { name count } } }", context_value=context)
        assert not result.errors

    asyncio.run(run())
    assert batches == [sorted(set(SPACE_IDS), key=SPACE_IDS.index)]


class _Context(dict[str, Any]):
    """A context that can be referred to weakly."""


def test_a_planned_query_leaves_its_context_to_reference_counting() -> None:
    async def people(ids: list[int]) -> list[Person]:
        return [Person(name=f"person {i}") for i in ids]

    def freed(executor: type[StrawberryGraphQLCoreExecutionContext]) -> bool:
        schema = strawberry.Schema(query=Items, execution_context_class=executor)

        async def run() -> weakref.ref[_Context]:
            context = _Context(people=DataLoader(people), items=5)
            result = await schema.execute("{ items { owner { name } } }", context_value=context)
            assert not result.errors
            return weakref.ref(context)

        gc.collect()
        gc.disable()  # freed at the end of the request, not by the garbage collector
        try:
            return asyncio.run(run())() is None
        finally:
            gc.enable()

    assert freed(PlannedExecutor)
    assert not freed(StrawberryGraphQLCoreExecutionContext)  # graphql-core's own cycle
