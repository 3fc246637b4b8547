"""The one connection shape of every list: edges, nodes, page info and a total count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Self, TypeVar

import strawberry

from notes_bff.pagination import Page

N = TypeVar("N")


@strawberry.type
class PageInfo:
    """Where a page ends and whether another follows."""

    has_next_page: bool
    end_cursor: str | None

    @classmethod
    def of(cls, page: Page[Any]) -> PageInfo:
        """The page info of a keyset page."""
        return cls(
            has_next_page=page.has_next_page,
            end_cursor=page.end_cursor,
        )


@strawberry.type
class Edge(Generic[N]):
    """An item and its cursor."""

    cursor: str
    node: N


def _edges(self: Connection[N]) -> list[Edge[N]]:
    """The edges, made when asked for (each encodes its item's cursor)."""
    return [Edge(cursor=c, node=n) for c, n in zip(self.page.cursors, self.nodes, strict=True)]


@strawberry.type
class Connection(Generic[N]):
    """A keyset page of items; ``totalCount`` is counted only when asked for."""

    edges: list[Edge[N]] = strawberry.field(resolver=_edges)
    nodes: list[N]
    page_info: PageInfo
    page: strawberry.Private[Page[Any]]

    @classmethod
    def wrap(cls, page: Page[Any], node: Callable[[Any], N]) -> Self:
        """A connection over ``page``, each stored item wrapped by ``node``."""
        return cls(
            nodes=[node(item) for item in page.items], page_info=PageInfo.of(page), page=page
        )

    @strawberry.field(description="All matching items; counted only when asked for.")
    async def total_count(self) -> int:
        return await self.page.count()
