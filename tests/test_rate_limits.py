"""Rate limits: budgets in Redis shared by all workers, headers, the rateLimit field,
credential-stuffing limits inside one request, proxies, and Redis outages; on each Redis
topology."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from notes_bff.embedded import EmbeddedProcess
from notes_bff.realtime.event_log import CHANNEL
from tests.conftest import Api
from tests.redis_topologies import Deployment, channel_subscribers, each_node

pytestmark = pytest.mark.redis_topologies

ME = "{ me { id } }"


async def test_headers_and_the_rate_limit_field(other_app: Any) -> None:
    # A budget that refills over a year: between the two requests it regains far less than a
    # point, however loaded the machine (the default refills ~56 points a second).
    async with other_app(rate_limit_period_seconds=365 * 86400) as api:
        user = await api.sign_up()
        reply = await api.gql(
            "{ rateLimit { limit cost remaining resetAt } workspaces { id name } }",
            token=user["token"],
        )
        rate = reply.data["rateLimit"]
        assert rate["limit"] == 200_000 and rate["cost"] >= 1
        assert rate["remaining"] == int(reply.headers["X-RateLimit-Remaining"])
        assert reply.headers["X-RateLimit-Limit"] == "200000"
        assert int(reply.headers["X-RateLimit-Reset"]) > 0 and rate["resetAt"].endswith("Z")
        again = await api.gql("{ rateLimit { remaining } }", token=user["token"])
        assert again.data["rateLimit"]["remaining"] < rate["remaining"]


async def test_over_budget_is_429_with_retry_after(other_app: Any) -> None:
    async with other_app(rate_limit_anonymous_points=5, rate_limit_period_seconds=60) as api:
        for _ in range(5):
            assert (await api.gql(ME)).status == 200
        refused = await api.gql(ME)
        assert (refused.status, refused.codes) == (429, ["RATE_LIMITED"])
        retry = refused.errors[0]["extensions"]["retryAfter"]
        assert 1 <= retry <= 12 and refused.headers["Retry-After"] == str(retry)
        assert refused.headers["X-RateLimit-Remaining"] == "0"


async def test_a_budget_is_kept_when_redis_forgets_the_script(
    other_app: Any, redis_server: EmbeddedProcess | Deployment
) -> None:
    # As after a restart without persistence or a failover: the next request loads it again.
    async with other_app(rate_limit_anonymous_points=5, rate_limit_period_seconds=3600) as api:
        for _ in range(3):
            assert (await api.gql(ME)).status == 200
        await each_node(redis_server, lambda client: client.script_flush())
        fourth = await api.gql(ME)
        assert (fourth.status, fourth.headers["X-RateLimit-Remaining"]) == (200, "1")
        assert (await api.gql(ME)).status == 200
        assert (await api.gql(ME)).codes == ["RATE_LIMITED"]


async def test_costly_operations_spend_more(other_app: Any) -> None:
    async with other_app(rate_limit_anonymous_points=1000, rate_limit_period_seconds=60) as api:
        cheap = await api.gql("{ rateLimit { cost } }")
        costly = await api.gql(
            "{ rateLimit { cost } notes(first: 100) { nodes { author { name } } } }"
        )
        assert cheap.data["rateLimit"]["cost"] == 1
        assert costly.codes == ["UNAUTHENTICATED"]  # spent anyway: the cost is static
        assert (
            int(costly.headers["X-RateLimit-Remaining"])
            < int(cheap.headers["X-RateLimit-Remaining"]) - 100
        )


async def test_log_in_attempts_are_limited_even_inside_one_aliased_request(other_app: Any) -> None:
    async with other_app(auth_attempts=4, auth_attempts_per_ip=1000) as api:
        email = (await api.sign_up("Victim"))["email"]

        def aliased(password: str) -> str:
            tries = " ".join(
                f'a{i}: logIn(input: {{email: "{email}", password: "{password}"}}) {{ accessToken }}'
                for i in range(5)
            )
            return f"mutation {{ {tries} }}"

        # Only failures count: five right passwords in one request spend nothing.
        assert len(await api.ok(aliased("correct horse"))) == 5
        # A wrong one ends its request (logIn is non-null): one guess per request at most.
        for _ in range(4):
            wrong = await api.gql(aliased("guess"))
            assert (wrong.codes, wrong.errors[0]["path"]) == (["UNAUTHENTICATED"], ["a0"])
        # The attempt is spent before the password is checked: now even the right one waits.
        refused = await api.gql(aliased("correct horse"))
        assert (refused.status, refused.codes) == (429, ["RATE_LIMITED"])
        assert refused.errors[0]["path"] == ["a0"]
        retry = refused.errors[0]["extensions"]["retryAfter"]
        assert refused.headers["Retry-After"] == str(retry)


async def test_forwarded_for_only_from_trusted_proxies(api: Api, other_app: Any) -> None:
    async with other_app(rate_limit_anonymous_points=2, trusted_proxies="127.0.0.1/32") as proxied:
        first = {"X-Forwarded-For": "203.0.113.5, 127.0.0.1"}
        for _ in range(2):
            assert (await proxied.gql(ME, headers=first)).status == 200
        assert (await proxied.gql(ME, headers=first)).status == 429
        assert (await proxied.gql(ME, headers={"X-Forwarded-For": "203.0.113.6"})).status == 200
    # Without trusted proxies the header is ignored: it cannot buy a fresh budget.
    async with other_app(rate_limit_anonymous_points=2) as direct:
        for ip in ("198.51.100.1", "198.51.100.2"):
            assert (await direct.gql(ME, headers={"X-Forwarded-For": ip})).status == 200
        assert (await direct.gql(ME, headers={"X-Forwarded-For": "198.51.100.3"})).status == 429


async def test_per_process_limits_while_redis_is_down(
    other_app: Any, redis_server: EmbeddedProcess | Deployment
) -> None:
    async with other_app(rate_limit_anonymous_points=3, rate_limit_period_seconds=60) as api:
        redis_server.stop()
        try:
            statuses = [(await api.gql(ME)).status for _ in range(5)]
        finally:
            redis_server.start()
        assert statuses == [200, 200, 200, 429, 429]
    # The session application's broker reconnects with backoff: the next tests' subscriptions
    # need it listening again.
    for _ in range(100):
        if await channel_subscribers(redis_server, CHANNEL):
            break
        await asyncio.sleep(0.1)
