"""Sharding readiness: every hot notes query carries the shard key's prefix, ``workspace_id``
(docs/scaling.md, "The notes shard key"), or is a by-id read listed here with its reason.

Two views: the list query shapes of ``tests/test_indexes.py``, and every command a workload of
the hot operations (listing, dashboard, reading, writing notes) really sends to ``notes``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from pymongo import monitoring

from tests.conftest import Api
from tests.test_indexes import _pipelines, _shapes, world  # noqa: F401 - the fixture

SHARD_KEY_PREFIX = "workspace_id"
# Reads that cannot be targeted, each with why: a sharded cluster asks every shard.
SCATTER_GATHER = {
    ("find", ("_id",)): "note(id), and the note_by_id loader behind every by-id read "
    "(access checks, relations, events): a client names a note by its id alone",
}


class NotesCommands(monitoring.CommandListener):
    """The filter of every command sent to the ``notes`` collection (inserts carry the
    whole document, so the shard key, and are left out)."""

    def __init__(self) -> None:
        self.filters: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        command, name = event.command, event.command_name
        if command.get(name) != "notes":
            return
        if name == "find":
            self.filters.append((name, command["filter"]))
        elif name == "aggregate":
            self.filters.append((name, command["pipeline"][0].get("$match", {})))
        elif name == "count":
            self.filters.append((name, command.get("query", {})))
        elif name == "findAndModify":
            self.filters.append((name, command["query"]))
        elif name in {"update", "delete"}:
            key = "updates" if name == "update" else "deletes"
            self.filters += [(name, statement["q"]) for statement in command[key]]

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def _untargeted(filters: list[tuple[str, dict[str, Any]]]) -> set[tuple[str, tuple[str, ...]]]:
    """The shapes (command, filter keys) without the shard key's prefix, minus the listed
    scatter-gather reads."""
    shapes = {(name, tuple(sorted(flt))) for name, flt in filters if SHARD_KEY_PREFIX not in flt}
    return shapes - set(SCATTER_GATHER)


def test_every_list_query_shape_carries_the_shard_key(world: dict[str, Any]) -> None:  # noqa: F811
    filters = [
        ("find", flt) for collection, flt, _ in _shapes(world).values() if collection == "notes"
    ]
    filters += [("aggregate", pipeline[0]["$match"]) for pipeline in _pipelines(world).values()]
    assert len(filters) > 20
    assert _untargeted(filters) == set()


NOTES = "query($w: ID) { notes(workspaceId: $w, first: 2) { totalCount edges { node { id } } } }"
DASHBOARD = (
    "{ dashboard { pinned { id } dueSoon { id } overdue { id } recent { id } assignedToMe { id }"
    " stats { totalNotes topTags { tag } } } workspaces { noteCount tags { tag count } } }"
)


async def test_the_hot_operations_send_only_targeted_notes_commands(
    api: Api, other_app: Callable[..., AbstractAsyncContextManager[Api]]
) -> None:
    commands = NotesCommands()
    async with other_app(mongo_listeners=[commands], response_cache=False) as app:
        owner = await app.sign_up()
        ws = await app.workspace(owner)
        ids = [(await app.note(owner, ws, tags=["t"], isPinned=True))["id"] for _ in range(3)]
        await app.ok(NOTES, {"w": ws}, token=owner["token"])
        await app.ok(NOTES, {"w": None}, token=owner["token"])
        await app.ok(DASHBOARD, token=owner["token"])
        await app.ok(
            "query($id: ID!) { note(id: $id) { id } }", {"id": ids[0]}, token=owner["token"]
        )
        update = (
            'mutation($id: ID!) { updateNote(id: $id, input: {title: "x"}, expectedVersion: 1) '
            "{ version } }"
        )
        await app.ok(update, {"id": ids[0]}, token=owner["token"])
        stale = await app.gql(update, {"id": ids[0]}, token=owner["token"])
        assert stale.codes == ["CONFLICT"]
        await app.ok(
            "mutation($ids: [ID!]!) { bulkUpdateNotes(ids: $ids, input: {isPinned: false}) "
            "{ succeededIds } }",
            {"ids": ids[1:]},
            token=owner["token"],
        )
        await app.ok(
            "mutation($ids: [ID!]!) { bulkDeleteNotes(ids: $ids) { succeededIds } }",
            {"ids": ids[1:]},
            token=owner["token"],
        )
        await app.ok(
            "mutation($id: ID!) { deleteNote(id: $id) }", {"id": ids[0]}, token=owner["token"]
        )
    kinds = {name for name, _ in commands.filters}
    assert {"find", "aggregate", "findAndModify", "update", "delete"} <= kinds
    assert _untargeted(commands.filters) == set()
