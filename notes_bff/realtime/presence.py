"""Who is online in a workspace: Redis sorted sets of connections with expiring heartbeats."""

from __future__ import annotations

import time
from typing import cast

from redis.asyncio import Redis

PRESENCE_PREFIX = "notes-bff:presence:"
HEARTBEAT_S = 15.0
# A connection not renewed for this long is gone (its worker crashed): well within a minute.
EXPIRY_S = 45.0


def _member(user_id: str, connection_id: str) -> str:
    return f"{user_id}:{connection_id}"


def _user_of(member: bytes | str) -> str:
    text = member.decode() if isinstance(member, bytes) else member
    return text.split(":", 1)[0]


class Presence:
    """One sorted set per workspace: member ``<user>:<connection>``, score = expiry time."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def online(self, workspace_id: str) -> list[str]:
        """The distinct users with a live connection, in the order they came online."""
        members = cast(
            "list[bytes]",
            await self.redis.zrangebyscore(PRESENCE_PREFIX + workspace_id, time.time(), "+inf"),
        )
        return list(dict.fromkeys(_user_of(m) for m in members))

    async def enter(self, workspace_id: str, user_id: str, connection_id: str) -> bool:
        """Mark a connection online; True when the user was not online before (joined)."""
        before = await self.online(workspace_id)
        await self.heartbeat(workspace_id, user_id, connection_id)
        return user_id not in before

    async def heartbeat(self, workspace_id: str, user_id: str, connection_id: str) -> None:
        """Extend a connection's presence."""
        key = PRESENCE_PREFIX + workspace_id
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {_member(user_id, connection_id): time.time() + EXPIRY_S})
            pipe.expire(key, int(EXPIRY_S * 2))
            await pipe.execute()

    async def leave(self, workspace_id: str, user_id: str, connection_id: str) -> bool:
        """Remove a connection; True when it was the user's last one (left)."""
        removed = await self.redis.zrem(
            PRESENCE_PREFIX + workspace_id, _member(user_id, connection_id)
        )
        return bool(removed) and user_id not in await self.online(workspace_id)

    async def sweep(self, workspace_id: str) -> list[str]:
        """Drop expired connections; the users who left by it (each reported by one sweeper)."""
        key = PRESENCE_PREFIX + workspace_id
        expired = cast("list[bytes]", await self.redis.zrangebyscore(key, "-inf", time.time()))
        left: list[str] = []
        for member in expired:
            # ZREM answers 1 to exactly one of the processes sweeping at the same time.
            if await self.redis.zrem(key, member):
                left.append(_user_of(member))
        online = set(await self.online(workspace_id)) if left else set()
        return [user for user in dict.fromkeys(left) if user not in online]
