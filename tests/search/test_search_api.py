"""``search`` and ``filter.search`` end to end, on the real servers: ranking, highlights,
pagination, refusals, authorization at query time, freshness across workers, and the indexer
(catch-up, reconciliation, reindex)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from notes_bff.config import Settings
from notes_bff.errors import ServiceUnavailable
from notes_bff.metrics import Metrics
from notes_bff.models import Note
from notes_bff.search import service as search_service
from notes_bff.search.backend import Filters, SearchRequest
from notes_bff.search.engine import TantivyBackend
from notes_bff.search.query import parse
from notes_bff.search.service import index_path
from tests.conftest import Api
from tests.search.corpus import standalone_indexer

SEARCH = """query($q: String!, $w: ID, $f: NoteFilter, $first: Int, $after: String) {
  search(query: $q, workspaceId: $w, filter: $f, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { score note { id title workspace { id } } highlights { field start end } } }
  }
}"""
LIST = (
    "query($w: ID, $s: String) { notes(workspaceId: $w, filter: {search: $s}) { nodes { title } } }"
)


async def _titles(api: Api, user: dict[str, Any], text: str, **variables: Any) -> list[str]:
    data = await api.ok(SEARCH, {"q": text, **variables}, token=user["token"])
    return [e["node"]["note"]["title"] for e in data["search"]["edges"]]


@pytest.fixture
async def team(api: Api) -> dict[str, Any]:
    owner = await api.sign_up("Owner")
    return {"owner": owner, "ws": await api.workspace(owner)}


async def test_ranked_hits_with_scores_and_highlights(api: Api, team: dict[str, Any]) -> None:
    owner, ws = team["owner"], team["ws"]
    await api.note(owner, ws, title="Weekly meeting 😀 notes", content="We met; meetings are long.")
    await api.note(owner, ws, title="Budget", content="Numbers for the next meeting.")
    await api.note(owner, ws, title="Lunch", content="Pizza")
    data = await api.ok(SEARCH, {"q": "meetng", "w": ws}, token=owner["token"])
    result = data["search"]
    assert result["totalCount"] == 2
    first, second = (e["node"] for e in result["edges"])
    assert first["note"]["title"] == "Weekly meeting 😀 notes"  # title over body
    assert first["score"] > second["score"] > 0
    # While typing, "meetng" is also a prefix of "meetings" within one typo.
    assert first["highlights"] == [
        {"field": "TITLE", "start": 7, "end": 14},
        {"field": "CONTENT", "start": 8, "end": 16},
    ]
    assert second["highlights"] == [{"field": "CONTENT", "start": 21, "end": 28}]


async def test_a_note_is_searchable_as_soon_as_it_is_written(
    api: Api, team: dict[str, Any]
) -> None:
    owner, ws = team["owner"], team["ws"]
    for i in range(3):
        note = await api.note(owner, ws, title=f"Quokka census {i}")
        assert f"Quokka census {i}" in await _titles(api, owner, "quokka", w=ws)
    await api.ok(
        'mutation($id: ID!) { updateNote(id: $id, input: {title: "Wombat census"}) { id } }',
        {"id": note["id"]},
        token=owner["token"],
    )
    assert "Wombat census" in await _titles(api, owner, "wombat")
    await api.ok(
        "mutation($id: ID!) { deleteNote(id: $id) }", {"id": note["id"]}, token=owner["token"]
    )
    assert await _titles(api, owner, "wombat") == []


async def test_scope_filters_and_prefixes(api: Api, team: dict[str, Any]) -> None:
    owner, ws = team["owner"], team["ws"]
    other_ws = await api.workspace(owner, "Other")
    await api.note(owner, ws, title="Onboarding checklist", tags=["people"], priority="HIGH")
    await api.note(owner, other_ws, title="Onboarding flow", tags=["design"])
    assert sorted(await _titles(api, owner, "onbo")) == ["Onboarding checklist", "Onboarding flow"]
    assert await _titles(api, owner, "onbo", w=ws) == ["Onboarding checklist"]
    assert await _titles(api, owner, "onboarding", f={"tags": ["design"]}) == ["Onboarding flow"]
    assert await _titles(api, owner, "onboarding", f={"priorities": ["HIGH"]}) == [
        "Onboarding checklist"
    ]
    stranger = await api.sign_up("Stranger")
    assert await _titles(api, stranger, "onboarding") == []
    assert await _titles(api, stranger, "onboarding", w=ws) == []  # like a missing workspace


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"q": ""}, "query"),
        ({"q": "   "}, "query"),
        ({"q": ".*"}, "query"),
        ({"q": "x" * 257}, "query"),
        ({"q": " ".join(["w"] * 33)}, "query"),
        ({"q": "meeting", "first": 0}, "first"),
        ({"q": "meeting", "first": 101}, "first"),
        ({"q": "meeting", "after": "not a cursor"}, "after"),
        ({"q": "meeting", "after": "WyJzIiwgLTEsICJ4Il0"}, "after"),  # ["s", -1, "x"]
        ({"q": "meeting", "w": "nope"}, "workspaceId"),
        ({"q": "meeting", "f": {"search": "x"}}, "filter.search"),
    ],
)
async def test_bad_input_is_refused_with_its_field(
    api: Api, team: dict[str, Any], variables: dict[str, Any], field: str
) -> None:
    reply = await api.gql(SEARCH, variables, token=team["owner"]["token"])
    assert reply.codes == ["BAD_USER_INPUT"], reply.errors
    assert reply.errors[0]["extensions"]["field"] == field


async def test_search_needs_a_viewer(api: Api) -> None:
    assert (await api.gql(SEARCH, {"q": "meeting"})).codes == ["UNAUTHENTICATED"]


async def test_pages_follow_each_other_and_cursors_belong_to_their_search(
    api: Api, team: dict[str, Any]
) -> None:
    owner, ws = team["owner"], team["ws"]
    for i in range(25):
        await api.note(owner, ws, title=f"Harbor report {i}", content="harbor " * (i % 5 + 1))
    seen: list[str] = []
    after = None
    while True:
        data = await api.ok(
            SEARCH, {"q": "harbor", "w": ws, "first": 10, "after": after}, token=owner["token"]
        )
        page = data["search"]
        assert page["totalCount"] == 25
        seen += [e["node"]["note"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 25
    foreign = await api.gql(SEARCH, {"q": "report", "w": ws, "after": after}, token=owner["token"])
    assert foreign.codes == ["BAD_USER_INPUT"]


async def test_filter_search_on_lists_uses_the_engine(api: Api, team: dict[str, Any]) -> None:
    owner, ws = team["owner"], team["ws"]
    await api.note(owner, ws, title="Retrospective meeting", content="What went well")
    await api.note(owner, ws, title="Lunch")
    data = await api.ok(LIST, {"w": ws, "s": "meetng"}, token=owner["token"])
    assert [n["title"] for n in data["notes"]["nodes"]] == ["Retrospective meeting"]
    data = await api.ok(
        'query($w: ID!) { workspace(id: $w) { notes(filter: {search: "meetng wel"}) { nodes { title } } } }',
        {"w": ws},
        token=owner["token"],
    )
    assert [n["title"] for n in data["workspace"]["notes"]["nodes"]] == ["Retrospective meeting"]


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    memberships=st.lists(st.lists(st.booleans(), min_size=3, max_size=3), min_size=3, max_size=3),
    removals=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), max_size=3),
)
async def test_only_current_members_ever_find_a_workspace_s_notes(
    api: Api, memberships: list[list[bool]], removals: list[tuple[int, int]]
) -> None:
    """Random members of three workspaces search a word every note holds; right after each
    removal, nobody finds a note of a workspace they no longer belong to."""
    owner = await api.sign_up("Owner")
    users = [await api.sign_up(f"User {i}") for i in range(3)]
    spaces = [await api.workspace(owner, f"Space {i}") for i in range(3)]
    member = {(u, w) for u in range(3) for w in range(3) if memberships[u][w]}
    for u, w in sorted(member):
        await api.add(owner, spaces[w], users[u], "VIEWER")
    for w, space in enumerate(spaces):
        await api.note(owner, space, title=f"Pelican {w}")

    async def check() -> None:
        for u, user in enumerate(users):
            data = await api.ok(SEARCH, {"q": "pelican"}, token=user["token"])
            found = {e["node"]["note"]["workspace"]["id"] for e in data["search"]["edges"]}
            assert found == {spaces[w] for w in range(3) if (u, w) in member}

    await check()
    for u, w in removals:
        if (u, w) in member:
            await api.ok(
                "mutation($w: ID!, $u: ID!) { removeMember(workspaceId: $w, userId: $u) }",
                {"w": spaces[w], "u": users[u]["id"]},
                token=owner["token"],
            )
            member.discard((u, w))
            await check()


async def test_a_note_reaches_another_worker(
    api: Api,
    team: dict[str, Any],
    other_app: Callable[..., AbstractAsyncContextManager[Api]],
) -> None:
    """A second application on the same host reads the index the first one writes: a note
    written through it arrives in its searches (asserted on arrival; the time is printed)."""
    owner, ws = team["owner"], team["ws"]
    async with other_app() as second:
        reader = search_service.active()
        assert reader is not None
        note = await second.note(owner, ws, title="Narwhal sighting")
        written = time.monotonic()
        request = SearchRequest(parse("q", "narwhal"), viewer_id=None, workspace_ids=(ws,))
        while not (await reader.backend.search(request)).hits:
            assert time.monotonic() - written < 10, "never arrived"
            await asyncio.sleep(0.01)
            await reader.backend.refresh()
        print(f"searchable on the other worker after {time.monotonic() - written:.3f} s")
        assert (await reader.backend.search(request)).hits[0].note_id == note["id"]
        assert await _titles(second, owner, "narwhal") == ["Narwhal sighting"]


async def test_catch_up_and_reconcile_repair_what_events_missed(
    api: Api, team: dict[str, Any], settings: Settings, tmp_path: Path
) -> None:
    """An indexer that was away applies the logged events after its checkpoint, and the
    reconciliation repairs a change no event announced."""
    owner, ws = team["owner"], team["ws"]
    backend = TantivyBackend(tmp_path / "v1")
    async with standalone_indexer(backend, settings) as indexer:
        await indexer.rebuild()
        request = SearchRequest(parse("q", "ocelot"), viewer_id=None, workspace_ids=(ws,))
        note = await api.note(owner, ws, title="Ocelot while away")
        assert (await backend.search(request)).hits == []
        indexer.checkpoints = await backend.checkpoints()  # as after a restart
        await indexer.catch_up()
        assert [h.note_id for h in (await backend.search(request)).hits] == [note["id"]]
        silent = await Note.get(note["id"])
        assert silent is not None
        await silent.set({"title": "Silent lynx", "version": silent.version + 1})
        assert await indexer.reconcile() >= 1
        assert (await backend.search(request)).hits == []
        lynx = SearchRequest(parse("q", "lynx"), viewer_id=None, workspace_ids=(ws,))
        assert [h.note_id for h in (await backend.search(lynx)).hits] == [note["id"]]
        assert await indexer.reconcile() == 0


def _cli(settings: Settings, data_dir: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTES_BFF_")}
    env.update(
        NOTES_BFF_MONGODB_URI=settings.mongodb_uri or "",
        NOTES_BFF_REDIS_URL=settings.redis_url or "",
        NOTES_BFF_MONGODB_DB=settings.mongodb_db,
        NOTES_BFF_DATA_DIR=str(data_dir),
    )
    return [sys.executable, "-m", "notes_bff", *args], env


async def test_reindex_gives_what_the_live_index_gives(
    api: Api, team: dict[str, Any], settings: Settings, tmp_path: Path
) -> None:
    owner, ws = team["owner"], team["ws"]
    for title in ("Kestrel nest", "Kestrel flight", "Falcon nest"):
        await api.note(owner, ws, title=title, content="birds of prey")
    live = search_service.active()
    assert live is not None
    workspaces = tuple(str(w) for w in await Note.get_pymongo_collection().distinct("workspace_id"))
    await live.wait_until_fresh(workspaces)
    command, env = _cli(settings, tmp_path, "search", "reindex")
    done = await asyncio.create_subprocess_exec(*command, env=env, stderr=subprocess.PIPE)
    _, err = await done.communicate()
    assert done.returncode == 0, err
    assert b"rebuilt this host's search index" in err
    rebuilt = TantivyBackend(index_path(settings.model_copy(update={"data_dir": tmp_path})))
    for text in ("kestrel", "nest", "birds prey", "quokka", "meetng", "onbo", '"falcon nest"'):
        request = SearchRequest(
            parse("q", text), viewer_id=None, workspace_ids=workspaces, limit=10_000
        )
        expected = await live.backend.search(request)
        got = await rebuilt.search(request)
        assert got.total == expected.total, text
        assert {h.note_id for h in got.hits} == {h.note_id for h in expected.hits}, text


async def test_reindex_asks_the_running_writer(
    api: Api, team: dict[str, Any], settings: Settings
) -> None:
    """With a server writing the index, the command has it rebuild; searches go on."""
    await api.note(team["owner"], team["ws"], title="Ibis before the rebuild")
    command, env = _cli(settings, settings.data_dir, "search", "reindex")
    done = await asyncio.create_subprocess_exec(*command, env=env, stderr=subprocess.PIPE)
    _, err = await asyncio.wait_for(done.communicate(), 60)
    assert done.returncode == 0, err
    assert b"the running server rebuilt" in err
    assert await _titles(api, team["owner"], "ibis") == ["Ibis before the rebuild"]


def test_search_works_with_the_network_blocked(tmp_path: Path) -> None:
    """The engine needs no network: a process whose every non-loopback connection (and name
    lookup) is refused by an audit hook indexes and searches the corpus."""
    script = f"""
import asyncio, socket, sys
def refuse(event, args):
    if event == "socket.getaddrinfo" and args[0] not in ("localhost", "127.0.0.1", "::1"):
        raise OSError("network blocked: " + str(args[0]))
    if event == "socket.connect" and isinstance(args[1], tuple) and not str(args[1][0]).startswith(("127.", "::1")):
        raise OSError("network blocked: " + str(args[1]))
sys.addaudithook(refuse)
try:
    socket.create_connection(("192.0.2.1", 80), timeout=1)
except OSError as exc:
    assert "network blocked" in str(exc), exc
from pathlib import Path
from tests.search.corpus import build, ranked
async def main():
    backend = await build(Path({str(tmp_path)!r}) / "v1")
    print(await ranked(backend, "kubernetse"), await ranked(backend, "onbo"))
    await backend.close()
asyncio.run(main())
"""
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.split("]")[0].startswith("['k8s-")
    assert "'new-hire'" in out.stdout


async def test_filters_match_the_list_filters(api: Api, team: dict[str, Any]) -> None:
    """`search` with a filter returns exactly the notes `notes` lists with the same filter."""
    owner, ws = team["owner"], team["ws"]
    mate = await api.sign_up("Mate")
    await api.add(owner, ws, mate, "EDITOR")
    variants = [
        {"tags": ["a"], "isPinned": True, "priority": "URGENT", "dueDate": "2030-01-01T00:00:00Z"},
        {"tags": ["a", "b"], "assigneeIds": [mate["id"]], "dueDate": "2020-01-01T00:00:00Z"},
        {"priority": "LOW"},
        {"isPinned": True, "tags": ["b"]},
    ]
    for i, extra in enumerate(variants):
        await api.note(owner, ws, title=f"Heron {i}", **extra)
    archived = await api.note(owner, ws, title="Heron archived")
    await api.ok(
        "mutation($id: ID!) { updateNote(id: $id, input: {isArchived: true}) { id } }",
        {"id": archived["id"]},
        token=owner["token"],
    )
    filters: list[dict[str, Any]] = [
        {},
        {"tags": ["a"]},
        {"tags": ["a", "b"]},
        {"isPinned": True},
        {"isPinned": False},
        {"priorities": ["URGENT", "LOW"]},
        {"dueBefore": "2025-01-01T00:00:00Z"},
        {"dueAfter": "2025-01-01T00:00:00Z"},
        {"assigneeId": mate["id"]},
        {"authorId": owner["id"]},
        {"includeArchived": True},
    ]
    for flt in filters:
        listed = await api.ok(
            "query($w: ID, $f: NoteFilter) { notes(workspaceId: $w, filter: $f, first: 100) { nodes { title } } }",
            {"w": ws, "f": flt},
            token=owner["token"],
        )
        expected = sorted(n["title"] for n in listed["notes"]["nodes"])
        assert sorted(await _titles(api, owner, "heron", w=ws, f=flt)) == expected, flt


async def test_a_search_waits_for_the_first_build_then_refuses(
    api: Api, team: dict[str, Any], settings: Settings, tmp_path: Path
) -> None:
    """On a host still building its index, a search waits for the build up to the freshness
    wait: found once the build lands within it, ``SERVICE_UNAVAILABLE`` past it."""
    owner, ws = team["owner"], team["ws"]
    await api.note(owner, ws, title="Pangolin survey")
    backend = TantivyBackend(tmp_path / "v1")
    redis = Redis.from_url(settings.redis_url or "")

    def service(wait_s: float) -> search_service.SearchService:
        return search_service.SearchService(
            backend, redis, Metrics(), freshness_wait_s=wait_s, filter_limit=100
        )

    async def pangolins(wait_s: float) -> list[str]:
        page = await service(wait_s).search(
            parse("q", "pangolin"), viewer_id=owner["id"], workspace_ids=[ws],
            filters=Filters(), scope=ws, first=10, after=None,
        )  # fmt: skip
        return [hit.note_id for hit in page.hits]

    try:
        with pytest.raises(ServiceUnavailable):
            await pangolins(0.2)
        async with standalone_indexer(backend, settings) as indexer:
            waiting = asyncio.create_task(pangolins(30))
            await asyncio.sleep(0.3)
            assert not waiting.done()  # still building: the search waits
            await indexer.rebuild()
            assert len(await waiting) == 1
    finally:
        await redis.aclose()
