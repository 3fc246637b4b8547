"""Batched dataloaders: a deep query's MongoDB round trips do not grow with its results."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import pytest
import strawberry

from notes_bff.execution.event_execution import SharedEventExecutor
from notes_bff.execution.plain_fields import PlainFieldsExecutor
from notes_bff.http.view import NotesGraphQLView
from tests.conftest import Api, CommandCounter
from tests.counting import Counted

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


@contextmanager
def _served_by(api: Api, executor: type[PlainFieldsExecutor]) -> Iterator[None]:
    """The application's schema executes with ``executor`` for a while."""
    views = [r.handler for r in api.client.app.router.routes()]
    view = next(v for v in views if isinstance(v, NotesGraphQLView))
    schema = cast("strawberry.Schema", view.schema)
    served = schema.execution_context_class
    schema.execution_context_class = executor
    try:
        yield
    finally:
        schema.execution_context_class = served


async def test_the_deep_dashboard_completes_each_workspace_once_and_answers_the_same(
    api: Api, crowd: dict[str, Any]
) -> None:
    """Reused subtrees (execution/subtree_reuse.py) against plain execution: the same
    answer, with the 50 notes' workspaces and their members' users completed once each.
    The operation names differ so that the response cache answers neither from the other."""
    token, variables = crowd["owner"]["token"], {"n": 50}
    reused, plain = Counted(), Counted()
    with _served_by(api, reused.executor(SharedEventExecutor)):
        with_reuse = await api.ok(
            DASHBOARD.replace("query(", "query Reused("), variables, token=token
        )
    with _served_by(api, plain.executor(PlainFieldsExecutor)):
        without = await api.ok(DASHBOARD.replace("query(", "query Plain("), variables, token=token)
    assert with_reuse == without
    notes = with_reuse["dashboard"]["recent"]
    assert len(notes) == 50
    assert plain.types["Workspace"] == 50 + 2  # every note's, and stats.byWorkspace's two
    assert reused.types["Workspace"] == 2 + 2  # the two workspaces once, and byWorkspace's
    # 54 members each (the owner, 3 readers, 50 authors): their users and the owner's are
    # completed with their workspace; a user's { name } alone is never reused
    assert plain.types["Member"] == 50 * 54
    assert reused.types["Member"] == 2 * 54
    assert plain.types["User"] - reused.types["User"] == (50 - 2) * (54 + 1)
