"""Websocket connections per user across the deployment: one Redis sorted set per user.

Members are connection ids, scores their expiry. Each process renews all of its connections
every ``HEARTBEAT_S`` in one pipeline, so the connections of a process that died stop counting
within ``EXPIRY_S``; a connection that ends removes itself at once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from redis.asyncio import Redis

from notes_bff.realtime.presence import EXPIRY_S

CONNECTIONS_PREFIX = "notes-bff:connections:"

# Drop expired connections; refuse at the cap; else count this one. One script: two processes
# admitting the same user's connections at once can never both take the last slot.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class ConnectionSlots:
    """Counts a user's open websockets on every worker and host."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._acquire = redis.register_script(_ACQUIRE)

    async def acquire(self, user_id: str, connection_id: str, cap: int) -> bool:
        """Take one of the user's ``cap`` slots for this connection; False when all are taken."""
        now = time.time()
        keys = [CONNECTIONS_PREFIX + user_id]
        args: list[float | str] = [now, cap, now + EXPIRY_S, connection_id, int(EXPIRY_S * 2)]
        return bool(await self._acquire(keys=keys, args=args))

    async def renew(self, connections: Mapping[str, str]) -> None:
        """Extend this process's connections (connection id -> user id)."""
        expiry = time.time() + EXPIRY_S
        async with self.redis.pipeline(transaction=False) as pipe:
            for connection_id, user_id in connections.items():
                pipe.zadd(CONNECTIONS_PREFIX + user_id, {connection_id: expiry})
                pipe.expire(CONNECTIONS_PREFIX + user_id, int(EXPIRY_S * 2))
            await pipe.execute()

    async def online(self, user_ids: list[str]) -> set[str]:
        """Those of ``user_ids`` holding a live websocket anywhere (one round trip)."""
        now = time.time()
        async with self.redis.pipeline(transaction=False) as pipe:
            for user_id in user_ids:
                pipe.zcount(CONNECTIONS_PREFIX + user_id, now, "+inf")
            counts = await pipe.execute()
        return {user_id for user_id, count in zip(user_ids, counts, strict=True) if count}

    async def release(self, user_id: str, connection_id: str) -> None:
        """Give the connection's slot back."""
        await self.redis.zrem(CONNECTIONS_PREFIX + user_id, connection_id)
