"""Workspaces and members: owners manage, the last owner stays, emails only for co-members."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api

ROLE = "mutation($w: ID!, $u: ID!, $r: Role!) { updateMemberRole(workspaceId: $w, userId: $u, role: $r) { role user { id } } }"
REMOVE = "mutation($w: ID!, $u: ID!) { removeMember(workspaceId: $w, userId: $u) }"
WS = "query($w: ID!) { workspace(id: $w) { name description owner { id } viewerRole memberCount members { role user { id } } } }"


async def test_create_update_and_delete_workspace(api: Api) -> None:
    owner = await api.sign_up()
    t = owner["token"]
    created = await api.ok(
        'mutation { createWorkspace(input: {name: "  Team  A ", description: "About"}) '
        "{ id name description viewerRole memberCount owner { id } members { role joinedAt } } }",
        token=t,
    )
    ws = created["createWorkspace"]
    assert ws["name"] == "Team A" and ws["viewerRole"] == "OWNER" and ws["memberCount"] == 1
    assert ws["owner"]["id"] == owner["id"] and ws["members"][0]["role"] == "OWNER"
    upd = "mutation($w: ID!, $i: UpdateWorkspaceInput!) { updateWorkspace(id: $w, input: $i) { name description } }"
    renamed = await api.ok(upd, {"w": ws["id"], "i": {"name": "Team B"}}, token=t)
    assert renamed["updateWorkspace"] == {"name": "Team B", "description": "About"}
    cleared = await api.ok(upd, {"w": ws["id"], "i": {"description": None}}, token=t)
    assert cleared["updateWorkspace"] == {"name": "Team B", "description": None}
    bad = await api.gql(upd, {"w": ws["id"], "i": {"name": ""}}, token=t)
    assert bad.codes == ["BAD_USER_INPUT"] and bad.errors[0]["extensions"]["field"] == "input.name"
    note = await api.note(owner, ws["id"])
    assert (
        await api.ok("mutation($w: ID!) { deleteWorkspace(id: $w) }", {"w": ws["id"]}, token=t)
    ) == {"deleteWorkspace": ws["id"]}
    assert (await api.ok(WS, {"w": ws["id"]}, token=t)) == {"workspace": None}
    assert (await api.ok("query($n: ID!) { note(id: $n) { id } }", {"n": note["id"]}, token=t)) == {
        "note": None
    }


async def test_members_roles_and_the_last_owner(api: Api) -> None:
    owner, other = await api.sign_up("Owner"), await api.sign_up("Other")
    ws = await api.workspace(owner)
    await api.add(owner, ws, other, "VIEWER")
    again = await api.gql(
        "mutation($w: ID!, $e: String!) { addMember(workspaceId: $w, email: $e, role: EDITOR) { role } }",
        {"w": ws, "e": other["email"]},
        token=owner["token"],
    )
    assert again.codes == ["CONFLICT"]
    nobody = await api.gql(
        'mutation($w: ID!) { addMember(workspaceId: $w, email: "ghost@example.com", role: EDITOR) { role } }',
        {"w": ws},
        token=owner["token"],
    )
    assert nobody.codes == ["NOT_FOUND"]
    # The only owner can neither be demoted nor leave.
    demote = await api.gql(ROLE, {"w": ws, "u": owner["id"], "r": "EDITOR"}, token=owner["token"])
    assert demote.codes == ["CONFLICT"]
    leave = await api.gql(REMOVE, {"w": ws, "u": owner["id"]}, token=owner["token"])
    assert leave.codes == ["CONFLICT"]
    # With a second owner, the first may leave; Workspace.owner moves to the remaining owner.
    promoted = await api.ok(ROLE, {"w": ws, "u": other["id"], "r": "OWNER"}, token=owner["token"])
    assert promoted["updateMemberRole"] == {"role": "OWNER", "user": {"id": other["id"]}}
    assert (await api.ok(REMOVE, {"w": ws, "u": owner["id"]}, token=owner["token"])) == {
        "removeMember": owner["id"]
    }
    after = (await api.ok(WS, {"w": ws}, token=other["token"]))["workspace"]
    assert after["owner"]["id"] == other["id"] and after["memberCount"] == 1
    assert (await api.ok(WS, {"w": ws}, token=owner["token"])) == {"workspace": None}


async def test_a_member_may_leave(api: Api) -> None:
    owner, viewer = await api.sign_up(), await api.sign_up()
    ws = await api.workspace(owner)
    await api.add(owner, ws, viewer, "VIEWER")
    assert (await api.ok(REMOVE, {"w": ws, "u": viewer["id"]}, token=viewer["token"])) == {
        "removeMember": viewer["id"]
    }
    assert (await api.ok(WS, {"w": ws}, token=viewer["token"])) == {"workspace": None}


async def test_email_visible_only_to_self_and_co_members(api: Api) -> None:
    alice, bob, carol = (
        await api.sign_up("Alice"),
        await api.sign_up("Bob"),
        await api.sign_up("Carol"),
    )
    ws = await api.workspace(alice)
    await api.add(alice, ws, bob, "EDITOR")
    note = await api.note(bob, ws, mentionIds=[alice["id"]])
    query = "query($n: ID!) { note(id: $n) { author { email } mentions { email } } }"
    seen_by_alice = await api.ok(query, {"n": note["id"]}, token=alice["token"])
    assert seen_by_alice["note"] == {
        "author": {"email": bob["email"]},
        "mentions": [{"email": alice["email"]}],
    }
    # Carol shares no workspace with Bob: she cannot even see the note.
    assert (await api.ok(query, {"n": note["id"]}, token=carol["token"])) == {"note": None}
    # Once Carol joins another of Alice's workspaces, she sees Alice's email but not Bob's.
    other = await api.workspace(alice, "Other")
    await api.add(alice, other, carol, "VIEWER")
    data = await api.ok(
        "query($w: ID!) { workspace(id: $w) { members { user { name email } } } }",
        {"w": other},
        token=carol["token"],
    )
    emails = {m["user"]["name"]: m["user"]["email"] for m in data["workspace"]["members"]}
    assert emails == {"Alice": alice["email"], "Carol": carol["email"]}


async def test_workspaces_list_and_counts(api: Api) -> None:
    owner = await api.sign_up()
    first, second = await api.workspace(owner, "One"), await api.workspace(owner, "Two")
    for i in range(3):
        await api.note(owner, first, tags=["a", "b"] if i else ["b"])
    data = await api.ok(
        "{ workspaces { id name noteCount tags { tag count } } }", token=owner["token"]
    )
    by_id: dict[str, Any] = {w["id"]: w for w in data["workspaces"]}
    assert [w["name"] for w in data["workspaces"]] == ["One", "Two"]
    assert by_id[first]["noteCount"] == 3 and by_id[second]["noteCount"] == 0
    assert by_id[first]["tags"] == [{"tag": "b", "count": 3}, {"tag": "a", "count": 2}]
