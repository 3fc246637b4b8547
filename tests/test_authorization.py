"""The authorization matrix: every role against every mutation and id-taking query."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api

ROLES = ["owner", "editor", "viewer", "outsider", "anonymous"]
OK = "ok"
NULL = "null"

# operation -> (GraphQL document, expected outcome per role)
MATRIX: dict[str, tuple[str, dict[str, str]]] = {
    "workspace": (
        "query($w: ID!) { workspace(id: $w) { id } }",
        {"owner": OK, "editor": OK, "viewer": OK, "outsider": NULL, "anonymous": "UNAUTHENTICATED"},
    ),
    "note": (
        "query($n: ID!) { note(id: $n) { id } }",
        {"owner": OK, "editor": OK, "viewer": OK, "outsider": NULL, "anonymous": "UNAUTHENTICATED"},
    ),
    "notes": (
        "query($w: ID!) { notes(workspaceId: $w) { nodes { id } } }",
        {
            "owner": OK,
            "editor": OK,
            "viewer": OK,
            "outsider": "empty",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    "updateWorkspace": (
        'mutation($w: ID!) { updateWorkspace(id: $w, input: {name: "Renamed"}) { name } }',
        {
            "owner": OK,
            "editor": "FORBIDDEN",
            "viewer": "FORBIDDEN",
            "outsider": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    "deleteWorkspace": (
        "mutation($w: ID!) { deleteWorkspace(id: $w) }",
        {
            "owner": OK,
            "editor": "FORBIDDEN",
            "viewer": "FORBIDDEN",
            "outsider": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    "addMember": (
        "mutation($w: ID!, $e: String!) { addMember(workspaceId: $w, email: $e, role: VIEWER) { role } }",
        {
            "owner": OK,
            "editor": "FORBIDDEN",
            "viewer": "FORBIDDEN",
            "outsider": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    "updateMemberRole": (
        "mutation($w: ID!, $u: ID!) { updateMemberRole(workspaceId: $w, userId: $u, role: EDITOR) { role } }",
        {
            "owner": OK,
            "editor": "FORBIDDEN",
            "viewer": "FORBIDDEN",
            "outsider": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    "removeMember": (
        "mutation($w: ID!, $u: ID!) { removeMember(workspaceId: $w, userId: $u) }",
        {
            "owner": OK,
            "editor": "FORBIDDEN",
            "viewer": "FORBIDDEN",
            "outsider": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    "createNote": (
        'mutation($w: ID!) { createNote(input: {workspaceId: $w, title: "T"}) { id } }',
        {
            "owner": OK,
            "editor": OK,
            "viewer": "FORBIDDEN",
            "outsider": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    "updateNote": (
        'mutation($n: ID!) { updateNote(id: $n, input: {title: "T2"}) { title } }',
        {
            "owner": OK,
            "editor": OK,
            "viewer": "FORBIDDEN",
            "outsider": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    "deleteNote": (
        "mutation($n: ID!) { deleteNote(id: $n) }",
        {
            "owner": OK,
            "editor": OK,
            "viewer": "FORBIDDEN",
            "outsider": "NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    "bulkUpdateNotes": (
        "mutation($n: ID!) { bulkUpdateNotes(ids: [$n], input: {isPinned: true}) "
        "{ succeededIds failures { id code } } }",
        {
            "owner": OK,
            "editor": OK,
            "viewer": "bulk:FORBIDDEN",
            "outsider": "bulk:NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    "bulkDeleteNotes": (
        "mutation($n: ID!) { bulkDeleteNotes(ids: [$n]) { succeededIds failures { id code } } }",
        {
            "owner": OK,
            "editor": OK,
            "viewer": "bulk:FORBIDDEN",
            "outsider": "bulk:NOT_FOUND",
            "anonymous": "UNAUTHENTICATED",
        },
    ),
    "createWorkspace": (
        'mutation { createWorkspace(input: {name: "Mine"}) { id viewerRole } }',
        {"owner": OK, "editor": OK, "viewer": OK, "outsider": OK, "anonymous": "UNAUTHENTICATED"},
    ),
    "markNotificationsRead": (
        "mutation { markNotificationsRead }",
        {"owner": OK, "editor": OK, "viewer": OK, "outsider": OK, "anonymous": "UNAUTHENTICATED"},
    ),
    "dashboard": (
        "{ dashboard { recent { id } } }",
        {"owner": OK, "editor": OK, "viewer": OK, "outsider": OK, "anonymous": "UNAUTHENTICATED"},
    ),
    "notifications": (
        "{ notifications { totalCount } }",
        {"owner": OK, "editor": OK, "viewer": OK, "outsider": OK, "anonymous": "UNAUTHENTICATED"},
    ),
}


async def _world(api: Api) -> dict[str, Any]:
    owner, editor, viewer, outsider, target = [
        await api.sign_up(n) for n in ("Owner", "Editor", "Viewer", "Outsider", "Target")
    ]
    ws = await api.workspace(owner)
    await api.add(owner, ws, editor, "EDITOR")
    await api.add(owner, ws, viewer, "VIEWER")
    await api.add(owner, ws, target, "VIEWER")
    note = await api.note(owner, ws, title="Secret plan")
    newcomer = await api.sign_up("Newcomer")
    return {
        "users": {"owner": owner, "editor": editor, "viewer": viewer, "outsider": outsider},
        "vars": {"w": ws, "n": note["id"], "u": target["id"], "e": newcomer["email"]},
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", list(MATRIX))
async def test_authorization_matrix(api: Api, operation: str, role: str) -> None:
    document, expected = MATRIX[operation]
    world = await _world(api)
    user = world["users"].get(role)
    names = {name for name in ("w", "n", "u", "e") if f"${name}" in document}
    variables = {k: v for k, v in world["vars"].items() if k in names}
    reply = await api.gql(document, variables, token=user["token"] if user else None)
    outcome = expected[role]
    if outcome == OK:
        assert not reply.errors, reply.errors
        value = next(iter(reply.data.values()))
        assert value is not None
        if operation.startswith("bulk"):
            assert value["succeededIds"] == [world["vars"]["n"]]
    elif outcome == NULL:
        assert not reply.errors and next(iter(reply.data.values())) is None
    elif outcome == "empty":
        assert not reply.errors and reply.data["notes"]["nodes"] == []
    elif outcome.startswith("bulk:"):
        value = next(iter(reply.data.values()))
        assert value["succeededIds"] == []
        assert value["failures"] == [{"id": world["vars"]["n"], "code": outcome[5:]}]
    else:
        assert reply.codes == [outcome], reply.errors
    # Whatever a refused caller tried, the note and the workspace are unchanged.
    if outcome not in (OK,):
        owner = world["users"]["owner"]
        check = await api.ok(
            "query($w: ID!, $n: ID!) { workspace(id: $w) { name memberCount } "
            "note(id: $n) { title isPinned } }",
            {"w": world["vars"]["w"], "n": world["vars"]["n"]},
            token=owner["token"],
        )
        assert check == {
            "workspace": {"name": "Team", "memberCount": 4},
            "note": {"title": "Secret plan", "isPinned": False},
        }
