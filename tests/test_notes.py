"""Notes: writes, validation, sanitized Markdown, search, optimistic concurrency, bulk."""

from __future__ import annotations

import asyncio
from html.parser import HTMLParser
from typing import Any

import pytest

from tests.conftest import Api

NOTE_FIELDS = "id title content contentHtml tags isPinned priority dueDate isArchived version"
UPDATE = (
    "mutation($id: ID!, $i: UpdateNoteInput!, $v: Int) "
    "{ updateNote(id: $id, input: $i, expectedVersion: $v) { " + NOTE_FIELDS + " } }"
)


@pytest.fixture
async def team(api: Api) -> dict[str, Any]:
    owner = await api.sign_up("Owner")
    ws = await api.workspace(owner)
    return {"owner": owner, "ws": ws}


async def test_create_normalizes_and_returns_every_field(api: Api, team: dict[str, Any]) -> None:
    data = await api.ok(
        "mutation($i: CreateNoteInput!) { createNote(input: $i) { "
        + NOTE_FIELDS
        + " author { id } "
        "workspace { id } lastEditedBy { id } createdAt updatedAt } }",
        {
            "i": {
                "workspaceId": team["ws"],
                "title": "  Launch\u0000  plan \t ",
                "content": "# Goals\r\n\r\nShip it\u0007.",
                "tags": ["Release", " release ", "Q4"],
                "priority": "HIGH",
                "dueDate": "2030-01-02T03:04:05+02:00",
            }
        },
        token=team["owner"]["token"],
    )
    note = data["createNote"]
    assert note["title"] == "Launch plan"
    assert note["content"] == "# Goals\n\nShip it."
    assert note["tags"] == ["release", "q4"]
    assert note["priority"] == "HIGH"
    assert note["dueDate"] == "2030-01-02T01:04:05.000Z"
    assert note["version"] == 1 and note["isPinned"] is False and note["isArchived"] is False
    assert note["author"]["id"] == team["owner"]["id"] == note["lastEditedBy"]["id"]
    assert note["workspace"]["id"] == team["ws"]
    assert note["contentHtml"].startswith("<h1>Goals</h1>")
    assert note["createdAt"].endswith("Z")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": ""}, "input.title"),
        ({"title": "x" * 201}, "input.title"),
        ({"content": "x" * 100_001}, "input.content"),
        ({"tags": [f"t{i}" for i in range(21)]}, "input.tags"),
        ({"tags": ["x" * 41]}, "input.tags"),
        ({"assigneeIds": ["nope"]}, "input.assigneeIds"),
        ({"assigneeIds": ["0123456789abcdef01234567"]}, "input.assigneeIds"),
    ],
)
async def test_invalid_note_input(
    api: Api, team: dict[str, Any], fields: dict[str, Any], field: str
) -> None:
    reply = await api.gql(
        "mutation($i: CreateNoteInput!) { createNote(input: $i) { id } }",
        {"i": {"workspaceId": team["ws"], "title": "ok", **fields}},
        token=team["owner"]["token"],
    )
    assert reply.codes == ["BAD_USER_INPUT"]
    assert reply.errors[0]["extensions"]["field"] == field


async def test_wrongly_typed_variables_are_bad_user_input(api: Api, team: dict[str, Any]) -> None:
    reply = await api.gql(
        "mutation($i: CreateNoteInput!) { createNote(input: $i) { id } }",
        {"i": {"workspaceId": team["ws"], "title": 5, "dueDate": "yesterday"}},
        token=team["owner"]["token"],
    )
    assert set(reply.codes) == {"BAD_USER_INPUT"}
    assert reply.status == 200


XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "![x](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=//evil></iframe>",
    "<svg onload=alert(1)>",
    "[x](JaVaScRiPt:alert(1))",
    '<div style="background:url(javascript:alert(1))">x</div>',
]


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def _elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every real element (not escaped text) of an HTML fragment, with its attributes."""
    parser = _Elements()
    parser.feed(html)
    return parser.found


async def test_content_html_is_sanitized(api: Api, team: dict[str, Any]) -> None:
    for payload in XSS:
        note = await api.note(team["owner"], team["ws"], content=f"hello {payload} **bold**")
        html = (
            await api.ok(
                "query($id: ID!) { note(id: $id) { contentHtml excerpt(length: 30) } }",
                {"id": note["id"]},
                token=team["owner"]["token"],
            )
        )["note"]
        tags = _elements(html["contentHtml"])
        for tag, attrs in tags:
            assert tag in {"p", "strong", "a", "img"}, (payload, html["contentHtml"])
            for name, value in attrs:
                assert not name.startswith("on"), (payload, html["contentHtml"])
                assert name != "style", (payload, html["contentHtml"])
                assert not (value or "").strip().lower().startswith("javascript:"), payload
        assert ("strong", []) in tags
        # The excerpt is plain text: what the user typed, never markup to render.
        assert html["excerpt"].startswith("hello")


async def test_markdown_renders_links_safely_and_excerpt_is_plain(
    api: Api, team: dict[str, Any]
) -> None:
    content = "## Title\n\nSee [docs](https://example.com) and `code`.\n\n" + "word " * 100
    note = await api.note(team["owner"], team["ws"], content=content)
    data = await api.ok(
        "query($id: ID!) { note(id: $id) { contentHtml short: excerpt(length: 40) full: excerpt } }",
        {"id": note["id"]},
        token=team["owner"]["token"],
    )
    n = data["note"]
    assert (
        '<a href="https://example.com" rel="noopener noreferrer nofollow">docs</a>'
        in n["contentHtml"]
    )
    assert n["short"].startswith("Title See docs and code.")
    assert len(n["short"]) <= 40 and n["short"].endswith("…")
    assert len(n["full"]) <= 160 and "<" not in n["full"]


async def test_update_changes_only_given_fields_and_null_due_date_clears(
    api: Api, team: dict[str, Any]
) -> None:
    note = await api.note(
        team["owner"], team["ws"], title="Old", tags=["a"], dueDate="2031-05-01T00:00:00Z"
    )
    t = team["owner"]["token"]
    updated = (await api.ok(UPDATE, {"id": note["id"], "i": {"title": "New"}}, token=t))[
        "updateNote"
    ]
    assert updated["title"] == "New" and updated["tags"] == ["a"]
    assert updated["dueDate"] == "2031-05-01T00:00:00.000Z" and updated["version"] == 2
    cleared = (await api.ok(UPDATE, {"id": note["id"], "i": {"dueDate": None}}, token=t))[
        "updateNote"
    ]
    assert cleared["dueDate"] is None and cleared["title"] == "New" and cleared["version"] == 3
    refused = await api.gql(UPDATE, {"id": note["id"], "i": {"title": None}}, token=t)
    assert refused.codes == ["BAD_USER_INPUT"]


async def test_expected_version_conflict_is_atomic(api: Api, team: dict[str, Any]) -> None:
    note = await api.note(team["owner"], team["ws"])
    t = team["owner"]["token"]
    # Ten concurrent writers all expecting version 1: exactly one wins.
    replies = await asyncio.gather(
        *(
            api.gql(UPDATE, {"id": note["id"], "i": {"title": f"w{i}"}, "v": 1}, token=t)
            for i in range(10)
        )
    )
    winners = [r for r in replies if not r.errors]
    assert len(winners) == 1
    assert all(r.codes == ["CONFLICT"] for r in replies if r.errors)
    final = await api.ok(
        "query($id: ID!) { note(id: $id) { title version } }", {"id": note["id"]}, token=t
    )
    assert final["note"] == {"title": winners[0].data["updateNote"]["title"], "version": 2}


async def test_unknown_ids(api: Api, team: dict[str, Any]) -> None:
    t = team["owner"]["token"]
    missing = "0123456789abcdef01234567"
    assert (await api.ok("query($id: ID!) { note(id: $id) { id } }", {"id": missing}, token=t)) == {
        "note": None
    }
    assert (
        await api.gql("mutation($id: ID!) { deleteNote(id: $id) }", {"id": missing}, token=t)
    ).codes == ["NOT_FOUND"]
    bad = await api.gql("query($id: ID!) { workspace(id: $id) { id } }", {"id": "zzz"}, token=t)
    assert bad.codes == ["BAD_USER_INPUT"] and bad.errors[0]["extensions"]["field"] == "id"


async def test_delete_note(api: Api, team: dict[str, Any]) -> None:
    note = await api.note(team["owner"], team["ws"])
    t = team["owner"]["token"]
    assert (
        await api.ok("mutation($id: ID!) { deleteNote(id: $id) }", {"id": note["id"]}, token=t)
    ) == {"deleteNote": note["id"]}
    assert (
        await api.ok("query($id: ID!) { note(id: $id) { id } }", {"id": note["id"]}, token=t)
    ) == {"note": None}


async def test_search_is_literal_case_insensitive_and_bounded(
    api: Api, team: dict[str, Any]
) -> None:
    t, ws = team["owner"]["token"], team["ws"]
    await api.note(team["owner"], ws, title="Budget (Q3) review", content="numbers")
    await api.note(team["owner"], ws, title="Lunch", content="Pizza *and* salad", tags=["food"])
    await api.note(team["owner"], ws, title="Other")
    query = "query($w: ID!, $s: String) { notes(workspaceId: $w, filter: {search: $s}) { nodes { title } } }"

    async def titles(text: str) -> list[str]:
        data = await api.ok(query, {"w": ws, "s": text}, token=t)
        return sorted(n["title"] for n in data["notes"]["nodes"])

    assert await titles("budget (q3") == ["Budget (Q3) review"]  # parentheses are literal
    assert await titles("*AND*") == ["Lunch"]
    assert await titles("FOOD") == ["Lunch"]  # tags match too
    assert await titles(".*") == []  # no regex semantics
    assert await titles("(a+)+$") == []  # a catastrophic pattern is just text
    too_long = await api.gql(query, {"w": ws, "s": "x" * 101}, token=t)
    assert too_long.codes == ["BAD_USER_INPUT"]
    assert too_long.errors[0]["extensions"]["field"] == "filter.search"


async def test_filters(api: Api, team: dict[str, Any]) -> None:
    owner, ws, t = team["owner"], team["ws"], team["owner"]["token"]
    mate = await api.sign_up("Mate")
    await api.add(owner, ws, mate, "EDITOR")
    await api.note(
        owner,
        ws,
        title="a",
        tags=["x", "y"],
        isPinned=True,
        priority="URGENT",
        dueDate="2030-01-01T00:00:00Z",
        assigneeIds=[mate["id"]],
    )
    await api.note(mate, ws, title="b", tags=["x"], priority="LOW", dueDate="2030-06-01T00:00:00Z")
    archived = await api.note(owner, ws, title="c")
    await api.ok(UPDATE, {"id": archived["id"], "i": {"isArchived": True}}, token=t)
    query = "query($w: ID!, $f: NoteFilter) { notes(workspaceId: $w, filter: $f) { nodes { title } totalCount } }"

    async def titles(f: dict[str, Any]) -> list[str]:
        data = (await api.ok(query, {"w": ws, "f": f}, token=t))["notes"]
        assert data["totalCount"] == len(data["nodes"])
        return sorted(n["title"] for n in data["nodes"])

    assert await titles({}) == ["a", "b"]
    assert await titles({"includeArchived": True}) == ["a", "b", "c"]
    assert await titles({"tags": ["x", "y"]}) == ["a"]
    assert await titles({"isPinned": True}) == ["a"]
    assert await titles({"priorities": ["LOW", "MEDIUM"]}) == ["b"]
    assert await titles({"dueBefore": "2030-03-01T00:00:00Z"}) == ["a"]
    assert await titles({"dueAfter": "2030-03-01T00:00:00Z"}) == ["b"]
    assert await titles({"authorId": mate["id"]}) == ["b"]
    assert await titles({"assigneeId": mate["id"]}) == ["a"]


async def test_bulk_update_and_delete_report_per_id(api: Api, team: dict[str, Any]) -> None:
    owner, ws = team["owner"], team["ws"]
    stranger = await api.sign_up("Stranger")
    their_ws = await api.workspace(stranger)
    theirs = await api.note(stranger, their_ws, title="Not yours")
    mine = [await api.note(owner, ws, title=f"n{i}") for i in range(3)]
    missing = "0123456789abcdef01234567"
    ids = [n["id"] for n in mine] + [theirs["id"], missing, mine[0]["id"]]
    data = await api.ok(
        "mutation($ids: [ID!]!) { bulkUpdateNotes(ids: $ids, input: {isPinned: true, priority: URGENT}) "
        "{ succeededIds failures { id code message } } }",
        {"ids": ids},
        token=owner["token"],
    )
    result = data["bulkUpdateNotes"]
    assert sorted(result["succeededIds"]) == sorted(n["id"] for n in mine)
    assert {(f["id"], f["code"]) for f in result["failures"]} == {
        (theirs["id"], "NOT_FOUND"),
        (missing, "NOT_FOUND"),
    }
    check = await api.ok(
        "query($id: ID!) { note(id: $id) { isPinned priority version } }",
        {"id": theirs["id"]},
        token=stranger["token"],
    )
    assert check["note"] == {"isPinned": False, "priority": "MEDIUM", "version": 1}
    pinned = await api.ok(
        "query($w: ID!) { notes(workspaceId: $w, filter: {isPinned: true}) { totalCount nodes { version } } }",
        {"w": ws},
        token=owner["token"],
    )
    assert pinned["notes"]["totalCount"] == 3 and {
        n["version"] for n in pinned["notes"]["nodes"]
    } == {2}
    deleted = await api.ok(
        "mutation($ids: [ID!]!) { bulkDeleteNotes(ids: $ids) { succeededIds failures { id code } } }",
        {"ids": [mine[0]["id"], theirs["id"]]},
        token=owner["token"],
    )
    assert deleted["bulkDeleteNotes"] == {
        "succeededIds": [mine[0]["id"]],
        "failures": [{"id": theirs["id"], "code": "NOT_FOUND"}],
    }
    assert (
        await api.ok(
            "query($id: ID!) { note(id: $id) { id } }",
            {"id": theirs["id"]},
            token=stranger["token"],
        )
    )["note"]
    too_many = await api.gql(
        "mutation($ids: [ID!]!) { bulkDeleteNotes(ids: $ids) { succeededIds } }",
        {"ids": [missing] * 101},
        token=owner["token"],
    )
    assert too_many.codes == ["BAD_USER_INPUT"]
