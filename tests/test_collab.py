"""Collaborative editing over ``/collab/<noteId>`` in process: y-websocket sync, tickets and
cookies, rights on every message, limits, malformed frames, checkpoints into the note, merged
``updateNote``, restore points, who is editing. (tests/test_collab_js.py: real Yjs clients
against several server processes.)

The tests of what goes through Redis (two instances converging, compaction, reloading,
awareness, clean-up of deleted notes, the reader's connections) are marked
``redis_topologies``: they also run on a Redis Cluster and on Sentinel. The others exercise
the socket, rights and limits, which do not depend on the topology, or stop the single server
(the outage test: tests/test_redis_failover.py covers Sentinel's failover).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from beanie import PydanticObjectId
from pycrdt import Doc, Text
from redis.asyncio import Redis

from notes_bff import redis_client
from notes_bff.collab import awareness
from notes_bff.collab.document import build, text_of
from notes_bff.collab.keys import BUCKETS, awareness_key, dirty_key, log_key
from notes_bff.collab.protocol import (
    SYNC_STEP1,
    SYNC_UPDATE,
    awareness_message,
    sync_message,
    write_uint,
)
from notes_bff.config import Settings
from notes_bff.embedded import EmbeddedProcess
from notes_bff.keys import COLLAB, REALTIME, SESSIONS
from notes_bff.models import CollabSnapshot, CollabState
from tests.conftest import Api, another_app
from tests.redis_topologies import Deployment, client_names
from tests.ws import Closed, GraphQLSocket
from tests.ycollab import YClient, until

TICKET = "mutation($n: ID!) { collabTicket(noteId: $n) }"
NOTE = "query($n: ID!) { note(id: $n) { content version contentHtml } }"
EDITORS = "query($n: ID!) { noteEditors(noteId: $n) { id } }"
MESSAGE_LIMIT = 128 * 1024


@pytest.fixture(scope="module")
async def collab(app_client: TestClient, settings: Settings) -> AsyncIterator[Api]:  # type: ignore[type-arg]
    """An application with quick checkpoints and small limits, on the session's database."""
    overrides = {
        "collab_checkpoint_seconds": 0.1,
        "collab_max_message_bytes": MESSAGE_LIMIT,
        "collab_max_document_bytes": 256 * 1024,
        "cors_origins": "https://app.example.com",
    }
    async with another_app(app_client, settings, **overrides) as api:
        yield api


@pytest.fixture
async def team(collab: Api) -> dict[str, Any]:
    """An owner, an editor and a viewer of one workspace with one note."""
    owner, editor, viewer = [await collab.sign_up(n) for n in ("Owner", "Editor", "Viewer")]
    ws = await collab.workspace(owner)
    await collab.add(owner, ws, editor, "EDITOR")
    await collab.add(owner, ws, viewer, "VIEWER")
    note = await collab.note(owner, ws, content="# Plan\n\nFirst line.\n")
    return {"owner": owner, "editor": editor, "viewer": viewer, "ws": ws, "note": note["id"]}


async def _ticket(api: Api, user: dict[str, Any], note: str) -> str:
    return str((await api.ok(TICKET, {"n": note}, token=user["token"]))["collabTicket"])


async def _open(api: Api, user: dict[str, Any], note: str) -> YClient:
    client = await YClient.connect(
        api.client, f"/collab/{note}?ticket={await _ticket(api, user, note)}"
    )
    await client.synced.wait()
    return client


async def _content(api: Api, user: dict[str, Any], note: str) -> dict[str, Any]:
    return dict((await api.ok(NOTE, {"n": note}, token=user["token"]))["note"])


async def _stored(api: Api, user: dict[str, Any], note: str, text: str) -> dict[str, Any]:
    """The note once its content is ``text`` (checkpoints are asynchronous)."""
    for _ in range(100):
        found = await _content(api, user, note)
        if found["content"] == text:
            break
        await asyncio.sleep(0.05)
    return found


@pytest.mark.redis_topologies
async def test_two_editors_converge_and_the_note_follows(collab: Api, team: dict[str, Any]) -> None:
    note = team["note"]
    a = await _open(collab, team["owner"], note)
    b = await _open(collab, team["editor"], note)
    assert str(a) == str(b) == "# Plan\n\nFirst line.\n"
    before = await _content(collab, team["owner"], note)
    await a.type(len(str(a)), "From A.\n")
    await b.type(0, "Title: ")
    assert await until(lambda: str(a) == str(b) and "From A." in str(a) and "Title" in str(a))
    final = str(a)
    stored = await _stored(collab, team["editor"], note, final)
    assert stored["content"] == final
    assert stored["version"] > before["version"]
    assert "<h1>" not in stored["contentHtml"] and "From A." in stored["contentHtml"]
    await a.close()
    await b.close()
    # A new editor loads the same document (persisted state plus log, never the Markdown again).
    c = await _open(collab, team["owner"], note)
    assert str(c) == final
    await c.close()


async def test_viewer_receives_but_cannot_write(collab: Api, team: dict[str, Any]) -> None:
    note = team["note"]
    editor = await _open(collab, team["editor"], note)
    viewer = await _open(collab, team["viewer"], note)
    await viewer.type(0, "VIEWER WAS HERE ")
    assert await until(lambda: viewer.denied)
    assert "read-only" in viewer.denied[0]
    await editor.type(0, "editor ")
    assert await until(lambda: str(viewer).count("editor ") == 1)
    assert "VIEWER" not in str(editor)
    await editor.close()
    await viewer.close()
    fresh = await _open(collab, team["owner"], note)
    assert "VIEWER" not in str(fresh)
    await fresh.close()


async def test_tickets_are_single_use_and_bound_to_one_note(
    collab: Api, team: dict[str, Any]
) -> None:
    note = team["note"]
    other = (await collab.note(team["owner"], team["ws"], title="Other"))["id"]
    ticket = await _ticket(collab, team["editor"], note)
    first = await YClient.connect(collab.client, f"/collab/{note}?ticket={ticket}")
    await first.synced.wait()
    again = await YClient.connect(collab.client, f"/collab/{note}?ticket={ticket}")
    assert await again.closed() == 4401
    elsewhere = await _ticket(collab, team["editor"], note)
    wrong = await YClient.connect(collab.client, f"/collab/{other}?ticket={elsewhere}")
    assert await wrong.closed() == 4401
    for path in (
        f"/collab/{note}",
        f"/collab/{note}?ticket=",
        f"/collab/{note}?ticket={'x' * 500}",
    ):
        refused = await YClient.connect(collab.client, path)
        assert await refused.closed() == 4401
    await first.close()


async def test_strangers_and_unknown_notes_look_alike(collab: Api, team: dict[str, Any]) -> None:
    stranger = await collab.sign_up("Stranger")
    reply = await collab.gql(TICKET, {"n": team["note"]}, token=stranger["token"])
    assert reply.codes == ["NOT_FOUND"]
    reply = await collab.gql(TICKET, {"n": "not-an-id"}, token=stranger["token"])
    assert reply.codes == ["BAD_USER_INPUT"]
    assert (await collab.gql(TICKET, {"n": team["note"]})).codes == ["UNAUTHENTICATED"]
    # A cookie works for a browser page of an allowed origin only.
    cookie = {"Cookie": f"nb_access={stranger['token']}"}
    for origin in ("https://app.example.com", None):
        headers = {**cookie, **({"Origin": origin} if origin else {})}
        client = await YClient.connect(collab.client, f"/collab/{team['note']}", headers=headers)
        assert await client.closed() == (4404 if origin else 4401)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await collab.client.ws_connect(
            f"/collab/{team['note']}", headers={**cookie, "Origin": "https://evil.example"}
        )
    assert refused.value.status == 403
    owner_cookie = {"Cookie": f"nb_access={team['owner']['token']}"}
    ok = await YClient.connect(
        collab.client,
        f"/collab/{team['note']}",
        headers={**owner_cookie, "Origin": "https://app.example.com"},
    )
    await ok.synced.wait()
    await ok.close()
    forged = {"Cookie": "nb_access=forged", "Origin": "https://app.example.com"}
    client = await YClient.connect(collab.client, f"/collab/{team['note']}", headers=forged)
    assert await client.closed() == 4403


async def test_removed_member_is_closed_and_downgraded_one_turns_read_only(
    collab: Api, team: dict[str, Any]
) -> None:
    note, owner = team["note"], team["owner"]
    editor = await _open(collab, team["editor"], note)
    viewer = await _open(collab, team["viewer"], note)
    await collab.ok(
        "mutation($w: ID!, $u: ID!) { updateMemberRole(workspaceId: $w, userId: $u, role: VIEWER) { role } }",
        {"w": team["ws"], "u": team["editor"]["id"]},
        token=owner["token"],
    )
    assert await until(lambda: editor.denied)  # told at once
    assert "now a viewer" in editor.denied[0]
    await editor.type(0, "after downgrade ")
    loop = asyncio.get_running_loop()
    started = loop.time()
    await collab.ok(
        "mutation($w: ID!, $u: ID!) { removeMember(workspaceId: $w, userId: $u) }",
        {"w": team["ws"], "u": team["viewer"]["id"]},
        token=owner["token"],
    )
    assert await viewer.closed(2.0) == 4403
    assert loop.time() - started < 1.0
    owner_client = await _open(collab, owner, note)
    assert "after downgrade" not in str(owner_client)
    await owner_client.close()
    await editor.close()


async def test_limits_refuse_oversized_messages_and_documents(
    collab: Api, team: dict[str, Any]
) -> None:
    note = team["note"]
    client = await _open(collab, team["editor"], note)
    await client.ws.send_bytes(
        b"\x00\x02" + write_uint(MESSAGE_LIMIT + 10) + b"x" * (MESSAGE_LIMIT + 10)
    )
    assert await client.closed() == 1009  # message too big
    chunk = "y" * 60_000
    client = await _open(collab, team["editor"], note)
    await client.type(0, chunk)
    await client.type(0, chunk)  # 120,000 characters: over the 100,000 of a note
    await client.type(0, "z")
    assert await client.closed() == 4413
    shrinker = await _open(collab, team["editor"], note)
    assert len(str(shrinker)) > 100_000 and "z" not in str(shrinker)
    await shrinker.edit(lambda text: text.__delitem__(slice(0, 70_000)))  # deleting still works
    await shrinker.type(0, "fits again ")
    observer = await _open(collab, team["owner"], note)
    assert str(observer).startswith("fits again ") and len(str(observer)) < 60_000
    await observer.close()
    await shrinker.close()


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"\x09",  # unknown message type
        b"\x00\x07\x00",  # unknown sync step
        b"\x00\x02\x05ab",  # truncated payload
        b"\x00\x02\x02\x00\x00extra",  # stray bytes
        b"\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff",  # endless number
        sync_message(SYNC_UPDATE, b"\x01\x02\x03\xff\xff"),  # not a Yjs update
        b"\x00\x00\x03\xff\xff\xff",  # not a state vector
        b"\x01\x05\x01\x01\x01\x01{",  # awareness: truncated
        b"\x01\x06\x01\x01\x01\x02[]",  # awareness: not an object
    ],
)
async def test_malformed_frames_close_with_4400(
    collab: Api, team: dict[str, Any], frame: bytes
) -> None:
    client = await _open(collab, team["editor"], team["note"])
    await client.ws.send_bytes(frame)
    assert await client.closed() == 4400
    await client.ws.close()


async def test_updates_waiting_for_unknown_changes_count_toward_the_limit(
    collab: Api, team: dict[str, Any]
) -> None:
    # Kept (the changes they wait for may be on their way from another worker), but an
    # editor cannot grow the stored document past its limit with ones that never resolve.
    elsewhere: Doc[Text] = Doc()
    text = elsewhere.get("content", type=Text)
    text.insert(0, "never sent")
    client = await _open(collab, team["editor"], team["note"])
    for _ in range(6):
        before = elsewhere.get_state()
        text.insert(0, "w" * 60_000)
        await client.ws.send_bytes(sync_message(SYNC_UPDATE, elsewhere.get_update(before)))
    assert await client.closed() == 4413
    fresh = await _open(collab, team["owner"], team["note"])
    assert "w" not in str(fresh)
    await fresh.close()


async def test_a_message_flood_is_cut_off(collab: Api, team: dict[str, Any]) -> None:
    client = await _open(collab, team["editor"], team["note"])
    for _ in range(800):
        await client.ws.send_bytes(b"\x03")  # query awareness
    assert await client.closed() == 4429


async def test_text_frames_close_with_4400(collab: Api, team: dict[str, Any]) -> None:
    client = await _open(collab, team["editor"], team["note"])
    await client.ws.send_str("hello")
    assert await client.closed() == 4400


async def test_update_note_is_merged_into_the_live_document(
    collab: Api, team: dict[str, Any]
) -> None:
    note, owner = team["note"], team["owner"]
    live = await _open(collab, team["editor"], note)
    await live.type(len(str(live)), "Live edit.\n")
    await _stored(collab, owner, note, str(live))
    read = await _content(collab, owner, note)
    await live.type(0, "Concurrent. ")  # not seen by the writer below
    new = read["content"].replace("First line.", "First line, edited over HTTP.")
    updated = await collab.ok(
        "mutation($n: ID!, $c: String!, $v: Int) { updateNote(id: $n, input: {content: $c}, expectedVersion: $v) { content version } }",
        {"n": note, "c": new, "v": read["version"]},
        token=owner["token"],
    )
    text = updated["updateNote"]["content"]
    assert "edited over HTTP" in text and "Live edit." in text
    assert await until(lambda: "edited over HTTP" in str(live) and "Concurrent. " in str(live))
    assert str(live).count("Live edit.") == 1 and str(live).count("Concurrent. ") == 1
    stale = await collab.gql(
        'mutation($n: ID!, $v: Int) { updateNote(id: $n, input: {content: "x"}, expectedVersion: $v) { version } }',
        {"n": note, "v": read["version"]},
        token=owner["token"],
    )
    assert stale.codes == ["CONFLICT"]
    # Bulk updates cannot replace the content of a collaborative note (it would be lost at
    # the next checkpoint): such a note is reported as a failure, untouched.
    bulk = await collab.ok(
        'mutation($ids: [ID!]!) { bulkUpdateNotes(ids: $ids, input: {content: "replaced"}) '
        "{ succeededIds failures { id code } } }",
        {"ids": [note]},
        token=owner["token"],
    )
    assert bulk["bulkUpdateNotes"] == {
        "succeededIds": [],
        "failures": [{"id": note, "code": "CONFLICT"}],
    }
    await live.close()
    assert (await _stored(collab, owner, note, str(live)))["content"] == str(live)


async def test_restore_points(collab: Api, team: dict[str, Any]) -> None:
    note, owner = team["note"], team["owner"]
    made = await collab.ok(
        'mutation($n: ID!) { createNoteSnapshot(noteId: $n, label: "Before the meeting") { id label content createdBy { id } } }',
        {"n": note},
        token=owner["token"],
    )
    snapshot = made["createNoteSnapshot"]
    assert snapshot["content"] == "# Plan\n\nFirst line.\n"
    assert snapshot["createdBy"]["id"] == owner["id"]
    live = await _open(collab, team["editor"], note)
    await live.edit(lambda text: text.__delitem__(slice(0, len(text))))
    await live.type(0, "Rewritten.")
    await _stored(collab, owner, note, "Rewritten.")
    restored = await collab.ok(
        "mutation($s: ID!) { restoreNoteSnapshot(id: $s) { content } }",
        {"s": snapshot["id"]},
        token=team["editor"]["token"],
    )
    assert restored["restoreNoteSnapshot"]["content"] == "# Plan\n\nFirst line.\n"
    assert await until(lambda: str(live) == "# Plan\n\nFirst line.\n")
    listed = await collab.ok(
        "query($n: ID!) { noteSnapshots(noteId: $n) { label content } }",
        {"n": note},
        token=owner["token"],
    )
    labels = [s["label"] for s in listed["noteSnapshots"]]
    assert labels[1] == "Before the meeting"
    assert (
        labels[0].startswith("Before restoring")
        and listed["noteSnapshots"][0]["content"] == "Rewritten."
    )
    denied = await collab.gql(
        "query($n: ID!) { noteSnapshots(noteId: $n) { id } }",
        {"n": note},
        token=team["viewer"]["token"],
    )
    assert denied.codes == ["FORBIDDEN"]
    await live.close()


@pytest.mark.redis_topologies
async def test_who_is_editing_and_awareness(collab: Api, team: dict[str, Any]) -> None:
    note = team["note"]
    editors = "query($n: ID!) { noteEditors(noteId: $n) { id } }"
    a = await _open(collab, team["editor"], note)
    b = await _open(collab, team["viewer"], note)
    await a.announce('{"cursor": 3, "userId": "spoofed"}')
    assert await until(lambda: a.doc.client_id in b.awareness)
    assert f'"userId":"{team["editor"]["id"]}"' in b.awareness[a.doc.client_id]
    found = await collab.ok(editors, {"n": note}, token=team["owner"]["token"])
    assert {u["id"] for u in found["noteEditors"]} == {team["editor"]["id"], team["viewer"]["id"]}
    await a.close()
    assert await until(lambda: b.awareness.get(a.doc.client_id) == "null")
    found = await collab.ok(editors, {"n": note}, token=team["owner"]["token"])
    assert [u["id"] for u in found["noteEditors"]] == [team["viewer"]["id"]]
    await b.close()


PRESENCE = (
    "subscription($w: ID!) { presence(workspaceId: $w) { joined { id } left { id } "
    "editing { noteId editors { id } } editingChanged } }"
)


def _editing(event: dict[str, Any]) -> dict[str, list[str]]:
    return {e["noteId"]: [u["id"] for u in e["editors"]] for e in event["editing"]}


async def test_presence_tells_who_is_editing_which_note(collab: Api, team: dict[str, Any]) -> None:
    note, owner, editor, viewer = team["note"], team["owner"], team["editor"], team["viewer"]
    other = (await collab.note(owner, team["ws"], title="Other"))["id"]
    url = str(collab.client.make_url("/graphql"))
    live = await GraphQLSocket.open(collab.client.session, url, token=owner["token"])
    op = await live.subscribe(PRESENCE, {"w": team["ws"]})

    async def event() -> dict[str, Any]:
        return dict((await live.next(op))["data"]["presence"])

    assert (await event())["editing"] == []
    first_tab = await _open(collab, editor, note)
    started = await event()
    assert (started["editingChanged"], started["joined"], started["left"]) == (note, None, None)
    assert _editing(started) == {note: [editor["id"]]}
    second_tab = await _open(collab, editor, note)  # already editing it: no event
    reader = await _open(collab, viewer, other)
    started = await event()
    assert started["editingChanged"] == other
    assert _editing(started) == {note: [editor["id"]], other: [viewer["id"]]}
    await second_tab.close()  # one of two tabs: still editing, no event
    await first_tab.close()
    stopped = await event()
    assert (stopped["editingChanged"], stopped["left"]) == (note, None)
    assert _editing(stopped) == {other: [viewer["id"]]}
    await reader.close()
    assert (await event())["editing"] == []
    await live.close()


async def test_a_crashed_workers_editors_drop_off(
    collab: Api, team: dict[str, Any], settings: Settings
) -> None:
    ws, ghost = team["ws"], team["editor"]["id"]
    redis = Redis.from_url(settings.redis_url or "")
    try:  # an editing connection whose worker died: nobody renewed it
        key = f"notes-bff:presence:editing:{ws}"
        await redis.zadd(key, {f"{ghost}:{team['note']}:dead-connection": time.time() - 5})
        editors = "query($n: ID!) { noteEditors(noteId: $n) { id } }"
        found = await collab.ok(editors, {"n": team["note"]}, token=team["owner"]["token"])
        assert found["noteEditors"] == []
        presence = collab.client.server.app[REALTIME].presence
        swept = await asyncio.gather(presence.sweep_editing(ws), presence.sweep_editing(ws))
        assert sorted(swept, key=len) == [[], [(ghost, team["note"])]]  # reported once
        assert await redis.zcard(key) == 0
    finally:
        await redis.aclose()


async def _editors(api: Api, user: dict[str, Any], note: str) -> list[str]:
    found = await api.ok(EDITORS, {"n": note}, token=user["token"])
    return [u["id"] for u in found["noteEditors"]]


async def test_collab_sockets_share_the_per_user_cap_with_graphql_websockets(
    other_app: Any,
) -> None:
    async with other_app(max_connections_per_user=2) as api:
        owner = await api.sign_up("Owner")
        note = (await api.note(owner, await api.workspace(owner)))["id"]
        url = str(api.client.make_url("/graphql"))
        graphql = await GraphQLSocket.open(api.client.session, url, token=owner["token"])
        editor = await _open(api, owner, note)
        path = f"/collab/{note}?ticket={await _ticket(api, owner, note)}"
        refused = await YClient.connect(api.client, path)
        assert await refused.closed() == 4429
        with pytest.raises(Closed) as also_refused:
            await GraphQLSocket.open(api.client.session, url, token=owner["token"])
        assert also_refused.value.code == 4429
        await graphql.close()  # its slot comes free (released as the server sees it go)

        async def reopened() -> YClient | None:
            """A new editor, or None while the cap still refuses it."""
            path = f"/collab/{note}?ticket={await _ticket(api, owner, note)}"
            client = await YClient.connect(api.client, path)
            synced = asyncio.ensure_future(client.synced.wait())
            ended = asyncio.ensure_future(client.closed())
            await asyncio.wait([synced, ended], return_when=asyncio.FIRST_COMPLETED)
            synced.cancel()
            ended.cancel()
            if client.synced.is_set():
                return client
            assert client.close_code == 4429
            return None

        for _ in range(50):
            if (again := await reopened()) is not None:
                break
            await asyncio.sleep(0.1)
        assert again is not None
        await again.close()
        await editor.close()


async def test_a_client_that_stops_reading_is_closed_with_4508(
    collab: Api, team: dict[str, Any]
) -> None:
    note, owner = team["note"], team["owner"]
    writers = [await _open(collab, team["editor"], note) for _ in range(2)]
    ticket = await _ticket(collab, owner, note)
    stuck = await collab.client.ws_connect(f"/collab/{note}?ticket={ticket}")
    await stuck.send_bytes(sync_message(SYNC_STEP1, Doc().get_state()))
    for _ in range(100):  # joined
        if owner["id"] in await _editors(collab, owner, note):
            break
        await asyncio.sleep(0.05)
    # 600 cursor updates of 64 KiB (4 clients of 16 KB): about 39 MB for a client that reads
    # nothing meanwhile, far over the 16 MiB it may owe plus what socket buffers hold.
    state = '{"pad":"' + "x" * 16_000 + '"}'
    for writer in writers:
        base = writer.doc.client_id
        for clock in range(1, 301):
            entries = [awareness.Entry(base + i, clock, state) for i in range(4)]
            await writer.ws.send_bytes(awareness_message(awareness.encode(entries)))
        await writer.announce('{"done":true}', clock=301)
    for writer in writers:  # every update was handled (each writer sees its own last one)
        assert await until(lambda w=writer: "done" in w.awareness.get(w.doc.client_id, ""))
    while (await stuck.receive(timeout=10)).type is aiohttp.WSMsgType.BINARY:
        pass  # what was on its way before the server gave up
    assert stuck.close_code == 4508
    for _ in range(100):  # gone from the note's editors
        if owner["id"] not in await _editors(collab, owner, note):
            break
        await asyncio.sleep(0.05)
    assert await _editors(collab, owner, note) == [team["editor"]["id"]]
    await writers[0].type(0, "still fine ")  # the others go on
    assert await until(lambda: str(writers[1]).startswith("still fine "))
    back = await _open(collab, owner, note)
    assert str(back) == str(writers[0])
    for client in (back, *writers):
        await client.close()


@pytest.mark.parametrize("ending", ["log-out", "user disabled by another server"])
async def test_a_connection_ends_with_its_session(
    collab: Api, team: dict[str, Any], api: Api, ending: str
) -> None:
    user = await collab.sign_up("Leaving")
    await collab.add(team["owner"], team["ws"], user, "EDITOR")
    client = await _open(collab, user, team["note"])
    if ending == "log-out":
        assert await collab.ok("mutation { logOut }", token=user["token"]) == {"logOut": True}
    else:  # the session application's revocations, told to this one through Redis
        await api.client.server.app[SESSIONS].revocations.disable_user(PydanticObjectId(user["id"]))
    assert await client.closed() == 4403
    others = await _open(collab, team["editor"], team["note"])  # other sessions go on
    await others.close()


async def test_a_connection_ends_when_its_access_token_expires(other_app: Any) -> None:
    async with other_app(access_token_ttl_seconds=5) as api:
        owner = await api.sign_up("Owner")
        note = (await api.note(owner, await api.workspace(owner)))["id"]
        client = await _open(api, owner, note)
        assert await client.closed(timeout=15) == 4403
        assert client.ws.close_code == 4403


async def test_while_redis_is_down_open_notes_keep_working_and_new_ones_wait(
    collab: Api, team: dict[str, Any], servers: dict[str, EmbeddedProcess], settings: Settings
) -> None:
    note, owner, editor = team["note"], team["owner"], team["editor"]
    other = (await collab.note(owner, team["ws"], title="Closed", content="Untouched"))["id"]
    gone = (await collab.note(owner, team["ws"], title="Deleted meanwhile"))["id"]
    edited = await _open(collab, owner, gone)
    await edited.type(0, "In the log. ")
    await _stored(collab, owner, gone, "In the log. ")
    await edited.close()
    gone_log = log_key(gone)
    async with Redis.from_url(settings.redis_url or "") as redis:
        assert await redis.exists(gone_log)
    a = await _open(collab, editor, note)
    b = await _open(collab, owner, note)
    cookie = {"Cookie": f"nb_access={owner['token']}", "Origin": "https://app.example.com"}
    servers["redis"].stop()
    try:
        await a.type(0, "Typed during the outage. ")
        assert await until(lambda: str(b).startswith("Typed during the outage. "))
        assert (await collab.gql(TICKET, {"n": note}, token=owner["token"])).codes == [
            "SERVICE_UNAVAILABLE"
        ]
        # A note open on this worker can still be joined (cookie); another cannot be opened.
        joined = await YClient.connect(collab.client, f"/collab/{note}", headers=cookie)
        await joined.synced.wait()
        assert str(joined) == str(b)
        await joined.close()
        refused = await YClient.connect(collab.client, f"/collab/{other}", headers=cookie)
        assert await refused.closed() == 4503
        await collab.ok(
            "mutation($n: ID!) { deleteNote(id: $n) }", {"n": gone}, token=owner["token"]
        )
    finally:
        servers["redis"].start()
    await b.type(len(str(b)), "Typed after it.")
    for _ in range(100):  # tickets work again once Redis answers
        if not (await collab.gql(TICKET, {"n": note}, token=owner["token"])).errors:
            break
        await asyncio.sleep(0.1)
    fresh = await _open(collab, editor, note)
    assert await until(lambda: str(fresh) == str(a) == str(b))
    assert str(fresh).startswith("Typed during the outage. ")
    assert str(fresh).endswith("Typed after it.")
    for client in (a, b, fresh):
        await client.close()
    assert (await _stored(collab, owner, note, str(fresh)))["content"] == str(fresh)
    async with Redis.from_url(settings.redis_url or "") as redis:
        for _ in range(150):  # the deleted note's log goes once Redis is back
            if not await redis.exists(gone_log):
                break
            await asyncio.sleep(0.1)
        assert not await redis.exists(gone_log)


DELETE = {
    "deleteNote": "mutation($n: ID!) { deleteNote(id: $n) }",
    "bulkDeleteNotes": "mutation($ns: [ID!]!) { bulkDeleteNotes(ids: $ns) { succeededIds } }",
    "deleteWorkspace": "mutation($w: ID!) { deleteWorkspace(id: $w) }",
}


@pytest.mark.redis_topologies
@pytest.mark.parametrize("how", list(DELETE))
async def test_deleted_notes_leave_no_collaborative_state(
    collab: Api, settings: Settings, how: str
) -> None:
    owner = await collab.sign_up("Owner")
    ws = await collab.workspace(owner)
    notes = [(await collab.note(owner, ws, content=c))["id"] for c in ("Open.", "Closed.")]
    earlier = await _open(collab, owner, notes[1])  # edited, restore point, nobody on it
    await earlier.type(0, "Edited. ")
    await earlier.announce('{"cursor": 1}')
    await _stored(collab, owner, notes[1], "Edited. Closed.")
    await earlier.close()
    await collab.ok(
        'mutation($n: ID!) { createNoteSnapshot(noteId: $n, label: "Kept") { id } }',
        {"n": notes[1]},
        token=owner["token"],
    )
    live = await _open(collab, owner, notes[0])
    await live.type(0, "Live. ")
    redis = redis_client.connect(settings, name="collab-test")

    async def leftovers() -> list[str]:
        found = []
        for note in notes:
            oid = PydanticObjectId(note)
            if await CollabState.get_pymongo_collection().find_one({"_id": oid}):
                found.append(f"state of {note}")
            if await CollabSnapshot.get_pymongo_collection().find_one({"note_id": oid}):
                found.append(f"restore point of {note}")
            for key in (log_key(note), awareness_key(note)):
                if await redis.exists(key):
                    found.append(key)
            if await redis.zscore(dirty_key(note), note) is not None:
                found.append(f"compaction of {note}")
        return found

    try:
        assert len(await leftovers()) >= 8  # states, logs, cursors, due compactions
        if how == "deleteNote":
            for note in notes:
                await collab.ok(DELETE[how], {"n": note}, token=owner["token"])
        else:
            variables = {"ns": notes} if how == "bulkDeleteNotes" else {"w": ws}
            await collab.ok(DELETE[how], variables, token=owner["token"])
        assert await live.closed() == 4404
        for _ in range(100):
            if not await leftovers():
                break
            await asyncio.sleep(0.05)
        assert await leftovers() == []
    finally:
        await redis.aclose()


@pytest.mark.redis_topologies
async def test_two_instances_converge_compact_and_reload(
    collab: Api, team: dict[str, Any], other_app: Any, settings: Settings
) -> None:
    """Editors on two application instances meet only through Redis (each instance's reader
    follows the log); compaction stores the merged state and trims the log; a fresh room
    loads that state plus the log's tail."""
    note, owner = team["note"], team["owner"]
    redis = redis_client.connect(settings, name="collab-test")
    async with other_app(collab_checkpoint_seconds=0.1, collab_log_min_age_seconds=1) as second:
        compactor = second.client.server.app[COLLAB]
        a = await _open(collab, owner, note)
        b = await _open(second, team["editor"], note)
        await a.type(0, "From the first. ")
        await b.type(len(str(b)), "From the second.")
        assert await until(lambda: str(a) == str(b) and "first" in str(b) and "second" in str(a))
        assert await redis.xlen(log_key(note)) >= 2
        assert note in await compactor.log.due(10_000)
        await asyncio.sleep(1.1)  # the merged entries are then older than the minimum age
        await compactor.compact(note)
        state = await CollabState.get(PydanticObjectId(note))
        assert state is not None and str(text_of(build(state.state))) == str(a)
        assert await redis.xlen(log_key(note)) == 0  # trimmed
        assert await redis.zscore(dirty_key(note), note) is None  # nothing left to compact
        await b.type(0, "After compaction. ")  # the log's tail
        assert await until(lambda: str(a) == str(b))
        final = str(a)
        await a.close()
        await b.close()
        assert await redis.xlen(log_key(note)) == 1
        assert await redis.zscore(dirty_key(note), note) is not None  # to compact next
        async with other_app() as third:  # a process that never had the note open
            reloaded = await _open(third, owner, note)
            assert str(reloaded) == final
            await reloaded.close()
        assert (await _stored(collab, owner, note, final))["content"] == final
    await redis.aclose()


@pytest.mark.redis_topologies
async def test_the_readers_connections_do_not_grow_with_open_notes(
    other_app: Any, redis_server: EmbeddedProcess | Deployment
) -> None:
    """One blocking read per bucket of notes on a Cluster (a multi-key XREAD stays in one
    slot), one in all elsewhere: the count is bounded whatever the number of open notes."""
    cluster = isinstance(redis_server, Deployment) and redis_server.name == "cluster"
    bound = BUCKETS + 1 if cluster else 1  # plus the one the client learns the slot map on
    reader = f"notes-bff:{os.getpid()}:collab"  # every application of this process

    async def readers() -> int:
        return sum(1 for name in await client_names(redis_server) if name == reader)

    before = await readers()  # other applications' idle ones
    async with other_app(max_connections_per_user=100) as api:
        owner = await api.sign_up("Owner")
        ws = await api.workspace(owner)
        notes: list[str] = []

        async def open_more(count: int) -> list[YClient]:
            made = [(await api.note(owner, ws, title=f"Open {i}"))["id"] for i in range(count)]
            notes.extend(made)
            return [await _open(api, owner, note) for note in made]

        first = await open_more(3 * BUCKETS // 2)
        with_some = await readers() - before
        second = await open_more(3 * BUCKETS // 2)
        with_twice_as_many = await readers() - before
        echo = await _open(api, owner, notes[-1])  # every read still delivers
        await echo.type(0, "read back ")
        assert await until(lambda: str(second[-1]).startswith("read back "))
        assert 1 <= with_some <= with_twice_as_many <= bound, (with_some, with_twice_as_many)
        for client in (*first, *second, echo):
            await client.close()
