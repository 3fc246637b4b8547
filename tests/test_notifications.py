"""Notifications stored for mentions, assignments and new members; listing and marking read."""

from __future__ import annotations

from tests.conftest import Api

LIST = (
    "query($u: Boolean, $f: Int, $a: String) { notifications(unreadOnly: $u, first: $f, after: $a) "
    "{ totalCount unreadCount pageInfo { hasNextPage endCursor } "
    "nodes { id kind message read actor { name } note { id } workspace { id } } } }"
)


async def test_mentions_assignments_and_member_added(api: Api) -> None:
    owner, mate = await api.sign_up("Olga"), await api.sign_up("Mate")
    ws = await api.workspace(owner, "Docs")
    await api.add(owner, ws, mate, "EDITOR")
    note = await api.note(
        owner, ws, title="Plan", assigneeIds=[mate["id"], owner["id"]], mentionIds=[mate["id"]]
    )
    # Re-assigning the same person does not notify again.
    await api.ok(
        "mutation($n: ID!, $a: [ID!]) { updateNote(id: $n, input: {assigneeIds: $a}) { id } }",
        {"n": note["id"], "a": [mate["id"]]},
        token=owner["token"],
    )
    data = (await api.ok(LIST, token=mate["token"]))["notifications"]
    kinds = sorted(n["kind"] for n in data["nodes"])
    assert kinds == ["ASSIGNED", "MEMBER_ADDED", "MENTION"]
    assert data["totalCount"] == 3 and data["unreadCount"] == 3
    by_kind = {n["kind"]: n for n in data["nodes"]}
    assert by_kind["ASSIGNED"]["message"] == "Olga assigned you to “Plan”"
    assert by_kind["ASSIGNED"]["note"] == {"id": note["id"]} and by_kind["MEMBER_ADDED"][
        "workspace"
    ] == {"id": ws}
    assert by_kind["MENTION"]["actor"] == {"name": "Olga"}
    # The actor is never notified of their own doing.
    assert (await api.ok(LIST, token=owner["token"]))["notifications"]["totalCount"] == 0


async def test_paging_and_mark_read(api: Api) -> None:
    owner, mate = await api.sign_up("O"), await api.sign_up("M")
    ws = await api.workspace(owner)
    await api.add(owner, ws, mate, "EDITOR")
    for i in range(4):
        await api.note(owner, ws, title=f"n{i}", mentionIds=[mate["id"]])
    page1 = (await api.ok(LIST, {"f": 3}, token=mate["token"]))["notifications"]
    assert len(page1["nodes"]) == 3 and page1["pageInfo"]["hasNextPage"]
    page2 = (
        await api.ok(LIST, {"f": 3, "a": page1["pageInfo"]["endCursor"]}, token=mate["token"])
    )["notifications"]
    assert len(page2["nodes"]) == 2 and not page2["pageInfo"]["hasNextPage"]
    ids = [n["id"] for n in page1["nodes"]] + [n["id"] for n in page2["nodes"]]
    assert len(set(ids)) == 5
    mark = "mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) }"
    assert (await api.ok(mark, {"ids": ids[:2]}, token=mate["token"])) == {
        "markNotificationsRead": 2
    }
    assert (await api.ok(mark, {"ids": ids[:2]}, token=mate["token"])) == {
        "markNotificationsRead": 0
    }
    # Someone else cannot mark them.
    assert (await api.ok(mark, {"ids": ids}, token=owner["token"])) == {"markNotificationsRead": 0}
    unread = (await api.ok(LIST, {"u": True}, token=mate["token"]))["notifications"]
    assert unread["totalCount"] == 3 and unread["unreadCount"] == 3
    assert (await api.ok(mark, {"ids": None}, token=mate["token"])) == {"markNotificationsRead": 3}
    assert (await api.ok(LIST, token=mate["token"]))["notifications"]["unreadCount"] == 0


async def test_user_text_is_never_a_format_template(api: Api) -> None:
    """Titles, workspace and user names with format fields arrive as typed, bounded."""
    owner, mate = await api.sign_up("{actor!r:>99999999}"), await api.sign_up("Mate")
    ws = await api.workspace(owner, "{actor.__class__.__mro__}")
    await api.add(owner, ws, mate, "VIEWER")
    await api.note(owner, ws, title="{actor:>100000000}", mentionIds=[mate["id"]])
    await api.note(owner, ws, title="{0}{}{{actor}}", assigneeIds=[mate["id"]])
    await api.note(owner, ws, title="%s%(actor)s " + "x" * 180, assigneeIds=[mate["id"]])
    nodes = (await api.ok(LIST, token=mate["token"]))["notifications"]["nodes"]
    messages = sorted(n["message"] for n in nodes)
    actor = "{actor!r:>99999999}"
    assert messages == sorted(
        [
            f"{actor} added you to “{{actor.__class__.__mro__}}” as viewer",
            f"{actor} mentioned you in “{{actor:>100000000}}”",
            f"{actor} assigned you to “{{0}}{{}}{{{{actor}}}}”",
            f"{actor} assigned you to “%s%(actor)s " + "x" * 67 + "…”",
        ]
    )
