"""CPU of executing a page's selection, per executor, with no I/O.

    .venv/bin/python -m bench.executor [--rounds 200] [--page workspace|dashboard]

``workspace`` (the default): the shape of the side-by-side benchmark's page (20 notes: six
leaves, an author and assignees through a DataLoader, members with their users);
``dashboard``: the deep dashboard's (50 notes of 4 workspaces, each note with its author and
its workspace's owner, members with their users, note count and tag counts). On an in-memory
Strawberry schema whose users and workspaces are document views (re-wrapped on each resolve,
as notes-bff's), executed alternately by strawberry's stock executor, by notes-bff's plain
leaf fields (``PlainFieldsExecutor``), by its subtree reuse on top (``ReusingExecutor``) and
by its planned execution (``PlannedExecutor``, what notes-bff serves), so that a busy machine
slows all alike. The resolvers here are coroutines (notes-bff's user and workspace fields
now return loader futures, which the planned executor awaits without a task: measured on
the whole server by ``bench.ab``). Prints
the median CPU microseconds per execution of each and their ratios: the execution's own cost,
which the whole-server figures of ``bench.compare`` carry among much else.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import statistics
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from inspect import isawaitable
from typing import Any

import strawberry
from aiodataloader import DataLoader
from graphql import execute, parse
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from notes_bff.execution.plain_fields import PlainFieldsExecutor
from notes_bff.execution.planned import PlannedExecutor
from notes_bff.execution.subtree_reuse import ReusingExecutor, document_view

PAGES = {
    "workspace": (
        "{ workspace { members { role user { id name } } notes { nodes { id title tags priority "
        "dueDate isPinned author { id name } assignees { id name } } } } }"
    ),
    "dashboard": (
        "{ recent { id title author { id name } workspace { name owner { id name } "
        "members { role user { id name } } noteCount tags { tag count } } } }"
    ),
}


@strawberry.enum
class Priority(enum.Enum):
    LOW = "LOW"
    HIGH = "HIGH"


@document_view
@strawberry.type
class User:
    id: strawberry.ID
    name: str
    doc: strawberry.Private[object]


_DOCS: dict[str, object] = {}  # stored documents by id: each loaded once, wrapped per resolve


async def _users(ids: list[str]) -> list[User]:
    return [
        User(id=strawberry.ID(i), name=f"user {i}", doc=_DOCS.setdefault(i, object())) for i in ids
    ]


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
    workspace_id: strawberry.Private[str] = "w0"

    @strawberry.field
    async def author(self, info: strawberry.Info) -> User:
        user: User = await info.context["users"].load(self.author_id)
        return user

    @strawberry.field
    async def assignees(self, info: strawberry.Info) -> list[User]:
        users: list[User] = await info.context["users"].load_many(self.assignee_ids)
        return users

    @strawberry.field
    async def workspace(self, info: strawberry.Info) -> Workspace:
        doc: WorkspaceDoc = await info.context["workspaces"].load(self.workspace_id)
        return Workspace.from_document(doc)


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
class TagCount:
    tag: str
    count: int


class WorkspaceDoc:
    """A stored workspace: 4-7 members, 17 tags."""

    def __init__(self, i: int) -> None:
        self.id, self.name, self.owner_id = f"w{i}", f"Workspace {i}", str(i)
        self.members = [Member(role="EDITOR", user_id=str(u)) for u in range(4 + i)]


@document_view
@strawberry.type
class Workspace:
    name: str
    members: list[Member]
    doc: strawberry.Private[WorkspaceDoc]

    @classmethod
    def from_document(cls, doc: WorkspaceDoc) -> Workspace:
        return cls(name=doc.name, members=doc.members, doc=doc)

    @strawberry.field
    async def owner(self, info: strawberry.Info) -> User:
        user: User = await info.context["users"].load(self.doc.owner_id)
        return user

    @strawberry.field
    async def note_count(self, info: strawberry.Info) -> int:
        count: int = await info.context["counts"].load(self.doc.id)
        return count

    @strawberry.field
    async def tags(self, info: strawberry.Info) -> list[TagCount]:
        counts: list[tuple[str, int]] = await info.context["tags"].load(self.doc.id)
        return [TagCount(tag=t, count=n) for t, n in counts]

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


WORKSPACES = {f"w{i}": WorkspaceDoc(i) for i in range(4)}


async def _workspaces(ids: list[str]) -> list[WorkspaceDoc]:
    return [WORKSPACES[i] for i in ids]


async def _counts(ids: list[str]) -> list[int]:
    return [50 for _ in ids]


async def _tags(ids: list[str]) -> list[list[tuple[str, int]]]:
    return [[(f"tag {t}", t) for t in range(17)] for _ in ids]


@strawberry.type
class Query:
    @strawberry.field
    async def workspace(self) -> Workspace:
        return Workspace.from_document(WorkspaceDoc(1))  # 5 members

    @strawberry.field
    async def recent(self) -> list[Note]:
        return [
            Note(
                id=strawberry.ID(f"n{i}"),
                title=f"Note {i}",
                tags=["a"],
                priority=Priority.LOW,
                due_date=None,
                is_pinned=False,
                author_id=str(i % 7),
                assignee_ids=[],
                workspace_id=f"w{i % 4}",
            )
            for i in range(50)
        ]


SCHEMA = strawberry.Schema(query=Query)


async def _execute(executor: type[StrawberryGraphQLCoreExecutionContext], page: str) -> Any:
    """The page, parsed and validated before (as notes-bff's document cache does), with
    fresh loaders (as per request), executed as strawberry calls graphql-core."""
    loaders: dict[str, Callable[[list[str]], Coroutine[Any, Any, list[Any]]]] = {
        "users": _users, "workspaces": _workspaces, "counts": _counts, "tags": _tags,
    }  # fmt: skip
    result = execute(
        SCHEMA._schema, DOCUMENTS[page],
        context_value={name: DataLoader(load) for name, load in loaders.items()},
        executor_class=executor,
        is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]  # as strawberry passes it
    )  # fmt: skip
    result = await result if isawaitable(result) else result
    assert result.errors is None, result.errors
    return result.data


DOCUMENTS = {name: parse(page) for name, page in PAGES.items()}
EXECUTORS: dict[str, type[StrawberryGraphQLCoreExecutionContext]] = {
    "strawberry": StrawberryGraphQLCoreExecutionContext,
    "plain fields": PlainFieldsExecutor,
    "reuse": ReusingExecutor,
    "planned": PlannedExecutor,
}


async def _compare(rounds: int, page: str) -> dict[str, list[float]]:
    first = [await _execute(executor, page) for executor in EXECUTORS.values()]
    assert all(data == first[0] for data in first), "the executors answer differently"
    samples: dict[str, list[float]] = {name: [] for name in EXECUTORS}
    for _ in range(rounds):
        for name, executor in EXECUTORS.items():
            started = time.process_time()
            await _execute(executor, page)
            samples[name].append((time.process_time() - started) * 1e6)
    return samples


def main() -> None:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200, help="executions of each (200)")
    parser.add_argument("--page", choices=sorted(PAGES), default="workspace", help="(workspace)")
    args = parser.parse_args()
    samples = asyncio.run(_compare(args.rounds, args.page))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, median in medians.items():
        print(f"{name:>12}: {median:7.0f} µs CPU per page (median of {args.rounds})")
    plain, reuse, planned = medians["plain fields"], medians["reuse"], medians["planned"]
    print(f"plain fields ÷ strawberry: {plain / medians['strawberry']:.2f}")
    print(f"reuse ÷ plain fields: {reuse / plain:.2f}")
    print(f"planned ÷ reuse: {planned / reuse:.2f}")
    print(f"planned ÷ strawberry: {planned / medians['strawberry']:.2f}")


if __name__ == "__main__":
    main()
