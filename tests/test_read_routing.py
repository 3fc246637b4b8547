"""Read routing against a deliberately stale "secondary": a second SecantusDB holding an older
copy of the data, named by NOTES_BFF_MONGODB_LIST_READ_URI (docs/scaling.md).

Authorization and by-id reads never see the stale copy; list reads do (that is what they
are allowed); with a consistency token, their reads ask to observe the caller's write.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId, Timestamp
from pymongo import AsyncMongoClient, IndexModel, monitoring

from notes_bff.auth.consistency import decode_token, token_key
from notes_bff.config import Settings
from notes_bff.embedded import EmbeddedProcess, secantus
from tests.conftest import Api
from tests.subscriptions_helpers import socket, team

HEADER = "X-Notes-Consistency"
COPIED = ("users", "workspaces", "notes", "notifications")
NOTE = "query($id: ID!) { note(id: $id) { title } }"
NOTES = "query($w: ID) { notes(workspaceId: $w) { totalCount edges { node { id title } } } }"
STATS = "{ dashboard { stats { totalNotes } } }"
INBOX = "{ notifications { totalCount unreadCount } }"
RENAME = "mutation($id: ID!, $t: String!) { updateNote(id: $id, input: {title: $t}) { title } }"
INDEX_OPTIONS = ("unique", "sparse", "expireAfterSeconds", "partialFilterExpression")


class Commands(monitoring.CommandListener):
    """The commands each server received (by port), and the primary's write replies."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, dict[str, Any]]] = []
        self.write_times: list[Timestamp] = []

    def started_on(self, port: int, name: str) -> list[dict[str, Any]]:
        return [c for p, c in self.seen if p == port and name in c]

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.seen.append((event.connection_id[1] or 0, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if event.command_name in {"update", "findAndModify", "insert"}:
            self.write_times.append(event.reply["operationTime"])

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture(scope="module")
def stale_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedProcess]:
    server = secantus(Path(tmp_path_factory.mktemp("stale")))
    server.start()
    yield server
    server.stop()


async def _count_on_primary(settings: Settings, collection: str, flt: dict[str, Any]) -> int:
    client: AsyncMongoClient[Any] = AsyncMongoClient(settings.mongodb_uri)
    try:
        ids = {k: ObjectId(v) for k, v in flt.items()}
        return await client[settings.mongodb_db][collection].count_documents(ids)
    finally:
        await client.close()


def _options(index: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in index.items() if k in INDEX_OPTIONS}


async def copy_to_stale(settings: Settings, stale: EmbeddedProcess) -> None:
    """The stale server becomes a copy of the primary's data as of now (indexes included:
    the application hints them)."""
    primary: AsyncMongoClient[Any] = AsyncMongoClient(settings.mongodb_uri)
    copy: AsyncMongoClient[Any] = AsyncMongoClient(stale.url)
    try:
        for name in COPIED:
            source, target = primary[settings.mongodb_db][name], copy[settings.mongodb_db][name]
            await target.drop()
            documents = await source.find({}).to_list()
            if documents:
                await target.insert_many(documents)
            indexes = [
                IndexModel(list(info["key"]), name=index_name, **_options(info))
                for index_name, info in (await source.index_information()).items()
                if index_name != "_id_"
            ]
            if indexes:
                await target.create_indexes(indexes)
    finally:
        await primary.close()
        await copy.close()


@pytest.fixture
async def routed(
    other_app: Callable[..., AbstractAsyncContextManager[Api]], stale_server: EmbeddedProcess
) -> AsyncIterator[tuple[Api, Commands]]:
    """An application whose list reads go to the stale server."""
    commands = Commands()
    async with other_app(
        mongo_listeners=[commands],
        mongodb_list_read_uri=stale_server.url,
        mongodb_list_read_preference="secondaryPreferred",
    ) as api:
        yield api, commands


async def test_authorization_and_by_id_reads_are_fresh_while_lists_may_be_stale(
    api: Api,
    routed: tuple[Api, Commands],
    settings: Settings,
    stale_server: EmbeddedProcess,
) -> None:
    app, commands = routed
    owner, joiner, leaver = await api.sign_up(), await api.sign_up(), await api.sign_up()
    ws = await api.workspace(owner)
    await api.add(owner, ws, leaver, "EDITOR")
    note = await api.note(owner, ws, title="before")
    await copy_to_stale(settings, stale_server)

    await api.add(owner, ws, joiner, "EDITOR")
    await api.ok(
        'mutation($id: ID!, $u: ID!) { updateNote(id: $id, input: {title: "after", '
        "assigneeIds: [$u]}) { title } }",
        {"id": note["id"], "u": joiner["id"]},
        token=owner["token"],
    )
    await api.note(owner, ws, title="second")
    await api.ok(
        "mutation($w: ID!, $u: ID!) { removeMember(workspaceId: $w, userId: $u) }",
        {"w": ws, "u": leaver["id"]},
        token=owner["token"],
    )
    commands.seen.clear()

    # The note itself, and who may read it, come from the primary.
    fresh = await app.ok(NOTE, {"id": note["id"]}, token=joiner["token"])
    assert fresh["note"]["title"] == "after"
    refused = await app.gql(NOTE, {"id": note["id"]}, token=leaver["token"])
    assert refused.data == {"note": None} and not refused.errors
    shut_out = (await app.ok(NOTES, {"w": ws}, token=leaver["token"]))["notes"]
    assert shut_out == {"totalCount": 0, "edges": []}
    # The list comes from the stale copy: one note, with its old title.
    page = (await app.ok(NOTES, {"w": ws}, token=joiner["token"]))["notes"]
    assert [edge["node"]["title"] for edge in page["edges"]] == ["before"]
    assert page["totalCount"] == 1
    stats = await app.ok(STATS, token=joiner["token"])
    assert stats["dashboard"]["stats"]["totalNotes"] == 1
    # So do notification lists: the joiner's two (added, assigned) are not in the copy yet.
    inbox = await app.ok(INBOX, token=joiner["token"])
    assert inbox["notifications"] == {"totalCount": 0, "unreadCount": 0}
    assert await _count_on_primary(settings, "notifications", {"user_id": joiner["id"]}) == 2
    routed_reads = {c["find"] for c in commands.started_on(stale_server.port, "find")}
    assert routed_reads == {"notes", "notifications"}
    assert commands.started_on(stale_server.port, "aggregate")


async def test_a_token_makes_the_next_list_reads_wait_for_the_write(
    api: Api,
    routed: tuple[Api, Commands],
    settings: Settings,
    stale_server: EmbeddedProcess,
) -> None:
    app, commands = routed
    owner = await api.sign_up()
    ws = await api.workspace(owner)
    note = await api.note(owner, ws, title="before")
    await copy_to_stale(settings, stale_server)

    # A mutation's answer follows its writes, list fields included.
    created = await app.ok(
        "mutation($i: CreateNoteInput!) { createNote(input: $i) { workspace { noteCount } } }",
        {"i": {"workspaceId": ws, "title": "second"}},
        token=owner["token"],
    )
    assert created["createNote"]["workspace"]["noteCount"] == 2
    commands.write_times.clear()
    renamed = await app.gql(RENAME, {"id": note["id"], "t": "after"}, token=owner["token"])
    assert renamed.data == {"updateNote": {"title": "after"}}
    token = renamed.headers[HEADER]
    written = max(commands.write_times)
    assert decode_token(token_key(settings), HEADER, token).operation_time >= written

    commands.seen.clear()
    again = await app.gql(NOTES, {"w": ws}, token=owner["token"], headers={HEADER: token})
    assert again.status == 200 and "X-Cache" not in again.headers  # past the response cache
    assert HEADER not in again.headers  # only writes issue tokens
    reads = commands.started_on(stale_server.port, "find")
    assert reads
    waited = [c["readConcern"]["afterClusterTime"] for c in reads if "readConcern" in c]
    assert len(waited) == len(reads)
    assert min(waited) >= written


@pytest.mark.parametrize(
    "token",
    ["nonsense", "a.b", "x" * 600, "", "e30.AAAAAAAAAAAAAAAAAAAAAA"],
    ids=["garbage", "unsigned", "too long", "empty", "forged"],
)
async def test_a_token_this_deployment_did_not_issue_is_a_400(
    routed: tuple[Api, Commands], api: Api, token: str
) -> None:
    app, _ = routed
    user = await api.sign_up()
    reply = await app.gql("{ me { id } }", token=user["token"], headers={HEADER: token})
    if token == "":
        assert reply.status == 200 and not reply.errors  # no token sent
        return
    assert reply.status == 400
    assert reply.codes == ["BAD_USER_INPUT"]
    assert HEADER in reply.errors[0]["message"]


async def test_without_routing_no_token_is_issued_or_read(api: Api) -> None:
    owner = await api.sign_up()
    ws = await api.workspace(owner)
    note = await api.note(owner, ws)
    renamed = await api.gql(RENAME, {"id": note["id"], "t": "x"}, token=owner["token"])
    assert HEADER not in renamed.headers
    listing = await api.gql(NOTES, {"w": ws}, token=owner["token"], headers={HEADER: "junk"})
    assert listing.status == 200 and not listing.errors


async def test_a_secondary_read_preference_on_the_deployment_itself(
    other_app: Callable[..., AbstractAsyncContextManager[Api]],
) -> None:
    """Without a list-read URI, list reads use the primary's client with the list read
    preference; a token makes them wait for the write, for at most the MongoDB timeout."""
    commands = Commands()
    async with other_app(
        mongo_listeners=[commands],
        mongodb_list_read_preference="secondaryPreferred",
        mongodb_max_staleness_seconds=90,
    ) as app:
        owner = await app.sign_up()
        ws = await app.workspace(owner)
        note = await app.note(owner, ws, title="before")
        renamed = await app.gql(RENAME, {"id": note["id"], "t": "after"}, token=owner["token"])
        token = renamed.headers[HEADER]
        commands.seen.clear()
        page = await app.ok(NOTES, {"w": ws}, token=owner["token"], headers={HEADER: token})
    assert [edge["node"]["title"] for edge in page["notes"]["edges"]] == ["after"]
    lists = [c for _, c in commands.seen if c.get("find") == "notes"]
    assert lists
    assert all("afterClusterTime" in c["readConcern"] and c["maxTimeMS"] <= 3000 for c in lists)


LIVE = (
    "subscription($w: ID!) { workspaceEvents(workspaceId: $w) "
    "{ kind note { title workspace { noteCount } } } }"
)


async def test_an_event_renders_after_its_write_even_its_list_fields(
    api: Api,
    routed: tuple[Api, Commands],
    settings: Settings,
    stale_server: EmbeddedProcess,
) -> None:
    app, _ = routed
    owner, ws = await team(api)
    await api.note(owner, ws, title="before")
    await copy_to_stale(settings, stale_server)
    async with socket(app, owner["token"]) as live:
        op = await live.subscribe(LIVE, {"w": ws})
        await asyncio.sleep(0.2)  # the subscription is registered once the first await runs
        await api.note(owner, ws, title="second")
        event = (await live.next(op))["data"]["workspaceEvents"]
    assert event == {"kind": "CREATED", "note": {"title": "second", "workspace": {"noteCount": 2}}}
    # A query's count is a list read: the stale copy's.
    count = "query($w: ID!) { workspace(id: $w) { noteCount } }"
    assert (await app.ok(count, {"w": ws}, token=owner["token"]))["workspace"]["noteCount"] == 1
