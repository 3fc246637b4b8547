"""Property-based fuzzing of the whole schema (hypothesis-graphql): whatever valid operation a
client sends, the answer is well-formed, never a 5xx other than 503, never an unmasked error."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from hypothesis_graphql import strategies as gql_st

from notes_bff.schema import build_schema
from tests.conftest import Api

SDL = build_schema().as_str()
SCALARS = {
    "DateTime": st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ).map(lambda d: nodes.String(d.isoformat())),
}
IDS = st.sampled_from(["6b0b00000000000000000000", "not-an-id", ""])


def _post(url: str, token: str, query: str) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(  # noqa: S310 - the test server on loopback
        url,
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _fuzz(url: str, token: str) -> None:
    operations = gql_st.queries(SDL, custom_scalars=SCALARS) | gql_st.mutations(
        SDL, custom_scalars=SCALARS
    )

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(query=operations)
    def check(query: str) -> None:
        try:
            status, body = _post(url, token, query)
        except OSError as exc:  # a dropped connection: the server failed this request
            raise AssertionError(f"no response to {query!r}") from exc
        assert status < 500 or status == 503, (query, status, body)
        assert "data" in body or "errors" in body
        for error in body.get("errors") or []:  # type: ignore[attr-defined]
            code = error.get("extensions", {}).get("code")
            assert code, (query, error)
            assert code != "INTERNAL_SERVER_ERROR", (query, error)

    check()


# The server under test runs in this process, on another thread than hypothesis: its
# libraries' use of the global `random` (driver jitter and the like) is not the strategies'.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
async def test_fuzz_every_operation_of_the_schema(api: Api) -> None:
    user = await api.sign_up("Fuzz")
    await api.workspace(user, "Fuzzed")
    url = str(api.client.make_url("/graphql"))
    await asyncio.to_thread(_fuzz, url, user["token"])
