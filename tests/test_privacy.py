"""Privacy rights over HTTP and websockets: the data export and its expiring link, and account
deletion with its grace period, last-owner refusal, cancellation and erasure
(docs/privacy.md)."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from typing import Any

from aiohttp import WSMsgType
from beanie import PydanticObjectId

from notes_bff.keys import REALTIME, REDIS, SESSIONS
from notes_bff.models import DataExport, Notification, RefreshSession, Workspace
from notes_bff.ratelimit import KNOWN_PREFIX
from notes_bff.services.erasure import Eraser
from tests.conftest import Api
from tests.ws import TRANSPORT_WS, GraphQLSocket

PASSWORD = "correct horse"
EXPORT = "mutation { exportMyData { url expiresAt sizeBytes } }"
DELETE = (
    "mutation($p: String!, $d: Boolean) { deleteMyAccount(password: $p, deleteNotes: $d)"
    " { scheduledFor deleteNotes } }"
)
CANCEL = "mutation { cancelAccountDeletion }"
ME = "{ me { id deletionScheduledFor } }"
LOG_IN = "mutation($i: LogInInput!) { logIn(input: $i) { accessToken } }"
NOTE = "query($id: ID!) { note(id: $id) { title author { id name email avatarUrl } %s } }"
SEARCH = "query($q: String!) { search(query: $q) { totalCount } }"


async def _log_in(api: Api, user: dict[str, Any], agent: str = "Phone/1.0") -> str:
    credentials = {"i": {"email": user["email"], "password": PASSWORD}}
    reply = await api.gql(LOG_IN, credentials, headers={"User-Agent": agent})
    assert not reply.errors, reply.errors
    return str(reply.data["logIn"]["accessToken"])


async def _download(api: Api, url: str) -> dict[str, Any]:
    """The archive's JSON files, by name."""
    response = await api.client.get(url)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Cache-Control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(await response.read())) as archive:
        return {name: json.loads(archive.read(name)) for name in archive.namelist()}


async def _erase_due(api: Api) -> int:
    """One round of the erasure job, as the scheduler runs it."""
    app = api.client.server.app
    return await Eraser(app[REALTIME], app[SESSIONS].revocations, app[REDIS]).erase_due()


async def _refused(api: Api, token: str) -> bool:
    reply = await api.gql("{ me { id } }", token=token)
    assert reply.codes in ([], ["UNAUTHENTICATED"]), reply.body
    return bool(reply.codes)


async def test_an_export_holds_every_record_about_the_user_and_nothing_about_others(
    api: Api,
) -> None:
    ada, bob = await api.sign_up("Ada"), await api.sign_up("Bob")
    ws = await api.workspace(ada, "Shared")
    await api.add(ada, ws, bob, "EDITOR")
    mine = [await api.note(ada, ws, title=f"Ada's note {n}") for n in range(2)]
    task = await api.note(bob, ws, title="A task", assigneeIds=[ada["id"]])
    secret = await api.note(bob, ws, title="Bob's secret plan", content="bob-only words")
    await _log_in(api, ada, "Ada's phone")
    await _log_in(api, bob, "Bob's laptop")

    link = (await api.ok(EXPORT, token=ada["token"]))["exportMyData"]
    files = await _download(api, link["url"])

    assert set(files) == {
        "manifest.json",
        "profile.json",
        "memberships.json",
        "notes.json",
        "assigned_note_ids.json",
        "mentioned_in_note_ids.json",
        "notifications.json",
        "sessions.json",
        "notification_preferences.json",
    }
    assert files["profile.json"]["email"] == ada["email"]
    assert "password_hash" not in files["profile.json"]
    assert [m["workspace_id"] for m in files["memberships.json"]] == [ws]
    assert sorted(n["id"] for n in files["notes.json"]) == sorted(n["id"] for n in mine)
    assert files["assigned_note_ids.json"] == [task["id"]]
    assert len(files["notifications.json"]) == 1  # Bob assigned her
    agents = [s["user_agent"] for s in files["sessions.json"]]
    assert len(agents) == 2  # sign-up and log-in
    assert "Ada's phone" in agents
    everything = json.dumps(files)
    for other in (bob["email"], secret["id"], "Bob's secret plan", "bob-only words", "laptop"):
        assert other not in everything
    # Bob's export is Bob's.
    theirs = await api.ok(EXPORT, token=bob["token"])
    assert (await _download(api, theirs["exportMyData"]["url"]))["profile.json"]["name"] == "Bob"


async def test_a_forged_or_altered_download_link_is_refused(api: Api) -> None:
    user = await api.sign_up()
    url = (await api.ok(EXPORT, token=user["token"]))["exportMyData"]["url"]
    path, query = url.split("?")
    expires = query.split("&")[0].split("=")[1]
    altered = [
        url[:-1] + ("0" if url[-1] != "0" else "1"),  # signature
        url.replace(f"expires={expires}", f"expires={int(expires) + 3600}"),
        url.replace(path, f"/exports/{PydanticObjectId()}"),
        path,
    ]
    for bad in altered:
        assert (await api.client.get(bad)).status == 404, bad
    assert (await api.client.get(url)).status == 200
    assert (await api.gql(EXPORT)).codes == ["UNAUTHENTICATED"]


async def test_a_new_export_replaces_the_previous_one(api: Api) -> None:
    user = await api.sign_up()
    first = (await api.ok(EXPORT, token=user["token"]))["exportMyData"]["url"]
    second = (await api.ok(EXPORT, token=user["token"]))["exportMyData"]["url"]
    assert (await api.client.get(first)).status == 404
    assert (await api.client.get(second)).status == 200
    assert await DataExport.find({"user_id": PydanticObjectId(user["id"])}).count() == 1


async def test_the_last_owner_of_a_shared_workspace_is_told_which_to_hand_over(
    api: Api,
) -> None:
    ada, bob, cy = await api.sign_up(), await api.sign_up(), await api.sign_up()
    blocking = await api.workspace(ada, "Ada's team")
    await api.add(ada, blocking, bob, "EDITOR")
    co_owned = await api.workspace(ada, "Co-owned")
    await api.add(ada, co_owned, cy, "OWNER")
    await api.workspace(ada, "Alone")

    reply = await api.gql(DELETE, {"p": PASSWORD}, token=ada["token"])

    assert reply.codes == ["CONFLICT"]
    extensions = reply.errors[0]["extensions"]
    assert extensions["reason"] == "LAST_OWNER"
    assert extensions["workspaces"] == [{"id": blocking, "name": "Ada's team"}]
    assert (await api.ok(ME, token=ada["token"]))["me"]["deletionScheduledFor"] is None


async def test_a_wrong_password_schedules_nothing(api: Api) -> None:
    user = await api.sign_up()
    reply = await api.gql(DELETE, {"p": "not my password"}, token=user["token"])
    assert reply.codes == ["BAD_USER_INPUT"]
    assert reply.errors[0]["extensions"]["field"] == "password"
    assert (await api.ok(ME, token=user["token"]))["me"]["deletionScheduledFor"] is None


async def test_a_scheduled_deletion_ends_other_sessions_and_can_be_cancelled(api: Api) -> None:
    user = await api.sign_up()
    phone = await _log_in(api, user)
    scheduled = (await api.ok(DELETE, {"p": PASSWORD}, token=user["token"]))["deleteMyAccount"]
    assert scheduled["deleteNotes"] is False
    me = (await api.ok(ME, token=user["token"]))["me"]
    assert me["deletionScheduledFor"] == scheduled["scheduledFor"]
    assert await _refused(api, phone)
    assert not await _refused(api, user["token"])
    # Signing in again during the grace period is allowed (to cancel from another device).
    again = await _log_in(api, user)
    assert await api.ok(CANCEL, token=again) == {"cancelAccountDeletion": True}
    assert await api.ok(CANCEL, token=again) == {"cancelAccountDeletion": False}
    assert (await api.ok(ME, token=user["token"]))["me"]["deletionScheduledFor"] is None
    await _erase_due(api)
    assert not await _refused(api, user["token"])


async def test_erasure_removes_the_user_everywhere_and_keeps_their_notes_anonymous(
    api: Api, other_app: Any
) -> None:
    ada, bob = await api.sign_up("Ada"), await api.sign_up("Bob")
    shared = await api.workspace(bob, "Bob's team")
    await api.add(bob, shared, ada, "EDITOR")
    solo = await api.workspace(ada, "Ada alone")
    await api.ok(
        "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id } }",
        {"i": {"avatarUrl": "https://images.example.com/ada.png", "timeZone": "Europe/Paris"}},
        token=ada["token"],
    )
    kept = await api.note(ada, shared, title="Ada's kept note")
    await api.note(ada, solo, title="Ada's private note")
    involved = await api.note(
        bob, shared, title="Bob's task", assigneeIds=[ada["id"]], mentionIds=[ada["id"]]
    )
    redis = api.client.server.app[REDIS]
    known_address = f"{KNOWN_PREFIX}{ada['email']} 127.0.0.1"
    assert await redis.exists(known_address) == 1
    url = str(api.client.make_url("/graphql"))
    live = await GraphQLSocket.open(
        api.client.session, url, token=ada["token"], protocol=TRANSPORT_WS
    )
    await live.subscribe("subscription { notifications { id } }")
    watching = await GraphQLSocket.open(
        api.client.session, url, token=bob["token"], protocol=TRANSPORT_WS
    )
    events = await watching.subscribe(
        "subscription($w: ID!) { workspaceEvents(workspaceId: $w) "
        "{ kind note { id assignees { id } mentions { id } } actor { name email } } }",
        {"w": shared},
    )

    async with other_app(account_deletion_grace_seconds=0) as now_app:
        reply = await now_app.gql(DELETE, {"p": PASSWORD}, token=ada["token"])
        assert not reply.errors, reply.errors
    assert await _erase_due(api) == 1

    closed = await live.ws.receive(timeout=5)
    assert (closed.type, closed.data) == (WSMsgType.CLOSE, 4403)
    assert await _refused(api, ada["token"])
    # Bob's live view: the task lost its assignee and mention, told by a nameless actor.
    seen = (await watching.next(events))["data"]["workspaceEvents"]
    assert seen == {
        "kind": "UPDATED",
        "note": {"id": involved["id"], "assignees": [], "mentions": []},
        "actor": {"name": "Deleted user", "email": None},
    }
    await watching.close()
    credentials = {"i": {"email": ada["email"], "password": PASSWORD}}
    assert (await api.gql(LOG_IN, credentials)).codes == ["UNAUTHENTICATED"]
    # What Bob sees: the note stays, by a nameless author; Ada is gone from his workspace.
    note = (await api.ok(NOTE % "", {"id": kept["id"]}, token=bob["token"]))["note"]
    assert note["author"] == {
        "id": ada["id"],
        "name": "Deleted user",
        "email": None,
        "avatarUrl": None,
    }
    found = await api.ok(
        "query($q: String!) { search(query: $q) { nodes { note { id author { name } } } } }",
        {"q": "kept"},
        token=bob["token"],
    )
    assert found["search"]["nodes"] == [
        {"note": {"id": kept["id"], "author": {"name": "Deleted user"}}}
    ]
    task = await api.ok(
        NOTE % "assignees { id } mentions { id }", {"id": involved["id"]}, token=bob["token"]
    )
    assert (task["note"]["assignees"], task["note"]["mentions"]) == ([], [])
    members = await api.ok(
        "query($w: ID!) { workspace(id: $w) { members { user { id } } } }",
        {"w": shared},
        token=bob["token"],
    )
    assert members["workspace"]["members"] == [{"user": {"id": bob["id"]}}]
    # Stored nothing more: her solo workspace, notifications and sessions are gone.
    ada_id = PydanticObjectId(ada["id"])
    assert await Workspace.get(PydanticObjectId(solo)) is None
    assert await Notification.find({"user_id": ada_id}).count() == 0
    assert await RefreshSession.find({"user_id": ada_id}).count() == 0
    assert await redis.exists(known_address) == 0
    # Her address is free again.
    assert (
        await api.gql(
            "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
            {"i": {"email": ada["email"], "password": PASSWORD, "name": "New Ada"}},
        )
    ).errors == []
    assert await _erase_due(api) == 0


async def test_erasure_with_delete_notes_takes_them_out_of_search(api: Api, other_app: Any) -> None:
    ada, bob = await api.sign_up(), await api.sign_up()
    shared = await api.workspace(bob, "Team")
    await api.add(bob, shared, ada, "EDITOR")
    word = f"zanzibar{PydanticObjectId()}"
    gone = await api.note(ada, shared, title=f"Trip to {word}", content=f"{word} plans")
    await api.note(bob, shared, title="Bob stays")
    assert (await api.ok(SEARCH, {"q": word}, token=bob["token"]))["search"]["totalCount"] == 1

    async with other_app(account_deletion_grace_seconds=0) as now_app:
        scheduled = await now_app.ok(DELETE, {"p": PASSWORD, "d": True}, token=ada["token"])
        assert scheduled["deleteMyAccount"]["deleteNotes"] is True
    assert await _erase_due(api) == 1

    assert (await api.ok(SEARCH, {"q": word}, token=bob["token"]))["search"]["totalCount"] == 0
    assert (await api.ok(NOTE % "", {"id": gone["id"]}, token=bob["token"]))["note"] is None
    listing = await api.ok(
        "query($w: ID!) { notes(workspaceId: $w) { totalCount } }",
        {"w": shared},
        token=bob["token"],
    )
    assert listing["notes"]["totalCount"] == 1


async def test_the_scheduler_erases_due_accounts_on_its_own(api: Api, other_app: Any) -> None:
    user = await api.sign_up()
    async with other_app(
        account_deletion_grace_seconds=0, account_erasure_interval_seconds=0.05
    ) as scheduling:
        await scheduling.ok(DELETE, {"p": PASSWORD}, token=user["token"])
        for _ in range(200):
            if await _refused(scheduling, user["token"]):
                break
            await asyncio.sleep(0.05)
    assert await _refused(api, user["token"])
    credentials = {"i": {"email": user["email"], "password": PASSWORD}}
    assert (await api.gql(LOG_IN, credentials)).codes == ["UNAUTHENTICATED"]
