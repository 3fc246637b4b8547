"""CPU of executing a workspace page's selection, per executor, with no I/O.

    .venv/bin/python -m bench.executor [--rounds 200]

The shape of the side-by-side benchmark's page (20 notes: six leaves, an author and
assignees through a DataLoader, members with their users) on an in-memory Strawberry schema,
executed alternately by strawberry's stock executor and by notes-bff's
(``PlainFieldsExecutor``), so that a busy machine slows both alike. Prints the median CPU
microseconds per execution of each and their ratio: the execution's own cost, which the
whole-server figures of ``bench.compare`` carry among much else.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import statistics
import time
from datetime import UTC, datetime
from inspect import isawaitable
from typing import Any

import strawberry
from aiodataloader import DataLoader
from graphql import execute, parse
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from notes_bff.execution.plain_fields import PlainFieldsExecutor

PAGE = (
    "{ workspace { members { role user { id name } } notes { nodes { id title tags priority "
    "dueDate isPinned author { id name } assignees { id name } } } } }"
)


@strawberry.enum
class Priority(enum.Enum):
    LOW = "LOW"
    HIGH = "HIGH"


@strawberry.type
class User:
    id: strawberry.ID
    name: str


async def _users(ids: list[str]) -> list[User]:
    return [User(id=strawberry.ID(i), name=f"user {i}") for i in ids]


@strawberry.type
class Note:
    id: strawberry.ID
    title: str
    tags: list[str]
    priority: Priority
    due_date: datetime | None
    is_pinned: bool
    author_id: strawberry.Private[str]
    assignee_ids: strawberry.Private[list[str]]

    @strawberry.field
    async def author(self, info: strawberry.Info) -> User:
        user: User = await info.context["users"].load(self.author_id)
        return user

    @strawberry.field
    async def assignees(self, info: strawberry.Info) -> list[User]:
        users: list[User] = await info.context["users"].load_many(self.assignee_ids)
        return users


@strawberry.type
class Member:
    role: str
    user_id: strawberry.Private[str]

    @strawberry.field
    async def user(self, info: strawberry.Info) -> User:
        user: User = await info.context["users"].load(self.user_id)
        return user


@strawberry.type
class Notes:
    nodes: list[Note]


@strawberry.type
class Workspace:
    members: list[Member]

    @strawberry.field
    async def notes(self) -> Notes:
        due = datetime(2026, 12, 1, tzinfo=UTC)
        return Notes(
            nodes=[
                Note(
                    id=strawberry.ID(f"n{i}"),
                    title=f"Note {i}",
                    tags=["a", "b"],
                    priority=Priority.HIGH,
                    due_date=due if i % 2 else None,
                    is_pinned=i == 0,
                    author_id=str(i % 4),
                    assignee_ids=[str(i % 3), str(i % 5)],
                )
                for i in range(20)
            ]
        )


@strawberry.type
class Query:
    @strawberry.field
    async def workspace(self) -> Workspace:
        return Workspace(members=[Member(role="EDITOR", user_id=str(i)) for i in range(5)])


SCHEMA = strawberry.Schema(query=Query)
DOCUMENT = parse(PAGE)


async def _execute(executor: type[StrawberryGraphQLCoreExecutionContext]) -> Any:
    """The page, parsed and validated before (as notes-bff's document cache does), with
    fresh loaders (as per request), executed as strawberry calls graphql-core."""
    result = execute(
        SCHEMA._schema, DOCUMENT, context_value={"users": DataLoader(_users)},
        executor_class=executor,
        is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]  # as strawberry passes it
    )  # fmt: skip
    result = await result if isawaitable(result) else result
    assert result.errors is None, result.errors
    return result.data


async def _compare(rounds: int) -> dict[str, list[float]]:
    executors = {"strawberry": StrawberryGraphQLCoreExecutionContext}
    executors["notes-bff"] = PlainFieldsExecutor
    first = [await _execute(executor) for executor in executors.values()]
    assert all(data == first[0] for data in first), "the executors answer differently"
    samples: dict[str, list[float]] = {name: [] for name in executors}
    for _ in range(rounds):
        for name, executor in executors.items():
            started = time.process_time()
            await _execute(executor)
            samples[name].append((time.process_time() - started) * 1e6)
    return samples


def main() -> None:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200, help="executions of each (200)")
    args = parser.parse_args()
    samples = asyncio.run(_compare(args.rounds))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, median in medians.items():
        print(f"{name:>10}: {median:7.0f} µs CPU per page (median of {args.rounds})")
    print(f"     ratio: {medians['notes-bff'] / medians['strawberry']:.2f}")


if __name__ == "__main__":
    main()
