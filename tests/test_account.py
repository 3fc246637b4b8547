"""The Settings micro-frontend's account operations over HTTP and websockets: the profile,
changing the password, and the list of signed-in sessions (docs/settings.md)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import WSMsgType

from tests.conftest import Api
from tests.ws import TRANSPORT_WS, GraphQLSocket

PASSWORD = "correct horse"
ME = "{ me { id name avatarUrl timeZone locale } }"
UPDATE = "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { %s } }"
CHANGE = (
    "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n)"
    " { accessToken refreshToken user { id } } }"
)
LOG_IN = "mutation($i: LogInInput!) { logIn(input: $i) { accessToken refreshToken } }"
REFRESH = "mutation($t: String) { refreshSession(refreshToken: $t) { accessToken refreshToken } }"
SESSIONS = "{ sessions { id createdAt lastUsedAt userAgent clientAddress current } }"
REVOKE = "mutation($id: ID!) { revokeSession(id: $id) }"
REVOKE_OTHERS = "mutation { revokeOtherSessions }"


async def _log_in(api: Api, user: dict[str, Any], agent: str, password: str = PASSWORD) -> Any:
    credentials = {"i": {"email": user["email"], "password": password}}
    data = await api.ok(LOG_IN, credentials, headers={"User-Agent": agent})
    return data["logIn"]


async def _refused(api: Api, token: str) -> bool:
    reply = await api.gql("{ me { id } }", token=token)
    assert reply.codes in ([], ["UNAUTHENTICATED"]), reply.body
    return bool(reply.codes)


async def _live_socket(api: Api, token: str) -> GraphQLSocket:
    """A websocket with a live subscription."""
    url = str(api.client.make_url("/graphql"))
    live = await GraphQLSocket.open(api.client.session, url, token=token, protocol=TRANSPORT_WS)
    await live.subscribe("subscription { notifications { id } }")
    return live


async def _close_code(live: GraphQLSocket) -> int:
    """Read the socket until the server closes it; the code of its close frame."""
    while True:
        message = await live.ws.receive(timeout=5)
        if message.type is WSMsgType.CLOSE:
            return int(message.data)
        assert message.type is WSMsgType.TEXT, message


async def test_the_profile_is_updated_and_its_settings_show_only_to_the_user(api: Api) -> None:
    user = await api.sign_up("Ada")
    other = await api.sign_up("Bob")
    changes = {
        "name": "  Ada   Lovelace ",
        "avatarUrl": "https://images.example.com/ada.png?size=64",
        "timeZone": "europe/paris",
        "locale": "zh_hant_tw",
    }
    fields = "name avatarUrl timeZone locale"
    updated = (await api.ok(UPDATE % fields, {"i": changes}, token=user["token"]))["updateProfile"]
    assert updated == {
        "name": "Ada Lovelace",
        "avatarUrl": "https://images.example.com/ada.png?size=64",
        "timeZone": "Europe/Paris",
        "locale": "zh-Hant-TW",
    }
    assert (await api.ok(ME, token=user["token"]))["me"]["timeZone"] == "Europe/Paris"
    # Omitted fields stay, null clears.
    cleared = await api.ok(UPDATE % fields, {"i": {"avatarUrl": None}}, token=user["token"])
    assert cleared["updateProfile"] == {**updated, "avatarUrl": None}
    # Another user sees the name, not the settings.
    ws = await api.workspace(user)
    await api.add(user, ws, other, "VIEWER")
    seen = await api.ok(
        "query($w: ID!) { workspace(id: $w) { members { user { name timeZone locale } } } }",
        {"w": ws},
        token=other["token"],
    )
    owner = seen["workspace"]["members"][0]["user"]
    assert owner == {"name": "Ada Lovelace", "timeZone": None, "locale": None}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("avatarUrl", "javascript:alert(1)"),
        ("avatarUrl", "data:image/png;base64,AAAA"),
        ("avatarUrl", "http://images.example.com/a.png"),
        ("avatarUrl", "https://user:pw@images.example.com/a.png"),
        ("avatarUrl", "https://127.0.0.1/a.png"),
        ("avatarUrl", "https://images.example.com/" + "a" * 2100),
        ("timeZone", "Mars/Olympus_Mons"),
        ("timeZone", "+02:00"),
        ("locale", "english"),
        ("locale", "en-US-"),
        ("name", ""),
    ],
)
async def test_bad_profile_values_get_typed_errors_naming_the_field(
    api: Api, field: str, value: str
) -> None:
    user = await api.sign_up()
    reply = await api.gql(UPDATE % "name", {"i": {field: value}}, token=user["token"])
    assert reply.codes == ["BAD_USER_INPUT"]
    assert reply.errors[0]["extensions"]["field"] == f"input.{field}"
    assert (await api.ok(ME, token=user["token"]))["me"]["avatarUrl"] is None


async def test_anonymous_callers_have_no_profile_or_sessions(api: Api) -> None:
    assert (await api.gql(UPDATE % "name", {"i": {"name": "X"}})).codes == ["UNAUTHENTICATED"]
    assert (await api.gql(SESSIONS)).codes == ["UNAUTHENTICATED"]


async def test_sessions_list_each_device_and_mark_the_current_one(api: Api) -> None:
    user = await api.sign_up()
    laptop = await _log_in(api, user, "Laptop/1.0")
    phone = await _log_in(api, user, "Phone/2.0")
    # A refresh keeps the session (same id) and records the latest use.
    phone = (
        await api.ok(REFRESH, {"t": phone["refreshToken"]}, headers={"User-Agent": "Phone/2.1"})
    )["refreshSession"]
    listed = (await api.ok(SESSIONS, token=laptop["accessToken"]))["sessions"]
    assert len(listed) == 3  # sign-up, laptop, phone
    assert [s["current"] for s in listed].count(True) == 1
    current = next(s for s in listed if s["current"])
    assert current["userAgent"] == "Laptop/1.0"
    assert current["clientAddress"] == "127.0.0.1"
    by_agent = {s["userAgent"]: s for s in listed}
    assert "Phone/2.1" in by_agent
    assert by_agent["Phone/2.1"]["createdAt"] < by_agent["Phone/2.1"]["lastUsedAt"]
    # Another user sees only their own.
    stranger = await api.sign_up()
    assert len((await api.ok(SESSIONS, token=stranger["token"]))["sessions"]) == 1


async def test_revoking_a_session_ends_it_and_its_websocket_on_another_worker(
    api: Api, other_app: Any
) -> None:
    user = await api.sign_up()
    phone = await _log_in(api, user, "Phone/2.0")
    async with other_app(revocation_cache_seconds=60) as other:
        assert not await _refused(other, phone["accessToken"])  # cached there as valid
        live = await _live_socket(other, phone["accessToken"])
        listed = (await api.ok(SESSIONS, token=user["token"]))["sessions"]
        target = next(s["id"] for s in listed if s["userAgent"] == "Phone/2.0")
        revoked = await api.ok(REVOKE, {"id": target}, token=user["token"])
        assert revoked == {"revokeSession": target}
        assert await _close_code(live) == 4403
        assert await _refused(other, phone["accessToken"])
    assert (await api.gql(REFRESH, {"t": phone["refreshToken"]})).codes == ["UNAUTHENTICATED"]
    assert not await _refused(api, user["token"])
    assert len((await api.ok(SESSIONS, token=user["token"]))["sessions"]) == 1


async def test_another_users_session_cannot_be_revoked(api: Api) -> None:
    user, stranger = await api.sign_up(), await api.sign_up()
    target = (await api.ok(SESSIONS, token=user["token"]))["sessions"][0]["id"]
    assert (await api.gql(REVOKE, {"id": target}, token=stranger["token"])).codes == ["NOT_FOUND"]
    assert not await _refused(api, user["token"])


async def test_revoking_the_other_sessions_keeps_the_current_one(api: Api) -> None:
    user = await api.sign_up()
    others = [await _log_in(api, user, f"Device/{n}") for n in range(3)]
    assert await api.ok(REVOKE_OTHERS, token=user["token"]) == {"revokeOtherSessions": 3}
    assert [await _refused(api, o["accessToken"]) for o in others] == [True] * 3
    assert not await _refused(api, user["token"])
    assert await api.ok(REVOKE_OTHERS, token=user["token"]) == {"revokeOtherSessions": 0}


async def test_changing_the_password_ends_every_other_session_everywhere(
    api: Api, other_app: Any
) -> None:
    user = await api.sign_up()
    phone = await _log_in(api, user, "Phone/2.0")
    async with other_app(revocation_cache_seconds=60) as other:
        assert not await _refused(other, phone["accessToken"])
        live = await _live_socket(other, phone["accessToken"])
        reply = await api.gql(CHANGE, {"c": PASSWORD, "n": "battery staple"}, token=user["token"])
        assert not reply.errors, reply.errors
        fresh = reply.data["changePassword"]
        set_cookies = reply.headers.getall("Set-Cookie")
        assert any(c.startswith("nb_access=" + fresh["accessToken"]) for c in set_cookies)
        assert await _close_code(live) == 4403
        assert await _refused(other, phone["accessToken"])
    # The current session continues, with the fresh tokens; its old refresh token is withdrawn.
    assert not await _refused(api, fresh["accessToken"])
    assert (await api.gql(REFRESH, {"t": user["refresh"]})).codes == ["UNAUTHENTICATED"]
    assert await api.ok(REFRESH, {"t": fresh["refreshToken"]})
    assert len((await api.ok(SESSIONS, token=fresh["accessToken"]))["sessions"]) == 1
    # Only the new password signs in.
    credentials = {"i": {"email": user["email"], "password": PASSWORD}}
    assert (await api.gql(LOG_IN, credentials)).codes == ["UNAUTHENTICATED"]
    assert await _log_in(api, user, "Laptop/1.0", "battery staple")


@pytest.mark.parametrize(
    ("current", "new", "field"),
    [
        ("wrong horse", "battery staple", "currentPassword"),
        (PASSWORD, "short", "newPassword"),
        (PASSWORD, PASSWORD, "newPassword"),
    ],
)
async def test_a_wrong_current_password_or_a_bad_new_one_changes_nothing(
    api: Api, current: str, new: str, field: str
) -> None:
    user = await api.sign_up()
    phone = await _log_in(api, user, "Phone/2.0")
    reply = await api.gql(CHANGE, {"c": current, "n": new}, token=user["token"])
    assert reply.codes == ["BAD_USER_INPUT"]
    assert reply.errors[0]["extensions"]["field"] == field
    assert not await _refused(api, phone["accessToken"])
    assert await _log_in(api, user, "Laptop/1.0")


async def test_password_guesses_spend_the_sign_in_budget(api: Api, other_app: Any) -> None:
    async with other_app(auth_attempts=3) as limited:
        user = await limited.sign_up()
        for _ in range(3):
            reply = await limited.gql(
                CHANGE, {"c": "guess 1234", "n": "x" * 10}, token=user["token"]
            )
            assert reply.codes == ["BAD_USER_INPUT"]
        refused = await limited.gql(CHANGE, {"c": PASSWORD, "n": "x" * 10}, token=user["token"])
        assert refused.codes == ["RATE_LIMITED"]


async def test_revoking_the_current_session_signs_out(api: Api) -> None:
    user = await api.sign_up()
    current = next(
        s["id"] for s in (await api.ok(SESSIONS, token=user["token"]))["sessions"] if s["current"]
    )
    reply = await api.gql(REVOKE, {"id": current}, token=user["token"])
    assert reply.data == {"revokeSession": current}
    cleared = [c for c in reply.headers.getall("Set-Cookie") if c.startswith("nb_")]
    assert len(cleared) == 2 and all("Max-Age=0" in c for c in cleared)
    assert await _refused(api, user["token"])
