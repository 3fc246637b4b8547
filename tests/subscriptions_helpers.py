"""Shared by the subscription tests (tests/test_subscriptions_*.py, the Redis failover tests):
the workspace events document, a websocket to the test application, a workspace with its
owner, a client that resumes after interruptions."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from tests.conftest import Api
from tests.ws import Closed, GraphQLSocket

EVENTS = (
    "subscription($w: ID!, $after: String) { workspaceEvents(workspaceId: $w, after: $after) "
    "{ eventId kind noteId workspaceId at actor { name } note { title version author { name } "
    "workspace { name } } } }"
)


def graphql_url(api: Api) -> str:
    return str(api.client.make_url("/graphql"))


@contextlib.asynccontextmanager
async def socket(api: Api, token: str | None, **kw: Any) -> AsyncIterator[GraphQLSocket]:
    ws = await GraphQLSocket.open(api.client.session, graphql_url(api), token=token, **kw)
    try:
        yield ws
    finally:
        await ws.close()


async def team(api: Api) -> tuple[dict[str, Any], str]:
    owner = await api.sign_up("Owner")
    return owner, await api.workspace(owner, "Live")


async def follow(api: Api, token: str, ws: str, got: list[dict[str, Any]], last: str) -> None:
    """Append to ``got`` every event of the workspace until the note titled ``last``, as a
    client does it: live, and after an interruption (SERVICE_UNAVAILABLE, or a closed socket)
    subscribing again with ``after`` = the last event it got."""
    while True:
        after = got[-1]["eventId"] if got else None
        with contextlib.suppress(Closed):
            async with socket(api, token) as live:
                op = await live.subscribe(EVENTS, {"w": ws, "after": after})
                while not (result := await live.next(op, timeout=60)).get("errors"):
                    got.append(result["data"]["workspaceEvents"])
                    if got[-1]["note"]["title"] == last:
                        return
                codes = [error["extensions"]["code"] for error in result["errors"]]
                assert codes == ["SERVICE_UNAVAILABLE"], result
        await asyncio.sleep(0.2)


def resumed_from_the_log(got: list[dict[str, Any]], log: list[dict[str, Any]]) -> int:
    """``got`` holds every event of the log from ``got``'s first event on, once each, in
    order; the others it holds (their number is returned) are events Redis lost in the
    failover: acknowledged by the old primary while its replica was promoted (asynchronous
    replication), written during it."""
    ids = [event["eventId"] for event in log]
    start = ids.index(got[0]["eventId"])
    order = [_order(event["eventId"]) for event in got]
    assert order == sorted(set(order)), f"repeated or out of order: {got}"
    mine = {event["eventId"] for event in got}
    assert set(ids[start:]) <= mine, (
        f"missed {[e for e in log[start:] if e['eventId'] not in mine]}"
    )
    lost = [event["note"]["title"] for event in got if event["eventId"] not in set(ids)]
    assert all(title.startswith("during") for title in lost), lost
    return len(lost)


async def live_through(
    writer: Api, owner: dict[str, Any], ws: str, apps: list[Api], interrupt: Any
) -> list[int]:
    """Subscribers of ``ws`` on each of ``apps`` while notes are written before, during and
    after ``interrupt()`` (a failover); each one's events are checked against the log: every
    event once, in order, whether it came live or after resuming with ``after``. For each
    subscriber, how many events it got that Redis then lost (``resumed_from_the_log``)."""
    got: list[list[dict[str, Any]]] = [[] for _ in apps]
    followers = [
        asyncio.create_task(follow(app, owner["token"], ws, events, "done"))
        for app, events in zip(apps, got, strict=True)
    ]
    for attempt in range(50):  # the subscriptions are live once an event reaches each
        if all(got):
            break
        await writer.note(owner, ws, title=f"warm-up {attempt}")
        await asyncio.sleep(0.2)

    async def write(prefix: str, count: int) -> None:
        for i in range(count):  # a write whose event Redis missed still succeeds
            await writer.gql(
                "mutation($i: CreateNoteInput!) { createNote(input: $i) { id } }",
                {"i": {"workspaceId": ws, "title": f"{prefix} {i}"}},
                token=owner["token"],
            )
            await asyncio.sleep(0.05)

    await write("before", 5)
    during = asyncio.create_task(write("during", 40))
    await interrupt()
    await during
    await write("after", 5)
    await writer.note(owner, ws, title="done")
    await asyncio.wait_for(asyncio.gather(*followers), 120)
    log = [min((events[0] for events in got), key=lambda e: _order(e["eventId"]))]
    await follow(apps[0], owner["token"], ws, log, "done")
    titles = [event["note"]["title"] for event in log]
    assert {"before 4", "after 0", "done"} <= set(titles)
    return [resumed_from_the_log(events, log) for events in got]


def _order(event_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in event_id.split("-"))
