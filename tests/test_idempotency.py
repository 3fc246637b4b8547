"""Idempotency-Key: a retried mutation does not write twice."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import Api

CREATE = "mutation($w: ID!, $t: String!) { createNote(input: {workspaceId: $w, title: $t}) { id title } }"
COUNT = "query($w: ID!) { workspace(id: $w) { noteCount } }"


async def _post(api: Api, body: dict[str, Any], token: str, key: str) -> Any:
    resp = await api.client.post(
        "/graphql", json=body, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    )
    return resp.status, await resp.json(), resp.headers


async def test_a_retry_returns_the_first_response_without_writing_again(api: Api) -> None:
    owner = await api.sign_up()
    ws = await api.workspace(owner)
    key = uuid.uuid4().hex
    body = {"query": CREATE, "variables": {"w": ws, "t": "once"}}
    first = await _post(api, body, owner["token"], key)
    retry = await _post(api, body, owner["token"], key)
    assert first[0] == retry[0] == 200
    assert retry[1] == first[1] and retry[2]["Idempotent-Replayed"] == "true"
    assert (await api.ok(COUNT, {"w": ws}, token=owner["token"])) == {"workspace": {"noteCount": 1}}
    # Same key, another body: refused. Another caller may use the same key.
    other = await _post(
        api, {"query": CREATE, "variables": {"w": ws, "t": "twice"}}, owner["token"], key
    )
    assert other[1]["errors"][0]["extensions"]["code"] == "CONFLICT"
    stranger = await api.sign_up()
    theirs = await api.workspace(stranger)
    mine = await _post(
        api, {"query": CREATE, "variables": {"w": theirs, "t": "x"}}, stranger["token"], key
    )
    assert "errors" not in mine[1]
    assert (await api.ok(COUNT, {"w": ws}, token=owner["token"])) == {"workspace": {"noteCount": 1}}


async def test_malformed_keys_are_refused(api: Api) -> None:
    owner = await api.sign_up()
    status, body, _ = await _post(
        api, {"query": "{ me { id } }"}, owner["token"], "bad key with spaces"
    )
    assert status == 400 and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
