"""A repeated subtree is completed once per execution, and answers (data and errors, at
every path) exactly as graphql-core's plain execution does."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import strawberry
from aiodataloader import DataLoader
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from notes_bff.execution.plain_fields import PlainFieldsExecutor
from notes_bff.execution.subtree_reuse import ReusingExecutor, document_view
from tests.counting import Counted

CALLS: Counter[str] = Counter()  # resolver calls by name


@dataclass
class Doc:
    """A stored document, as a loader's cache holds it (the same object for each load)."""

    id: str
    name: str
    members: list[str]


DOCS = {
    "a": Doc("a", "Alpha", ["ann", "bob"]),
    "b": Doc("b", "Beta", ["cid"]),
    "bad": Doc("bad", "Broken", ["dan"]),
}


@strawberry.type
class Member:
    name: str

    @strawberry.field
    def upper(self) -> str:
        return self.name.upper()


@document_view
@strawberry.type
class Space:
    name: str
    doc: strawberry.Private[Doc]

    @strawberry.field
    def members(self) -> list[Member]:
        CALLS["members"] += 1
        return [Member(name=n) for n in self.doc.members]

    @strawberry.field
    async def count(self, info: strawberry.Info) -> int:
        CALLS["count"] += 1
        # shielded, as notes-bff's loaders: a cancelled awaiter leaves the others theirs
        count: int = await asyncio.shield(info.context["counts"].load(self.doc.id))
        return count

    @strawberry.field
    def broken(self) -> str | None:
        if self.doc.id == "bad":
            raise ValueError("broken space")
        return "fine"

    @strawberry.field
    async def strict(self) -> str:
        if self.doc.id == "bad":
            raise ValueError("strictly broken")
        return "fine"


def _space(doc: Doc) -> Space:
    return Space(name=doc.name, doc=doc)  # a new wrapper per call, as the schema's resolvers


@strawberry.type
class Note:
    id: strawberry.ID
    space_id: strawberry.Private[str]

    @strawberry.field
    async def space(self, info: strawberry.Info) -> Space | None:
        doc: Doc = await info.context["spaces"].load(self.space_id)
        return _space(doc)

    @strawberry.field
    def space_now(self) -> Space | None:
        return _space(DOCS[self.space_id])

    @strawberry.field
    def title(self) -> str:
        if self.id in ("n0", "n3"):
            raise ValueError("no title")
        return f"title {self.id}"

    @strawberry.field
    async def late(self, info: strawberry.Info) -> str:
        """Fails once the space counts are being loaded: while n0's space is completed."""
        if self.id != "n0":
            return "ok"
        info.context["late"] = True
        await info.context["counting"].wait()
        info.context["failed"].set()
        raise ValueError("late failure")


SPACE_IDS = ["a", "b", "a", "bad", "a", "b", "bad", "a"]


def _notes() -> list[Note | None]:
    return [Note(id=strawberry.ID(f"n{i}"), space_id=s) for i, s in enumerate(SPACE_IDS)]


@strawberry.type
class Query:
    @strawberry.field
    def notes(self) -> list[Note | None]:
        return _notes()


@strawberry.type
class Mutation:
    @strawberry.mutation
    def touch(self) -> list[Note | None]:
        return _notes()


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def batches(self) -> AsyncGenerator[list[Note | None], None]:
        for _ in range(2):
            yield _notes()


SPACES = Counted()  # the selection sets executed on a Space (one per completion)
Counting = SPACES.executor(ReusingExecutor)


def _context() -> dict[str, Any]:
    counting, failed = asyncio.Event(), asyncio.Event()
    context: dict[str, Any] = {"counting": counting, "failed": failed}

    async def spaces(ids: Sequence[str]) -> list[Doc]:
        return [DOCS[i] for i in ids]

    async def counts(ids: Sequence[str]) -> list[int]:
        if context.get("late"):  # let n0's `late` fail, and the failure cancel its space
            counting.set()
            await failed.wait()
            for _ in range(10):
                await asyncio.sleep(0)
        return [len(i) for i in ids]

    context.update(spaces=DataLoader(spaces), counts=DataLoader(counts))
    return context


def _run(executor: type[StrawberryGraphQLCoreExecutionContext], query: str) -> dict[str, Any]:
    schema = strawberry.Schema(
        query=Query, mutation=Mutation, subscription=Subscription, execution_context_class=executor
    )

    async def run() -> Any:
        # A hang guard, not a timing assertion: a waiter left waiting would never end.
        return await asyncio.wait_for(schema.execute(query, context_value=_context()), 30)

    CALLS.clear()
    SPACES.types.clear()
    result = asyncio.run(run())
    errors = [(e.message, e.path) for e in result.errors or []]
    return {"data": result.data, "errors": sorted(errors, key=str)}


SPACE = "space { name members { name upper } count }"
QUERIES = [
    "{ notes { id " + SPACE + " } }",
    "{ notes { id spaceNow { name members { name } count } } }",
    "{ notes { id " + SPACE + " again: space { name members { name upper } count } } }",
    "{ notes { id space { name broken members { name } } } }",
    "{ notes { id space { name strict members { name } } } }",
    "{ notes { id spaceNow { name broken strict } } }",
    # n0's and n3's titles fail (the notes are nulled) while their spaces, the first of "a"
    # and "bad", complete: graphql-core drops the error in n3's, n6's must still show it
    "{ notes { space { name broken members { name } count } title } }",
    # n0's `late` fails while its space's count loads: its completion is cancelled
    "{ notes { id space { name broken members { name } count } late } }",
    "{ notes { id space { name } } }",
    "mutation { touch { id " + SPACE + " } }",
]


@pytest.mark.parametrize("query", QUERIES)
def test_same_data_and_errors_at_the_same_paths_as_graphql_core(query: str) -> None:
    expected = _run(StrawberryGraphQLCoreExecutionContext, query)
    assert _run(ReusingExecutor, query) == expected
    assert _run(PlainFieldsExecutor, query) == expected


def test_an_error_in_a_repeated_subtree_shows_at_every_path() -> None:
    answer = _run(ReusingExecutor, "{ notes { id space { name broken members { name } } } }")
    paths = [path for message, path in answer["errors"] if message == "broken space"]
    assert sorted(paths) == [["notes", 3, "space", "broken"], ["notes", 6, "space", "broken"]]


def test_an_error_dropped_under_a_nulled_parent_still_shows_elsewhere() -> None:
    answer = _run(ReusingExecutor, QUERIES[6])
    assert answer["data"]["notes"][3] is None
    assert ("broken space", ["notes", 6, "space", "broken"]) in answer["errors"]
    assert not any(path[1] == 3 and "space" in path for _, path in answer["errors"])


def test_a_repeated_subtree_is_completed_once() -> None:
    for query in (QUERIES[0], QUERIES[1]):  # resolved by a loader (concurrently), or at once
        answer = _run(Counting, query)
        assert not answer["errors"]
        assert len(answer["data"]["notes"]) == len(SPACE_IDS)
        assert SPACES.of("Space") == CALLS["members"] == 3  # a, b, bad: once each
    _run(PlainFieldsExecutor, QUERIES[0])
    assert CALLS["members"] == CALLS["count"] == len(SPACE_IDS)


def test_two_positions_are_two_subtrees() -> None:
    _run(Counting, QUERIES[2])  # `space` and `again`: the same documents, other field nodes
    assert SPACES.of("Space") == CALLS["members"] == 2 * 3


def test_a_subtree_with_an_error_is_completed_at_each_occurrence() -> None:
    _run(Counting, QUERIES[3])
    assert SPACES.of("Space") == 2 + SPACE_IDS.count("bad")  # a and b once; bad each time


def test_a_cancelled_first_completion_leaves_the_others_to_complete_their_own() -> None:
    answer = _run(Counting, QUERIES[7])
    assert answer["data"]["notes"][0] is None  # n0 (late) nulled, its space's completion
    assert all(note["space"]["count"] for note in answer["data"]["notes"][1:])  # not lost
    # "a": n0's cancelled completion and the 3 other notes' own ones; b once; bad twice.
    assert SPACES.of("Space") == 4 + 1 + 2


def test_a_selection_of_plain_leaves_is_completed_again() -> None:
    _run(Counting, QUERIES[8])  # `{ name }` costs less to complete than to look up
    assert SPACES.of("Space") == len(SPACE_IDS)


def test_nothing_is_reused_in_a_mutation() -> None:
    _run(Counting, QUERIES[9])
    assert SPACES.of("Space") == CALLS["members"] == len(SPACE_IDS)


def test_each_subscription_event_completes_its_subtrees_once() -> None:
    schema = strawberry.Schema(
        query=Query, subscription=Subscription, execution_context_class=Counting
    )

    async def events() -> list[Any]:
        results = []
        stream = await schema.subscribe(
            "subscription { batches { " + SPACE + " } }", None, _context()
        )
        assert not isinstance(stream, strawberry.types.ExecutionResult)
        async for result in stream:
            assert not result.errors
            results.append(result.data)
        return results

    CALLS.clear()
    SPACES.types.clear()
    data = asyncio.run(events())
    assert len(data) == 2
    assert data[0] == data[1]
    assert SPACES.of("Space") == CALLS["members"] == 2 * 3  # once per document and event
