"""Smaller leaks over HTTP: suggestions, /metrics, look-alike accounts, member lookups."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from notes_bff.confusables import email_skeleton
from notes_bff.migrations import backfill_email_skeletons
from notes_bff.models import User
from tests.conftest import Api
from tests.ws import GraphQLSocket

CREATE_NOTE = "mutation($i: CreateNoteInput!) { createNote(input: $i) { id } }"
SORTED = "query($s: NoteSort) { notes(sort: $s) { totalCount } }"
# Each names something that exists only in a "Did you mean …?" (shown in development).
TYPOS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("field", "{ me { nmae } }", None),
    ("argument", "{ notes(sortt: CREATED_AT_DESC) { totalCount } }", None),
    ("type", "query($s: NoteSrt) { notes(sort: $s) { totalCount } }", None),
    ("fragment type", "{ me { ...F } } fragment F on Usr { id }", None),
    ("enum literal", "{ notes(sort: CREATED_AT_DES) { totalCount } }", None),
    (
        "input literal field",
        'mutation { createNote(input: {workspaceId: "x", title: "t", tagz: []}) { id } }',
        None,
    ),
    (
        "enum in an input literal",
        'mutation { createNote(input: {workspaceId: "x", title: "t", priority: HIHG}) { id } }',
        None,
    ),
    ("variable input field", CREATE_NOTE, {"i": {"workspaceId": "x", "title": "t", "tagz": []}}),
    (
        "enum in a variable input",
        CREATE_NOTE,
        {"i": {"workspaceId": "x", "title": "t", "priority": "HIHG"}},
    ),
    ("variable enum", SORTED, {"s": "CREATED_AT_DES"}),
]
SIGN_UP = "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { id email } } }"
LOG_IN = "mutation($i: LogInInput!) { logIn(input: $i) { user { email } } }"
ADD_MEMBER = (
    "mutation($w: ID!, $e: String!) { addMember(workspaceId: $w, email: $e, role: VIEWER) "
    "{ role } }"
)
TOKEN = "metrics-" + "t" * 40


async def test_no_suggestion_on_any_path_in_production(api: Api, other_app: Any) -> None:
    async with other_app(field_suggestions=False) as hardened:
        for name, query, variables in TYPOS:
            development = await api.gql(query, variables)
            assert "Did you mean" in development.errors[0]["message"], name
            reply = await hardened.gql(query, variables)
            assert reply.codes == development.codes, name
            assert reply.status == development.status, name
            assert all("Did you mean" not in e["message"] for e in reply.errors), (name, reply)


async def test_no_suggestion_over_websockets_in_production(other_app: Any) -> None:
    async with other_app(field_suggestions=False) as hardened:
        url = str(hardened.client.make_url("/graphql"))
        user = await hardened.sign_up()
        socket = await GraphQLSocket.open(hardened.client.session, url, token=user["token"])
        try:
            for query, variables in [
                (SORTED, {"s": "CREATED_AT_DES"}),
                ('subscription { noteChangd(id: "x") { kind } }', None),
            ]:
                result = await socket.next(await socket.subscribe(query, variables))
                assert result["errors"], result
                assert all("Did you mean" not in e["message"] for e in result["errors"])
        finally:
            await socket.close()


async def _metrics(api: Api, headers: dict[str, str] | None = None) -> tuple[int, str]:
    resp = await api.client.get("/metrics", headers=headers or {})
    return resp.status, await resp.text()


async def test_metrics_are_open_in_development(api: Api) -> None:
    status, text = await _metrics(api)
    assert status == 200
    assert "notes_bff_" in text


async def test_metrics_are_not_served_in_production_without_a_token(other_app: Any) -> None:
    async with other_app(env="production") as production:
        unknown = await production.client.get("/no-such-path")
        assert await _metrics(production) == (unknown.status, await unknown.text())
        assert unknown.status == 404


@pytest.mark.parametrize("env", ["production", "development"])
async def test_metrics_token_is_required_where_set(other_app: Any, env: str) -> None:
    async with other_app(env=env, metrics_token=TOKEN) as app:
        assert (await _metrics(app))[0] == 404
        assert (await _metrics(app, {"Authorization": f"Bearer {TOKEN}x"}))[0] == 404
        assert (await _metrics(app, {"Authorization": TOKEN}))[0] == 404
        status, text = await _metrics(app, {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200
        assert "notes_bff_" in text


async def _sign_up(api: Api, address: str) -> Any:
    return await api.gql(
        SIGN_UP, {"i": {"email": address, "password": "correct horse", "name": "Someone"}}
    )


def _local() -> str:
    return f"look{secrets.token_hex(4)}"


async def test_look_alike_addresses_cannot_sign_up_beside_the_real_one(api: Api) -> None:
    local = _local()
    real = f"{local}@example.com"
    assert not (await _sign_up(api, real)).errors
    duplicate = (await _sign_up(api, real)).errors
    assert [e["extensions"]["code"] for e in duplicate] == ["CONFLICT"]
    cyrillic = local.replace("o", "\u043e", 1)  # Cyrillic o
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in local)
    for look_alike in (
        f"{cyrillic}@example.com",
        f"{local}@ex\u0430mple.com",  # Cyrillic a in the domain
        f"{local.upper()}@EXAMPLE.COM",
        f"{full_width}@example.com",
    ):
        reply = await _sign_up(api, look_alike)
        assert reply.errors == duplicate, look_alike
    # Log-in looks the account up by its normalized address: full-width letters are the
    # plain ones (NFKC), another script is another address.
    given = {"password": "correct horse"}
    assert (await api.ok(LOG_IN, {"i": {**given, "email": f"{full_width}@example.com"}}))["logIn"][
        "user"
    ]["email"] == real
    wrong = await api.gql(LOG_IN, {"i": {**given, "email": f"{cyrillic}@example.com"}})
    assert wrong.codes == ["UNAUTHENTICATED"]


async def test_distinct_addresses_still_sign_up(api: Api) -> None:
    local = _local()
    for address in (f"{local}a@example.com", f"{local}b@example.com", f"{local}\u00e9@example.com"):
        reply = await _sign_up(api, address)
        assert not reply.errors, (address, reply.errors)
        assert reply.data["signUp"]["user"]["email"] == address


async def test_accounts_from_before_skeletons_get_one_at_start_up(api: Api) -> None:
    """The unique index is partial (accounts without a skeleton are outside it, not duplicate
    nulls); the start-up backfill gives them one and reports look-alikes among them."""
    local = _local()
    cyrillic = local.replace("o", "\u043e", 1)
    users = User.get_pymongo_collection()
    legacy = [
        {"email": f"{address}@example.com", "name": "Old", "password_hash": "x"}
        for address in (local, cyrillic, f"{local}2")
    ]
    ids = (await users.insert_many(legacy)).inserted_ids
    try:
        index = (await users.index_information())["email_skeleton_unique"]
        assert index["unique"]
        assert index["partialFilterExpression"] == {"email_skeleton": {"$exists": True}}
        assert await backfill_email_skeletons() == [ids[1]]
        assert await backfill_email_skeletons() == [ids[1]]  # idempotent
        stored = {
            d["_id"]: d.get("email_skeleton") async for d in users.find({"_id": {"$in": ids}})
        }
        assert stored[ids[0]] == email_skeleton(f"{local}@example.com")
        assert stored[ids[1]] is None
        assert stored[ids[2]]
        reply = await _sign_up(api, f"{local.upper()}@example.com")
        assert reply.codes == ["CONFLICT"]
    finally:
        await users.delete_many({"_id": {"$in": ids}})


async def _add(app: Api, owner: dict[str, Any], workspace: str, address: str) -> Any:
    return await app.gql(ADD_MEMBER, {"w": workspace, "e": address}, token=owner["token"])


async def test_add_member_lookups_that_miss_spend_a_budget(other_app: Any) -> None:
    async with other_app(member_lookup_misses=2) as app:
        owner, other, third = [await app.sign_up(n) for n in ("Owner", "Other", "Third")]
        workspace = await app.workspace(owner)
        # Finding an account costs nothing, whatever follows.
        assert not (await _add(app, owner, workspace, other["email"])).errors
        for _ in range(2):
            assert (await _add(app, owner, workspace, other["email"])).codes == ["CONFLICT"]
        assert (await _add(app, owner, workspace, f"{_local()}@example.com")).codes == ["NOT_FOUND"]
        assert (await _add(app, owner, workspace, f"{_local()}@example.com")).codes == ["NOT_FOUND"]
        for address in (f"{_local()}@example.com", third["email"]):
            refused = await _add(app, owner, workspace, address)
            assert refused.status == 429
            assert refused.codes == ["RATE_LIMITED"]
            assert refused.errors[0]["extensions"]["retryAfter"] >= 1
        # Another owner has a budget of their own.
        second = await app.workspace(other)
        assert (await _add(app, other, second, f"{_local()}@example.com")).codes == ["NOT_FOUND"]


async def test_add_member_lookups_that_miss_are_also_limited_per_address(other_app: Any) -> None:
    async with other_app(member_lookup_misses_per_ip=2) as app:
        codes = []
        for _ in range(3):
            owner = await app.sign_up("Owner")
            reply = await _add(app, owner, await app.workspace(owner), f"{_local()}@example.com")
            codes.append(reply.codes)
        assert codes == [["NOT_FOUND"], ["NOT_FOUND"], ["RATE_LIMITED"]]


async def test_only_owners_look_accounts_up(api: Api) -> None:
    owner = await api.sign_up("Owner")
    editor = await api.sign_up("Editor")
    workspace = await api.workspace(owner)
    await api.add(owner, workspace, editor, "EDITOR")
    reply = await api.gql(ADD_MEMBER, {"w": workspace, "e": owner["email"]}, token=editor["token"])
    assert reply.codes == ["FORBIDDEN"]
