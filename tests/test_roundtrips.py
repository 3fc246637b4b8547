"""Batched dataloaders: a deep query's MongoDB round trips do not grow with its results."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api, CommandCounter

NOTE = (
    "title author { name email } assignees { name } mentions { name } lastEditedBy { name } "
    "workspace { name owner { name } members { role user { name } } noteCount tags { tag count } }"
)
DASHBOARD = (
    "query($n: Int) { dashboard { recent(first: $n) { "
    + NOTE
    + " } stats { totalNotes pinnedNotes "
    "overdueNotes dueThisWeek byPriority { priority count } byWorkspace { workspace { name } count } "
    "topTags { tag count } } } }"
)
WORKSPACE = (
    "query($w: ID!, $n: Int) { workspace(id: $w) { notes(first: $n) { totalCount nodes { "
    + NOTE
    + " } } } }"
)
# What the deep queries cost, whatever N is (the bound this test holds the code to):
# the viewer's workspaces, the workspace by id (workspace query only), the notes page,
# totalCount or stats (one aggregation), users twice (authors/assignees/mentions, then the
# members' users found one level deeper), note counts, tag counts.
MAX_ROUND_TRIPS = {"dashboard": 7, "workspace notes": 8}


@pytest.fixture(scope="module")
async def crowd(api_module: Api) -> dict[str, Any]:
    """Two workspaces; 50 notes, each by a different author, with assignees and mentions.

    Like real teams, the workspaces also have members who write nothing (readers), so the
    members' users are never all among the notes' authors whatever N is.
    """
    owner = await api_module.sign_up("Owner")
    spaces = [await api_module.workspace(owner, "Big"), await api_module.workspace(owner, "Side")]
    for i in range(3):
        reader = await api_module.sign_up(f"Reader {i}")
        for ws in spaces:
            await api_module.add(owner, ws, reader, "VIEWER")
    authors = []
    for i in range(50):
        author = await api_module.sign_up(f"Author {i}")
        for ws in spaces:
            await api_module.add(owner, ws, author, "EDITOR")
        authors.append(author)
    for i, author in enumerate(authors):
        mates = [authors[(i + 1) % 50]["id"], authors[(i + 2) % 50]["id"]]
        await api_module.note(
            author,
            spaces[i % 2],
            title=f"note {i}",
            tags=[f"t{i % 7}"],
            assigneeIds=mates,
            mentionIds=mates[:1],
        )
    return {"owner": owner, "ws": spaces[0]}


async def _count(
    api: Api, counter: CommandCounter, query: str, variables: dict[str, Any], token: str
) -> tuple[int, Any]:
    counter.reset()
    data = await api.ok(query, variables, token=token)
    return len(counter.data_commands()), data


@pytest.mark.parametrize(
    ("name", "query"), [("dashboard", DASHBOARD), ("workspace notes", WORKSPACE)]
)
async def test_round_trips_do_not_grow_with_n(
    api: Api, command_counter: CommandCounter, crowd: dict[str, Any], name: str, query: str
) -> None:
    token = crowd["owner"]["token"]
    small, _ = await _count(api, command_counter, query, {"n": 5, "w": crowd["ws"]}, token)
    large, large_data = await _count(
        api, command_counter, query, {"n": 50, "w": crowd["ws"]}, token
    )
    nodes = (
        large_data["dashboard"]["recent"]
        if name == "dashboard"
        else large_data["workspace"]["notes"]["nodes"]
    )
    assert len(nodes) >= 25  # the large query really returned many notes by distinct authors
    assert len({n["author"]["name"] for n in nodes}) == len(nodes)
    assert small == large, (name, small, large)
    assert large <= MAX_ROUND_TRIPS[name], (name, large)
    print(f"{name}: {small} MongoDB commands for N=5, {large} for N=50")


async def test_notifying_many_people_reads_their_preferences_at_once(
    api: Api, command_counter: CommandCounter
) -> None:
    owner = await api.sign_up()
    members = [await api.sign_up() for _ in range(5)]
    ws = await api.workspace(owner)
    for member in members:
        await api.add(owner, ws, member, "EDITOR")
    command_counter.reset()
    await api.note(owner, ws, title="Team", assigneeIds=[m["id"] for m in members])
    reads = [t for t in command_counter.targets if t == "find:notification_preferences"]
    assert len(reads) == 1  # ASSIGNED to five people: one read of their preferences
