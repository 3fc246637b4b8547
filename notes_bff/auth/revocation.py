"""Ending sessions at once, on every worker, without a database read per request.

Two kinds of records end access tokens before they expire, each kept in Redis for as long
as a token issued before it can live:

- a **family** record when a login ends (``logOut``, refresh-token reuse): every access
  token of that family is refused;
- a **user epoch** when a user is disabled: every token of theirs issued before it is refused.

Each process keeps what it learned (they only ever grow) and answers most checks from
memory: a family is looked up in Redis at most once per ``cache_s`` (one pipeline of GETs),
and every record is announced on the broker's channel, so other workers learn it at once and
close the websockets of that session (4403). Notices missed while the channel was down are
caught up from Redis when it is back. While Redis does not answer, a check reads MongoDB
instead (the source of truth, same per-family bound); if MongoDB does not answer either,
the check fails (``SERVICE_UNAVAILABLE``) rather than accept a token it cannot vouch for.
A record that could not be written to Redis is written by this process once it can.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from beanie import PydanticObjectId
from cachetools import TTLCache
from redis.asyncio import Redis

from notes_bff.auth.tokens import TokenClaims
from notes_bff.background import BackgroundTasks
from notes_bff.errors import MONGO_OUTAGES, ServiceUnavailable, Unauthenticated
from notes_bff.models import RefreshSession, User
from notes_bff.models.clock import now
from notes_bff.realtime.broker import Broker, SlowSubscriber
from notes_bff.realtime.event_log import EventLog
from notes_bff.realtime.events import Event
from notes_bff.redis_client import get_many
from notes_bff.redis_guard import RedisGuard

PREFIX = "notes-bff:ended:"
TOPIC = "revocations"  # on the broker's channel, next to the realtime events
SESSION_ENDED = "The session has ended; please sign in again."
CACHE_SIZE = 100_000
CLOCK_SKEW_S = 60  # records outlive tokens by this much, for hosts whose clocks differ
RETRY_S = 1.0
# Learns from the value of one Redis record.
Learn = Callable[[bytes | str], None]


def _family_key(family_id: str) -> str:
    return f"{PREFIX}family:{family_id}"


def _user_key(user_id: str) -> str:
    return f"{PREFIX}user:{user_id}"


@dataclass(eq=False)
class _Watch:
    claims: TokenClaims
    on_end: Callable[[], None]

    @property
    def keys(self) -> tuple[str, str]:
        return _family_key(self.claims.family_id), _user_key(self.claims.user_id)


class Revocations:
    """Ends login families and users' sessions, and checks access tokens against them."""

    def __init__(
        self, redis: Redis, guard: RedisGuard, access_ttl: timedelta, cache_s: float
    ) -> None:
        self.redis = redis
        self.guard = guard
        self._log = EventLog(redis)
        self._ttl_s = math.ceil(access_ttl.total_seconds()) + CLOCK_SKEW_S
        self._families: TTLCache[str, bool] = TTLCache(CACHE_SIZE, self._ttl_s)
        self._epochs: TTLCache[str, float] = TTLCache(CACHE_SIZE, self._ttl_s)
        # Families looked up recently (their user's epoch with them): not asked again.
        self._checked: TTLCache[str, bool] = TTLCache(CACHE_SIZE, cache_s)
        self._watches: defaultdict[str, set[_Watch]] = defaultdict(set)
        self._unwritten: dict[str, tuple[str, Event, float]] = {}
        self._tasks = BackgroundTasks()

    async def end_family(self, family_id: str) -> bool:
        """End one login: its refresh tokens now, its access tokens on their next use.

        False when Redis did not take the record (other workers then see it in MongoDB
        while Redis is down, and this process writes it once Redis is back).
        """
        await RefreshSession.get_pymongo_collection().update_many(
            {"family_id": family_id}, {"$set": {"revoked": True}}
        )
        self._learn_family(family_id)
        event = Event(topic=TOPIC, kind="FAMILY", subject_id=family_id)
        return await self._record(_family_key(family_id), "1", event)

    async def disable_user(self, user_id: PydanticObjectId) -> bool:
        """Disable a user: no more log-ins or refreshes, and every token of theirs ends."""
        epoch = now()
        await User.get_pymongo_collection().update_one(
            {"_id": user_id}, {"$set": {"disabled": True, "tokens_valid_after": epoch}}
        )
        await RefreshSession.get_pymongo_collection().update_many(
            {"user_id": user_id}, {"$set": {"revoked": True}}
        )
        seconds = epoch.timestamp()
        self._learn_epoch(str(user_id), seconds)
        event = Event(topic=TOPIC, kind="USER", subject_id=str(user_id), at=seconds)
        return await self._record(_user_key(str(user_id)), repr(seconds), event)

    async def _write(self, key: str, value: str, event: Event) -> bool:
        await self.redis.set(key, value, ex=self._ttl_s)
        await self._log.publish(event)
        return True

    async def _record(self, key: str, value: str, event: Event) -> bool:
        if await self.guard.call(lambda: self._write(key, value, event)):
            return True
        self._unwritten[key] = (value, event, time.monotonic() + self._ttl_s)
        return False

    def ended(self, claims: TokenClaims) -> bool:
        """Whether this process knows the session of ``claims`` to have ended (no I/O)."""
        epoch = self._epochs.get(claims.user_id, 0.0)
        return claims.family_id in self._families or claims.issued_at.timestamp() < epoch

    async def check(self, claims: TokenClaims) -> None:
        """``UNAUTHENTICATED`` when the session of ``claims`` has ended."""
        if not self.ended(claims) and claims.family_id not in self._checked:
            if not await self._read_redis(self._lookups(claims)):
                await self._read_mongo(claims)
            self._checked[claims.family_id] = True
        if self.ended(claims):
            raise Unauthenticated(SESSION_ENDED)

    def _lookups(self, claims: TokenClaims) -> dict[str, Learn]:
        """The Redis keys of a session's records, each with how to learn from its value."""
        family, user = _family_key(claims.family_id), _user_key(claims.user_id)
        return {
            family: lambda _: self._learn_family(claims.family_id),
            user: lambda value: self._learn_epoch(claims.user_id, float(value)),
        }

    async def _read_redis(self, lookups: dict[str, Learn]) -> bool:
        """Learn the records of ``lookups`` in one round trip (per Cluster node: the records
        of different sessions live in different slots); False if Redis did not answer."""
        keys = list(lookups)
        if not keys:
            return True
        found = await self.guard.call(lambda: get_many(self.redis, keys))
        if found is None:
            return False
        for key, value in zip(keys, found, strict=True):
            if value is not None:
                lookups[key](value)
        return True

    async def _read_mongo(self, claims: TokenClaims) -> None:
        """Learn from MongoDB, the source of truth, while Redis does not answer."""
        if not PydanticObjectId.is_valid(claims.user_id):
            raise Unauthenticated("The token is invalid.")
        try:
            revoked = await RefreshSession.get_pymongo_collection().find_one(
                {"family_id": claims.family_id, "revoked": True}, {"_id": 1}
            )
            user = await User.get_pymongo_collection().find_one(
                {"_id": PydanticObjectId(claims.user_id)}, {"tokens_valid_after": 1}
            )
        except MONGO_OUTAGES as exc:
            raise ServiceUnavailable() from exc
        if revoked is not None:
            self._learn_family(claims.family_id)
        if user is None:  # deleted
            self._learn_epoch(claims.user_id, math.inf)
        elif user.get("tokens_valid_after") is not None:
            self._learn_epoch(claims.user_id, user["tokens_valid_after"].timestamp())

    def _learn_family(self, family_id: str) -> None:
        self._families[family_id] = True
        self._notify(_family_key(family_id))

    def _learn_epoch(self, user_id: str, epoch: float) -> None:
        if epoch > self._epochs.get(user_id, 0.0):
            self._epochs[user_id] = epoch
            self._notify(_user_key(user_id))

    def watch(self, claims: TokenClaims, on_end: Callable[[], None]) -> Callable[[], None]:
        """Call ``on_end`` once, as soon as any worker ends the session of ``claims``;
        returns the function that stops watching."""
        watch = _Watch(claims, on_end)
        for key in watch.keys:
            self._watches[key].add(watch)
        return lambda: self._unwatch(watch)

    def _unwatch(self, watch: _Watch) -> None:
        for key in watch.keys:
            group = self._watches.get(key)
            if group is not None:
                group.discard(watch)
                if not group:
                    del self._watches[key]

    def _notify(self, key: str) -> None:
        for watch in list(self._watches.get(key, ())):
            if self.ended(watch.claims):
                self._unwatch(watch)
                watch.on_end()

    def start(self, broker: Broker) -> None:
        """Follow the revocations of other workers; write records Redis missed."""
        self._tasks.start(
            revocations=self._follow(broker), revocation_writes=self._write_unwritten()
        )

    async def stop(self) -> None:
        """Stop following."""
        await self._tasks.stop()

    async def _follow(self, broker: Broker) -> None:
        """Learn every notice. Once listening (again: notices may have been missed while
        the channel was down), forget the recent lookups and look the watched sessions up."""
        while True:
            with (
                contextlib.suppress(ServiceUnavailable, SlowSubscriber),
                broker.subscribe(TOPIC) as notices,
            ):
                self._checked.clear()
                lookups: dict[str, Learn] = {}
                for group in self._watches.values():
                    for watch in group:
                        lookups.update(self._lookups(watch.claims))
                if await self._read_redis(lookups):
                    async for delivery in notices:
                        self._learn(delivery.event)
            await asyncio.sleep(RETRY_S)

    def _learn(self, event: Event) -> None:
        subject = event.subject_id or ""
        if event.kind == "FAMILY":
            self._learn_family(subject)
        elif event.kind == "USER":
            self._learn_epoch(subject, event.at)

    async def _write_unwritten(self) -> None:
        while True:
            await asyncio.sleep(RETRY_S)
            for key, (value, event, until) in list(self._unwritten.items()):
                if time.monotonic() > until or await self.guard.call(
                    lambda: self._write(key, value, event)  # noqa: B023 - awaited at once
                ):
                    del self._unwritten[key]
