"""Who is online in a workspace, and who is editing which of its notes: Redis sorted sets of
connections with expiring heartbeats."""

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


def _text(member: bytes | str) -> str:
    return member.decode() if isinstance(member, bytes) else member


def _user_of(member: bytes | str) -> str:
    return _text(member).split(":", 1)[0]


def editing_key(workspace_id: str) -> str:
    """The set of a workspace's collaboration connections (member ``<user>:<note>:<id>``)."""
    return f"editing:{workspace_id}"


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
        left = [_user_of(m) for m in await self._drop_expired(workspace_id)]
        online = set(await self.online(workspace_id)) if left else set()
        return [user for user in dict.fromkeys(left) if user not in online]

    async def _drop_expired(self, key: str) -> list[str]:
        """Remove the expired members of ``key``; the ones this process removed."""
        full_key = PRESENCE_PREFIX + key
        expired = cast("list[bytes]", await self.redis.zrangebyscore(full_key, "-inf", time.time()))
        # ZREM answers 1 to exactly one of the processes sweeping at the same time.
        return [_text(m) for m in expired if await self.redis.zrem(full_key, m)]

    # Collaborative editing: the same connections, per note of a workspace.

    async def editing(self, workspace_id: str) -> dict[str, list[str]]:
        """Who is editing which note: note id -> the distinct users with a live connection."""
        members = cast(
            "list[bytes]",
            await self.redis.zrangebyscore(
                PRESENCE_PREFIX + editing_key(workspace_id), time.time(), "+inf"
            ),
        )
        notes: dict[str, dict[str, None]] = {}
        for member in members:
            user, note, _ = _text(member).split(":", 2)
            notes.setdefault(note, {})[user] = None
        return {note: list(users) for note, users in notes.items()}

    async def start_editing(
        self, workspace_id: str, note_id: str, user_id: str, connection_id: str
    ) -> bool:
        """Mark a connection as editing a note; True when the user was not editing it before."""
        before = (await self.editing(workspace_id)).get(note_id, [])
        await self.renew_editing(workspace_id, note_id, [(user_id, connection_id)])
        return user_id not in before

    async def renew_editing(
        self, workspace_id: str, note_id: str, connections: list[tuple[str, str]]
    ) -> None:
        """Add or extend a note's editing ``(user, connection)`` pairs, in one write."""
        if not connections:
            return
        key = PRESENCE_PREFIX + editing_key(workspace_id)
        expiry = time.time() + EXPIRY_S
        members = {_member(user, f"{note_id}:{c}"): expiry for user, c in connections}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, members)
            pipe.expire(key, int(EXPIRY_S * 2))
            await pipe.execute()

    async def stop_editing(
        self, workspace_id: str, note_id: str, user_id: str, connection_id: str
    ) -> bool:
        """Remove an editing connection; True when it was the user's last one on the note."""
        removed = await self.redis.zrem(
            PRESENCE_PREFIX + editing_key(workspace_id),
            _member(user_id, f"{note_id}:{connection_id}"),
        )
        editors = (await self.editing(workspace_id)).get(note_id, []) if removed else []
        return bool(removed) and user_id not in editors

    async def sweep_editing(self, workspace_id: str) -> list[tuple[str, str]]:
        """Drop expired editing connections; the (user, note) pairs that ended by it."""
        gone = [m.split(":", 2)[:2] for m in await self._drop_expired(editing_key(workspace_id))]
        editing = await self.editing(workspace_id) if gone else {}
        ended = dict.fromkeys((user, note) for user, note in gone)
        return [(user, note) for user, note in ended if user not in editing.get(note, [])]
