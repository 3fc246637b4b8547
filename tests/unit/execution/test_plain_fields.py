"""Plain leaf fields read directly answer exactly as graphql-core's full path does."""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import Any

import pytest
import strawberry
from strawberry.permission import BasePermission
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from notes_bff.execution.plain_fields import PlainFieldsExecutor


class Refuse(BasePermission):
    message = "refused"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.enum
class Color(enum.Enum):
    RED = "red"


@dataclass
class Row:
    id: str
    title: Any
    tags: Any
    color: Any
    note: Any = None


@strawberry.type
class Item:
    id: strawberry.ID
    title: str
    tags: list[str]
    color: Color
    note: str | None
    secret: str = strawberry.field(default="hidden", permission_classes=[Refuse])

    @strawberry.field
    async def shout(self) -> str:
        return self.title.upper()


ROWS = [
    Row("1", "a", ["x", "y"], Color.RED, "n"),
    Row("2", None, ["x"], Color.RED),  # a null for a non-null String
    Row("3", "c", ["x", None], Color.RED),  # a null item in a list of non-null Strings
    Row("4", "d", ["x"], "not a color"),  # an enum value that does not serialize
]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        return [
            Item(id=strawberry.ID(r.id), title=r.title, tags=r.tags, color=r.color, note=r.note)
            for r in ROWS
        ]

    @strawberry.field
    def one(self) -> Item:
        return Item(id=strawberry.ID("9"), title=None, tags=[], color=Color.RED, note=None)  # type: ignore[arg-type]


class CountingInfos(PlainFieldsExecutor):
    """Counts the resolve infos built (one per field that goes through graphql-core)."""

    built = 0

    def build_resolve_info(self, *args: Any) -> Any:
        CountingInfos.built += 1
        return super().build_resolve_info(*args)


def _run(executor: type[StrawberryGraphQLCoreExecutionContext], query: str) -> dict[str, Any]:
    schema = strawberry.Schema(query=Query, execution_context_class=executor)
    result = asyncio.run(schema.execute(query))
    errors = [(e.message, e.path) for e in result.errors or []]
    return {"data": result.data, "errors": sorted(errors, key=str)}


QUERIES = [
    "{ items { id title tags color note shout } }",
    "{ items { id alias: title t2: tags __typename } }",
    "{ items { id secret } }",
    "{ one { id title } }",
    "{ items { id title @skip(if: true) tags @include(if: false) } }",
]


@pytest.mark.parametrize("query", QUERIES)
def test_same_answer_and_errors_as_graphql_core(query: str) -> None:
    expected = _run(StrawberryGraphQLCoreExecutionContext, query)
    assert _run(PlainFieldsExecutor, query) == expected
    assert expected["errors"] or "secret" not in query


def test_a_field_with_a_permission_still_refuses() -> None:
    answer = _run(PlainFieldsExecutor, "{ items { id secret } }")
    assert answer["data"] == {"items": [None, None, None, None]}
    assert [message for message, _ in answer["errors"]] == ["refused"] * 4


def test_plain_leaves_build_no_resolve_info() -> None:
    CountingInfos.built = 0
    _run(CountingInfos, "{ items { id title tags color note } }")
    assert CountingInfos.built == 1  # `items` only: its 4 x 5 plain leaves read directly
    CountingInfos.built = 0
    _run(CountingInfos, "{ items { id shout secret } }")
    assert CountingInfos.built == 1 + 4 * 2  # resolvers and permissions keep theirs
