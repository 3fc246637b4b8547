"""Note lists read a note's Markdown content only when a selected field needs it, and a
field that needs it is never served from a note read without it (docs/indexes.md,
"Projections")."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from tests.conftest import Api, ReadLog

OtherApp = Callable[..., AbstractAsyncContextManager[Api]]
BODY = "# Plan\n\nShip the **projection** on Friday."


def _listings(log: ReadLog) -> list[dict[str, Any]]:
    """The note reads that list (a page or a dashboard section), not reads by id."""
    return [r for r in log.of("notes") if "find" in r and "_id" not in r["filter"]]


def _reads_content(read: dict[str, Any]) -> bool:
    projection = read.get("projection")
    return projection is None or "content" in projection


async def _world(api: Api) -> tuple[dict[str, Any], str]:
    owner = await api.sign_up()
    ws = await api.workspace(owner)
    await api.note(owner, ws, title="plan", content=BODY, isPinned=True)
    return owner, ws


async def _ask(
    other_app: OtherApp, owner: dict[str, Any], query: str, ws: str
) -> tuple[Any, ReadLog]:
    log = ReadLog()
    async with other_app(mongo_listeners=[log]) as other:
        data = await other.ok(query, {"id": ws}, token=owner["token"])
    return data, log


async def test_a_page_without_content_fields_does_not_fetch_content(
    api: Api, other_app: OtherApp
) -> None:
    owner, ws = await _world(api)
    page = (
        "query($id: ID!) { workspace(id: $id) { notes { nodes { title tags author { name } } } } }"
    )
    data, log = await _ask(other_app, owner, page, ws)
    assert data["workspace"]["notes"]["nodes"][0]["title"] == "plan"
    [listing] = _listings(log)
    assert not _reads_content(listing), listing.get("projection")
    assert [r for r in log.of("notes") if "_id" in r.get("filter", {})] == []  # no read by id


async def test_content_fields_get_the_content_from_the_list_read(
    api: Api, other_app: OtherApp
) -> None:
    owner, ws = await _world(api)
    page = """query($id: ID!) { workspace(id: $id) { notes { nodes { title ...Body } } } }
              fragment Body on Note { content excerpt(length: 40) }"""
    data, log = await _ask(other_app, owner, page, ws)
    [node] = data["workspace"]["notes"]["nodes"]
    assert node["content"] == BODY
    assert node["excerpt"].startswith("Plan")
    [listing] = _listings(log)
    assert _reads_content(listing)


async def test_one_request_listing_with_and_without_content(api: Api, other_app: OtherApp) -> None:
    owner, ws = await _world(api)
    both = """query($id: ID!) { workspace(id: $id) {
                bare: notes { nodes { id title } }
                full: notes { nodes { id contentHtml } } } }"""
    data, log = await _ask(other_app, owner, both, ws)
    assert data["workspace"]["bare"]["nodes"][0]["title"] == "plan"
    assert "<strong>projection</strong>" in data["workspace"]["full"]["nodes"][0]["contentHtml"]
    assert sorted(_reads_content(r) for r in _listings(log)) == [False, True]


async def test_dashboard_sections_fetch_content_only_where_shown(
    api: Api, other_app: OtherApp
) -> None:
    owner, _ = await _world(api)
    query = "query { dashboard { pinned { title } recent { excerpt(length: 20) } } }"
    log = ReadLog()
    async with other_app(mongo_listeners=[log]) as other:
        data = await other.ok(query, token=owner["token"])
    assert data["dashboard"]["pinned"][0]["title"] == "plan"
    assert data["dashboard"]["recent"][0]["excerpt"].startswith("Plan")
    by_section = {"is_pinned" in r["filter"]: _reads_content(r) for r in _listings(log)}
    assert by_section == {True: False, False: True}  # pinned: no content; recent: content
