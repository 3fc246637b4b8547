"""Which collection a routed document reads from, by class of read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bson import Timestamp

from notes_bff.models.read_routing import (
    ReadAfter,
    RoutedReads,
    installed,
    list_reads,
    on_primary,
    reading_after,
)

AFTER = ReadAfter(Timestamp(1_800_000_000, 1), {"clusterTime": Timestamp(1_800_000_000, 1)})


class _Stored:
    @classmethod
    def get_pymongo_collection(cls) -> Any:
        return "primary"


class Doc(RoutedReads, _Stored):
    """A document whose Beanie collection is "primary"."""


class Route:
    """Sends list reads to "replica"; records the points its sessions read after."""

    def __init__(self) -> None:
        self.sessions: list[ReadAfter] = []

    def collection(self, primary: Any) -> Any:
        return f"replica of {primary}"

    @asynccontextmanager
    async def causal_session(self, after: ReadAfter) -> AsyncIterator[Any]:
        self.sessions.append(after)
        yield f"session after {after.operation_time.time}"


async def test_without_a_route_every_read_is_on_the_primary() -> None:
    async with list_reads() as session:
        assert Doc.get_pymongo_collection() == "primary"
        assert session is None


async def test_only_list_reads_follow_the_route() -> None:
    route = Route()
    with installed(route):
        assert Doc.get_pymongo_collection() == "primary"
        async with list_reads() as session:
            assert Doc.get_pymongo_collection() == "replica of primary"
            assert session is None
        assert Doc.get_pymongo_collection() == "primary"
    async with list_reads():
        assert Doc.get_pymongo_collection() == "primary"
    assert route.sessions == []


async def test_a_request_with_a_token_lists_in_a_causal_session() -> None:
    route = Route()
    with installed(route), reading_after(AFTER):
        async with list_reads() as session:
            assert str(session) == "session after 1800000000"
    with installed(route):
        async with list_reads() as session:
            assert session is None
    assert route.sessions == [AFTER]


async def test_the_route_installed_before_comes_back() -> None:
    first, second = Route(), Route()
    second.collection = lambda primary: "second"  # type: ignore[method-assign]
    with installed(first):
        with installed(second):
            async with list_reads():
                assert Doc.get_pymongo_collection() == "second"
        async with list_reads():
            assert Doc.get_pymongo_collection() == "replica of primary"


async def test_what_renders_a_write_reads_on_the_primary() -> None:
    route = Route()
    with installed(route), reading_after(AFTER), on_primary():
        async with list_reads() as session:
            assert Doc.get_pymongo_collection() == "primary"
            assert session is None
    assert route.sessions == []
