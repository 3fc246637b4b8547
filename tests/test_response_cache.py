"""The response cache over real servers: hits without MongoDB, exact invalidation by what an
answer read (also across workers), isolation between callers, and the browser tier."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from notes_bff.embedded import EmbeddedProcess
from notes_bff.keys import REALTIME, RESPONSE_CACHE
from notes_bff.response_cache import tags
from notes_bff.response_cache.reads import reading, recording
from tests.conftest import Api, CommandCounter, Reply

PAGE = """query Page($w: ID!, $tags: [String!]) {
  workspace(id: $w) {
    name
    members { role user { id name } }
    notes(first: 20, filter: {tags: $tags}) { nodes { id title tags author { name } } }
  }
}"""


async def _page(api: Api, user: dict[str, Any], ws: str, **variables: Any) -> Reply:
    reply = await api.gql(PAGE, {"w": ws, **variables}, token=user["token"])
    assert not reply.errors, reply.errors
    return reply


def _titles(reply: Reply) -> list[str]:
    return [n["title"] for n in reply.data["workspace"]["notes"]["nodes"]]


async def test_a_repeated_query_is_answered_without_mongodb(
    api: Api, command_counter: CommandCounter
) -> None:
    owner = await api.sign_up()
    ws = await api.workspace(owner)
    await api.note(owner, ws, title="first")
    first = await _page(api, owner, ws)
    command_counter.reset()
    second = await _page(api, owner, ws)
    assert first.headers["X-Cache"] == "MISS"
    assert second.headers["X-Cache"] == "HIT"
    assert second.body == first.body
    assert command_counter.data_commands() == []


async def test_callers_never_see_each_others_answers(api: Api) -> None:
    owner, viewer, stranger = await api.sign_up("Owner"), await api.sign_up(), await api.sign_up()
    ws = await api.workspace(owner, "Private")
    await api.add(owner, ws, viewer, "VIEWER")
    me = "{ me { id email } workspace(id: $w) { name viewerRole } }".replace(
        "{ me", "query($w: ID!) { me"
    )
    as_owner = await api.ok(me, {"w": ws}, token=owner["token"])
    as_viewer = await api.ok(me, {"w": ws}, token=viewer["token"])
    as_stranger = await api.ok(me, {"w": ws}, token=stranger["token"])
    assert as_owner["me"]["id"] == owner["id"]
    assert as_owner["workspace"]["viewerRole"] == "OWNER"
    assert as_viewer["me"]["id"] == viewer["id"]
    assert as_viewer["workspace"]["viewerRole"] == "VIEWER"
    assert as_stranger["me"]["email"] == stranger["email"]
    assert as_stranger["workspace"] is None
    anonymous = await api.gql("query($w: ID!) { workspace(id: $w) { name } }", {"w": ws})
    assert anonymous.codes == ["UNAUTHENTICATED"]


async def test_a_write_on_another_worker_shows_in_an_empty_and_a_filtered_list(
    api: Api, other_app: Callable[..., AbstractAsyncContextManager[Api]]
) -> None:
    owner = await api.sign_up()
    ws = await api.workspace(owner)
    async with other_app() as worker_b:
        empty = await _page(api, owner, ws)
        filtered = await _page(api, owner, ws, tags=["urgent"])
        assert _titles(empty) == [] and _titles(filtered) == []
        assert (await _page(api, owner, ws)).headers["X-Cache"] == "HIT"
        await worker_b.note(owner, ws, title="from b", tags=["urgent"])
        assert _titles(await _page(api, owner, ws)) == ["from b"]
        assert _titles(await _page(api, owner, ws, tags=["urgent"])) == ["from b"]
        # and worker B's own cache, warmed before a write on worker A, drops it too
        assert _titles(await _page(worker_b, owner, ws)) == ["from b"]
        await api.note(owner, ws, title="from a")
        assert _titles(await _page(worker_b, owner, ws)) == ["from a", "from b"]


async def test_the_writer_reads_its_own_write(api: Api) -> None:
    owner = await api.sign_up()
    ws = await api.workspace(owner)
    note = await api.note(owner, ws, title="draft")
    query = "query($id: ID!) { note(id: $id) { title version } }"
    assert (await api.ok(query, {"id": note["id"]}, token=owner["token"]))["note"]["version"] == 1
    await api.ok(
        'mutation($id: ID!) { updateNote(id: $id, input: {title: "final"}) { id } }',
        {"id": note["id"]},
        token=owner["token"],
    )
    after = await api.ok(query, {"id": note["id"]}, token=owner["token"])
    assert after["note"] == {"title": "final", "version": 2}


async def test_a_removed_member_no_longer_gets_the_cached_answer(api: Api) -> None:
    owner, member = await api.sign_up(), await api.sign_up()
    ws = await api.workspace(owner, "Shared")
    await api.add(owner, ws, member, "EDITOR")
    note = await api.note(owner, ws, title="secret plan")
    query = "query($w: ID!, $n: ID!) { workspace(id: $w) { name } note(id: $n) { title } }"
    seen = await api.ok(query, {"w": ws, "n": note["id"]}, token=member["token"])
    assert seen == {"workspace": {"name": "Shared"}, "note": {"title": "secret plan"}}
    await api.ok(
        "mutation($w: ID!, $u: ID!) { removeMember(workspaceId: $w, userId: $u) }",
        {"w": ws, "u": member["id"]},
        token=owner["token"],
    )
    gone = await api.gql(query, {"w": ws, "n": note["id"]}, token=member["token"])
    assert gone.data == {"workspace": None, "note": None}
    assert gone.headers["X-Cache"] == "MISS"


async def test_notifications_marked_read_drop_the_cached_count(api: Api) -> None:
    owner, member = await api.sign_up(), await api.sign_up()
    ws = await api.workspace(owner)
    await api.add(owner, ws, member, "EDITOR")
    query = "{ notifications { totalCount unreadCount } }"
    assert (await api.ok(query, token=member["token"]))["notifications"]["unreadCount"] == 1
    await api.ok("mutation { markNotificationsRead }", token=member["token"])
    assert (await api.ok(query, token=member["token"]))["notifications"] == {
        "totalCount": 1,
        "unreadCount": 0,
    }


async def test_an_answer_computed_across_a_write_is_never_served_after_it(
    app_client: TestClient,  # type: ignore[type-arg]
) -> None:
    """The version is read before the data: a write between the two leaves the entry
    stale from the start (here the write is made to land exactly in between)."""
    app = app_client.server.app
    cache = app[RESPONSE_CACHE]
    note_tag = tags.note("race")
    reads = cache.reads()
    with recording(reads):
        await reading(note_tag)  # the version, then (in a real execution) the data
    await app[REALTIME].invalidate(note_tag)  # a write lands before the answer is stored
    await cache.store("race-key", "someone", reads, {"note": {"title": "old"}})
    assert await cache.lookup("race-key", ["someone"]) is None
    fresh = cache.reads()
    with recording(fresh):
        await reading(note_tag)
    await cache.store("race-key", "someone", fresh, {"note": {"title": "new"}})
    assert await cache.lookup("race-key", ["someone"]) == {"note": {"title": "new"}}


async def test_entries_expire_after_their_ttl(
    api: Api, other_app: Callable[..., AbstractAsyncContextManager[Api]]
) -> None:
    owner = await api.sign_up()
    async with other_app(response_cache_ttl_seconds=1) as short:
        assert (await short.gql("{ me { id } }", token=owner["token"])).headers["X-Cache"] == "MISS"
        assert (await short.gql("{ me { id } }", token=owner["token"])).headers["X-Cache"] == "HIT"
        await asyncio.sleep(1.5)
        assert (await short.gql("{ me { id } }", token=owner["token"])).headers["X-Cache"] == "MISS"


async def test_concurrent_identical_misses_run_once(
    api: Api, command_counter: CommandCounter
) -> None:
    owner = await api.sign_up()
    ws = await api.workspace(owner)
    await api.note(owner, ws, title="one")
    command_counter.reset()
    replies = await asyncio.gather(*(_page(api, owner, ws) for _ in range(5)))
    assert sorted(r.headers["X-Cache"] for r in replies) == ["HIT"] * 4 + ["MISS"]
    assert len({str(r.body) for r in replies}) == 1
    single = len(command_counter.data_commands())
    command_counter.reset()
    await _page(api, owner, ws, tags=["other"])  # one execution of a similar page
    assert single <= len(command_counter.data_commands())


async def test_what_depends_on_more_than_writes_is_not_cached(api: Api) -> None:
    owner = await api.sign_up()
    ws = await api.workspace(owner)
    for query in (
        "{ rateLimit { remaining } }",
        f'{{ workspace(id: "{ws}") {{ onlineMembers {{ id }} }} }}',
    ):
        await api.ok(query, token=owner["token"])
        assert (await api.gql(query, token=owner["token"])).headers["X-Cache"] == "MISS"


async def test_while_redis_is_down_answers_bypass_the_cache_and_stay_right_after(
    api: Api, servers: dict[str, EmbeddedProcess]
) -> None:
    owner = await api.sign_up()
    ws = await api.workspace(owner)
    await api.note(owner, ws, title="before")
    await _page(api, owner, ws)
    assert (await _page(api, owner, ws)).headers["X-Cache"] == "HIT"
    servers["redis"].stop()
    try:
        down = await _page(api, owner, ws)
        assert (_titles(down), down.headers["X-Cache"]) == (["before"], "MISS")
        await api.note(owner, ws, title="during")  # its invalidation cannot reach Redis
    finally:
        servers["redis"].start()
    # Whether or not Redis kept its data, the answer cached before the outage is not served.
    for _ in range(100):
        reply = await _page(api, owner, ws)
        assert _titles(reply) == ["during", "before"]
        if reply.headers["X-Cache"] == "HIT":
            break
        await asyncio.sleep(0.1)
    assert reply.headers["X-Cache"] == "HIT"  # and the cache works again


@pytest.mark.parametrize("method", ["GET"])
async def test_get_answers_carry_an_etag_and_revalidate_with_304(api: Api, method: str) -> None:
    owner = await api.sign_up()
    headers = {"Authorization": f"Bearer {owner['token']}"}
    params = {"query": "{ me { id name } }"}
    first = await api.client.request(method, "/graphql", params=params, headers=headers)
    assert first.status == 200
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert "Authorization" in first.headers["Vary"]
    again = await api.client.get(
        "/graphql", params=params, headers={**headers, "If-None-Match": etag}
    )
    assert again.status == 304
    assert await again.read() == b""
    other = await api.sign_up()
    theirs = await api.client.get(
        "/graphql",
        params=params,
        headers={"Authorization": f"Bearer {other['token']}", "If-None-Match": etag},
    )
    assert theirs.status == 200
    assert (await theirs.json())["data"]["me"]["id"] == other["id"]


async def test_a_profile_change_drops_every_answer_that_showed_the_user(api: Api) -> None:
    owner, member = await api.sign_up("Before"), await api.sign_up()
    ws = await api.workspace(owner)
    await api.add(owner, ws, member, "VIEWER")
    members = "query($w: ID!) { workspace(id: $w) { members { user { name } } } }"
    names = await api.ok(members, {"w": ws}, token=member["token"])
    assert {m["user"]["name"] for m in names["workspace"]["members"]} == {"Before", "Test User"}
    await api.ok('mutation { updateProfile(input: {name: "After"}) { id } }', token=owner["token"])
    again = await api.gql(members, {"w": ws}, token=member["token"])
    assert again.headers["X-Cache"] == "MISS"
    assert {m["user"]["name"] for m in again.data["workspace"]["members"]} == {"After", "Test User"}


async def test_a_read_no_tag_covers_is_not_cached(api: Api) -> None:
    """Signed-in sessions are read from a collection the tags do not cover: the safety net
    keeps that answer out of the cache, so a new sign-in shows at once."""
    user = await api.sign_up()
    query = "{ sessions { id } }"
    assert len((await api.ok(query, token=user["token"]))["sessions"]) == 1
    await api.ok(
        "mutation($i: LogInInput!) { logIn(input: $i) { accessToken } }",
        {"i": {"email": user["email"], "password": "correct horse"}},
    )
    again = await api.gql(query, token=user["token"])
    assert (len(again.data["sessions"]), again.headers["X-Cache"]) == (2, "MISS")


async def test_a_user_seen_only_in_a_reused_subtree_still_drops_the_answer(api: Api) -> None:
    """Each note's workspace is completed once and put under every note
    (execution/subtree_reuse.py): the reads of that one completion are recorded, so a
    member's new name drops the answer that showed it under every note."""
    owner, reader = await api.sign_up("Owner"), await api.sign_up("Before")
    ws = await api.workspace(owner)
    await api.add(owner, ws, reader, "VIEWER")
    for i in range(3):
        await api.note(owner, ws, title=f"note {i}")
    query = "{ notes(first: 10) { nodes { title workspace { members { user { name } } } } } }"

    async def names() -> tuple[str, list[set[str]]]:
        reply = await api.gql(query, token=owner["token"])
        assert not reply.errors, reply.errors
        nodes = reply.data["notes"]["nodes"]
        members = [{m["user"]["name"] for m in n["workspace"]["members"]} for n in nodes]
        return reply.headers["X-Cache"], members

    assert await names() == ("MISS", [{"Owner", "Before"}] * 3)
    assert await names() == ("HIT", [{"Owner", "Before"}] * 3)
    await api.ok('mutation { updateProfile(input: {name: "After"}) { id } }', token=reader["token"])
    assert await names() == ("MISS", [{"Owner", "After"}] * 3)
