"""Sign-up, log-in, cookies, refresh rotation with reuse detection, tampered tokens, CSRF."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from tests.conftest import JWT_SECRET, Api

ME = "{ me { id email } }"
REFRESH = "mutation($t: String) { refreshSession(refreshToken: $t) { accessToken refreshToken } }"


async def test_sign_up_sets_http_only_cookies(api: Api) -> None:
    resp = await api.client.post(
        "/graphql",
        json={
            "query": "mutation($i: SignUpInput!) { signUp(input: $i) { user { email } } }",
            "variables": {
                "i": {"email": "Cookie@Example.com", "password": "12345678", "name": "C"}
            },
        },
    )
    body = await resp.json()
    assert body["data"]["signUp"]["user"]["email"] == "cookie@example.com"
    cookies = {c.split("=")[0]: c for c in resp.headers.getall("Set-Cookie")}
    assert "HttpOnly" in cookies["nb_access"] and "SameSite=Lax" in cookies["nb_access"]
    assert "Path=/;" in cookies["nb_access"] or cookies["nb_access"].endswith("Path=/")
    assert "SameSite=Strict" in cookies["nb_refresh"] and "Path=/graphql" in cookies["nb_refresh"]
    assert "Secure" not in cookies["nb_access"]  # development


async def test_duplicate_email_is_conflict(api: Api) -> None:
    user = await api.sign_up()
    reply = await api.gql(
        "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
        {"i": {"email": user["email"].upper(), "password": "12345678", "name": "Again"}},
    )
    assert reply.codes == ["CONFLICT"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "not-an-email"), ("password", "short"), ("name", "  "), ("password", "x" * 129)],
)
async def test_sign_up_validation_names_the_field(api: Api, field: str, value: str) -> None:
    good = {"email": "v@example.com", "password": "12345678", "name": "V"}
    reply = await api.gql(
        "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
        {"i": {**good, field: value}},
    )
    assert reply.codes == ["BAD_USER_INPUT"]
    assert reply.errors[0]["extensions"]["field"] == f"input.{field}"


async def test_log_in_with_right_and_wrong_password(api: Api) -> None:
    user = await api.sign_up()
    query = "mutation($i: LogInInput!) { logIn(input: $i) { accessToken user { id } } }"
    good = await api.ok(query, {"i": {"email": user["email"], "password": "correct horse"}})
    assert good["logIn"]["user"]["id"] == user["id"]
    bad = await api.gql(query, {"i": {"email": user["email"], "password": "wrong horse"}})
    assert bad.codes == ["UNAUTHENTICATED"]
    unknown = await api.gql(query, {"i": {"email": "nobody@example.com", "password": "whatever1"}})
    assert unknown.codes == ["UNAUTHENTICATED"]
    assert unknown.errors[0]["message"] == bad.errors[0]["message"]


async def test_refresh_rotates_and_reuse_revokes_the_family(api: Api) -> None:
    user = await api.sign_up()
    first = (await api.ok(REFRESH, {"t": user["refresh"]}))["refreshSession"]
    assert first["refreshToken"] != user["refresh"]
    second = (await api.ok(REFRESH, {"t": first["refreshToken"]}))["refreshSession"]
    # The first token again: reuse. The whole family ends, including the newest token.
    reused = await api.gql(REFRESH, {"t": user["refresh"]})
    assert reused.codes == ["UNAUTHENTICATED"]
    assert (await api.gql(REFRESH, {"t": second["refreshToken"]})).codes == ["UNAUTHENTICATED"]


async def test_refresh_from_cookie(api: Api) -> None:
    user = await api.sign_up()
    resp = await api.client.post(
        "/graphql",
        json={"query": REFRESH},
        headers={"Cookie": f"nb_refresh={user['refresh']}"},
    )
    body = await resp.json()
    assert body["data"]["refreshSession"]["accessToken"]
    assert any(c.startswith("nb_refresh=") for c in resp.headers.getall("Set-Cookie"))


async def test_log_out_revokes_the_family_and_clears_cookies(api: Api) -> None:
    user = await api.sign_up()
    resp = await api.client.post(
        "/graphql",
        json={"query": "mutation { logOut }"},
        headers={"Authorization": f"Bearer {user['token']}"},
    )
    assert (await resp.json())["data"] == {"logOut": True}
    cleared = [
        c for c in resp.headers.getall("Set-Cookie") if c.startswith(("nb_access", "nb_refresh"))
    ]
    assert len(cleared) == 2 and all("Max-Age=0" in c or "expires" in c.lower() for c in cleared)
    assert (await api.gql(REFRESH, {"t": user["refresh"]})).codes == ["UNAUTHENTICATED"]


def _forge(claims: dict[str, object], key: str = JWT_SECRET, alg: str = "HS256") -> str:
    base = {
        "iss": "notes-bff",
        "aud": "notes-dashboard",
        "iat": datetime.now(UTC),
        "exp": datetime.now(UTC) + timedelta(minutes=5),
        "typ": "access",
        "fam": "a-login-family",
    }
    return jwt.encode({**base, **claims}, key, algorithm=alg)


def _alg_none(claims: dict[str, object]) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    now = int(datetime.now(UTC).timestamp())
    payload = {
        "iss": "notes-bff",
        "aud": "notes-dashboard",
        "iat": now,
        "exp": now + 300,
        "fam": "f",
    }
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({**payload, **claims, 'typ': 'access'})}."


async def test_tampered_tokens_are_unauthenticated(api: Api) -> None:
    user = await api.sign_up()
    sub = {"sub": user["id"]}
    forged = {
        "alg none": _alg_none(sub),
        "wrong key": _forge(sub, key="another-secret-" + "y" * 40),
        "expired": _forge({**sub, "exp": datetime.now(UTC) - timedelta(seconds=5)}),
        "wrong issuer": _forge({**sub, "iss": "someone-else"}),
        "wrong audience": _forge({**sub, "aud": "other-app"}),
        "no login family": _forge({**sub, "fam": None}),
        "refresh as access": user["refresh"],
        "garbage": "not.a.token",
    }
    for name, token in forged.items():
        reply = await api.gql(ME, token=token)
        assert reply.codes == ["UNAUTHENTICATED"], name
        assert reply.data == {"me": None} or reply.data is None, name
    # The genuine token still works, and a correctly signed one is accepted.
    assert (await api.ok(ME, token=_forge(sub)))["me"]["id"] == user["id"]


async def test_cookie_auth_and_csrf_prevention(api: Api) -> None:
    user = await api.sign_up()
    cookie = {"Cookie": f"nb_access={user['token']}"}
    # A JSON POST is not "simple": the cookie authenticates it.
    resp = await api.client.post("/graphql", json={"query": ME}, headers=cookie)
    assert (await resp.json())["data"]["me"]["id"] == user["id"]
    # A GET with no preflight header, and form/text POSTs, are refused when a cookie is sent.
    refused = [
        await api.client.get("/graphql", params={"query": ME}, headers=cookie),
        await api.client.post(
            "/graphql",
            data="query=%7Bme%7Bid%7D%7D",
            headers={**cookie, "Content-Type": "application/x-www-form-urlencoded"},
        ),
        await api.client.post(
            "/graphql",
            data=json.dumps({"query": ME}),
            headers={**cookie, "Content-Type": "text/plain"},
        ),
    ]
    for resp in refused:
        assert resp.status == 403
        assert (await resp.json())["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # A GET with a preflight header passes, and bearer-authenticated GETs are exempt.
    ok = await api.client.get(
        "/graphql", params={"query": ME}, headers={**cookie, "Apollo-Require-Preflight": "true"}
    )
    assert (await ok.json())["data"]["me"]["id"] == user["id"]
    bearer = await api.client.get(
        "/graphql", params={"query": ME}, headers={"Authorization": f"Bearer {user['token']}"}
    )
    assert (await bearer.json())["data"]["me"]["id"] == user["id"]


async def test_anonymous_me_is_null(api: Api) -> None:
    assert await api.ok(ME) == {"me": None}
