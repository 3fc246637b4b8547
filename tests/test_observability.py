"""Metrics an operator reads, in one process: per operation, per backing service, websockets
apart from HTTP latency, and label values a client cannot multiply."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from notes_bff.metrics import ANONYMOUS, OTHER
from tests.conftest import Api
from tests.ws import GraphQLSocket

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def _samples(api: Api) -> Samples:
    text = await (await api.client.get("/metrics")).text()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _labels(samples: Samples, name: str, label: str) -> set[str]:
    return {dict(labels)[label] for sample, labels in samples if sample == name}


BOARD = "query Board { workspaces { name owner { name } } dashboard { stats { totalNotes } } }"
LIVE = "subscription Live($w: ID!) { workspaceEvents(workspaceId: $w) { eventId } }"


async def test_operations_services_and_websockets_are_measured(other_app: Any) -> None:
    # Without the response cache: the three boards each run their loaders.
    async with other_app(response_cache=False) as api:
        owner = await api.sign_up()
        ws = await api.workspace(owner)
        await api.note(owner, ws)
        for _ in range(3):
            await api.ok(BOARD, token=owner["token"])
        assert (await api.gql("query Broken { me { nope } }")).codes == [
            "GRAPHQL_VALIDATION_FAILED"
        ]
        assert (await api.client.get("/readyz")).status == 200
        async with aiohttp.ClientSession() as session:
            url = str(api.client.make_url("/graphql"))
            socket = await GraphQLSocket.open(session, url, token=owner["token"])
            live = await socket.subscribe(LIVE, {"w": ws})
            await asyncio.sleep(0.2)  # the subscription is registered once its first await runs
            await api.note(owner, ws)
            await socket.next(live)  # delivered: the event shows the subscription is running
            during = await _samples(api)
            await socket.close()
        for _ in range(50):  # the server notices the close
            after = await _samples(api)
            if not _value(after, "notes_bff_websocket_connections", route="/graphql"):
                break
            await asyncio.sleep(0.1)

    op = "notes_bff_graphql_operations_total"
    assert _value(after, op, operation="Board", type="query", outcome="ok") == 3
    assert (
        _value(after, op, operation="Broken", type="query", outcome="GRAPHQL_VALIDATION_FAILED")
        == 1
    )
    assert _value(after, op, operation=ANONYMOUS, type="mutation", outcome="ok") == 4
    duration = "notes_bff_graphql_operation_duration_seconds_count"
    assert _value(after, duration, operation="Board", type="query") == 3
    assert (
        _value(after, "notes_bff_graphql_operation_cost_count", operation="Board", type="query")
        == 3
    )
    assert _value(after, "notes_bff_graphql_phase_duration_seconds_count", phase="parse") == 9
    # The subscription: active while it ran, recorded when it ended, never a latency sample.
    assert _value(during, "notes_bff_subscriptions_active", field="workspaceEvents") == 1
    assert _value(during, "notes_bff_websocket_connections", route="/graphql") == 1
    assert _value(after, "notes_bff_subscriptions_active", field="workspaceEvents") == 0
    assert _value(after, op, operation="Live", type="subscription", outcome="ok") == 1
    assert _value(after, duration, operation="Live", type="subscription") == 0
    assert _value(after, "notes_bff_websocket_closes_total", route="/graphql", code="1000") == 1
    # 8 POSTs; the websocket's GET counts as a request (101), not as latency.
    http = "notes_bff_http_request_duration_seconds_count"
    assert _value(after, http, route="/graphql") == 8
    assert (
        _value(after, "notes_bff_http_requests_total", route="/graphql", method="GET", status="101")
        == 1
    )
    # Backing services, loaders, events.
    mongodb = "notes_bff_mongodb_command_duration_seconds_count"
    assert _value(after, mongodb, command="insert", collection="notes") == 2
    assert _value(after, "notes_bff_redis_command_duration_seconds_count", command="EVALSHA") >= 9
    assert _value(after, "notes_bff_dataloader_batch_size_count", loader="UserByIdLoader") >= 3
    events = "notes_bff_subscription_events_total"
    assert _value(after, events, stage="published") >= 2
    assert _value(after, events, stage="delivered") == 1
    assert _value(after, "notes_bff_subscription_delivery_lag_seconds_count") == 1
    assert _value(after, "notes_bff_readiness_checks_total", status="ready") == 1
    assert _value(after, "notes_bff_process_cpu_seconds_total") > 0
    assert _value(after, "notes_bff_process_resident_memory_bytes") > 0


async def test_ten_thousand_operation_names_do_not_make_ten_thousand_series(
    other_app: Any,
) -> None:
    names = 10_000
    async with other_app(metrics_max_operations=20, max_subscriptions_per_connection=500) as api:
        user = await api.sign_up()
        async with aiohttp.ClientSession() as session:
            url = str(api.client.make_url("/graphql"))
            socket = await GraphQLSocket.open(session, url, token=user["token"])
            for start in range(0, names, 500):
                ops = [
                    await socket.subscribe(f"query N{i} {{ __typename }}")
                    for i in range(start, start + 500)
                ]
                for op_id in ops:
                    assert (await socket.next(op_id))["data"] == {"__typename": "Query"}
            await socket.close()
        samples = await _samples(api)
    op = "notes_bff_graphql_operations_total"
    values = _labels(samples, op, "operation")
    # The first 20 names this process saw, "other" for the rest, "anonymous" (the sign-up).
    assert len(values) == 22 and {OTHER, ANONYMOUS} < values
    queries = sum(
        v for (name, labels), v in samples.items() if name == op and ("type", "query") in labels
    )
    assert queries == names
    assert _value(samples, op, operation=OTHER, type="query", outcome="ok") == names - 20


async def test_queries_run_from_their_plans_and_errors_again_through_graphql_core(
    other_app: Any,
) -> None:
    async with other_app(response_cache=False) as api:
        owner = await api.sign_up()
        ws = await api.workspace(owner)
        await api.note(owner, ws)
        before = await _samples(api)
        for _ in range(3):
            await api.ok(BOARD, token=owner["token"])
        # `viewerRole` needs a viewer: an error, so the query is answered by graphql-core.
        answer = await api.gql("{ me { id } workspaces { viewerRole } }")
        directive = "query($on: Boolean!) { me @include(if: $on) { id } }"
        await api.ok(directive, {"on": True}, token=owner["token"])
        after = await _samples(api)

    name = "notes_bff_graphql_executions_total"

    def runs(path: str) -> float:
        return _value(after, name, path=path) - _value(before, name, path=path)

    assert answer.codes
    assert (runs("planned"), runs("fallback"), runs("graphql-core")) == (3, 1, 1)
