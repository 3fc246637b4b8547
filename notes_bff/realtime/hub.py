"""The process's realtime parts in one place: event log, broker, presence, connection slots,
publishing, and the response cache's invalidation that goes with each write."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from notes_bff.metrics import Metrics
from notes_bff.realtime.broker import Broker
from notes_bff.realtime.connections import ConnectionSlots
from notes_bff.realtime.event_log import EventLog
from notes_bff.realtime.events import Event, presence_topic, user_topic, workspace_topic
from notes_bff.realtime.presence import Presence
from notes_bff.redis_guard import RedisGuard
from notes_bff.response_cache import tags
from notes_bff.response_cache.versions import TagVersions


class Realtime:
    """Publishes events after successful writes; a Redis outage never fails the write."""

    def __init__(
        self, redis: Redis, broker_redis: Redis, metrics: Metrics, queue_size: int
    ) -> None:
        self.log = EventLog(redis)
        self.broker = Broker(broker_redis, self.log, metrics, queue_size)
        self.presence = Presence(redis)
        self.connections = ConnectionSlots(redis)
        # A skipped append loses the event for live subscribers and for resumes: probe.
        self.guard = RedisGuard("events", metrics, probe=True)
        self.metrics = metrics
        self.versions = TagVersions(redis, metrics)

    async def note_changed(self, kind: str, workspace_id: str, note_id: str, actor_id: str) -> None:
        """CREATED, UPDATED or DELETED: logged (for resume) and published."""
        event = Event(
            topic=workspace_topic(workspace_id),
            kind=kind,
            workspace_id=workspace_id,
            note_id=note_id,
            actor_id=actor_id,
            at=time.time(),
        )
        self._published(await self.guard.call(lambda: self.log.append(event)))
        await self.invalidate(tags.note(note_id), tags.workspace_notes(workspace_id))

    async def invalidate(self, *changed: str) -> None:
        """Drop every cached answer that read one of these tags (``response_cache.tags``)."""
        await self.versions.bump(changed)

    async def _broadcast(self, topic: str, kind: str, **fields: str | None) -> None:
        """Publish an event that is not logged."""
        event = Event(topic=topic, kind=kind, at=time.time(), **fields)
        self._published(await self.guard.call(lambda: self.log.publish(event)))

    def _published(self, outcome: object) -> None:
        """Count an event Redis took (``None``: it did not answer)."""
        if outcome is not None:
            self.metrics.events_published.inc()

    async def membership_changed(self, workspace_id: str, actor_id: str, subject_id: str) -> None:
        """A member was removed or changed role, or the workspace was deleted."""
        await self._broadcast(
            workspace_topic(workspace_id),
            "MEMBERSHIP",
            workspace_id=workspace_id,
            actor_id=actor_id,
            subject_id=subject_id,
        )

    async def notified(self, user_id: str, notification_id: str) -> None:
        """A notification was stored for ``user_id``."""
        await self._broadcast(user_topic(user_id), "NOTIFICATION", subject_id=notification_id)
        await self.invalidate(tags.notifications(user_id))

    async def presence_changed(
        self,
        workspace_id: str,
        joined_id: str | None = None,
        left_id: str | None = None,
        note_id: str | None = None,
    ) -> None:
        """Someone came online or went offline in a workspace; with ``note_id``, started or
        stopped editing that note."""
        await self._broadcast(
            presence_topic(workspace_id),
            "PRESENCE",
            workspace_id=workspace_id,
            joined_id=joined_id,
            left_id=left_id,
            note_id=note_id,
        )
