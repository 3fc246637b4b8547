"""Notifications pushed live over a subscription."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import Api
from tests.subscriptions_helpers import socket, team

pytestmark = pytest.mark.redis_topologies


async def test_notifications_are_pushed_live(api: Api) -> None:
    owner, ws = await team(api)
    mate = await api.sign_up("Mate")
    async with socket(api, mate["token"]) as live:
        op = await live.subscribe(
            "subscription { notifications { kind message read note { title } } }"
        )
        await asyncio.sleep(0.2)
        await api.add(owner, ws, mate, "EDITOR")
        added = (await live.next(op))["data"]["notifications"]
        assert added["kind"] == "MEMBER_ADDED" and added["read"] is False
        await api.note(owner, ws, title="Hey", mentionIds=[mate["id"]], assigneeIds=[mate["id"]])
        kinds = {(await live.next(op))["data"]["notifications"]["kind"] for _ in range(2)}
        assert kinds == {"ASSIGNED", "MENTION"}
