"""DUE_SOON notifications, produced by one scheduler for the whole deployment.

Every process runs the loop; each round only the holder of a Redis lock (SET NX with
expiry) scans. The scan marks each note atomically (``due_soon_sent_for``) before notifying,
so even two scanners at once could never notify the same due date twice.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta

import structlog
from redis.asyncio import Redis

from notes_bff.background import BackgroundTasks
from notes_bff.models import Note, NotificationKind
from notes_bff.models.clock import now
from notes_bff.notification_text import notification_message
from notes_bff.realtime.hub import Realtime
from notes_bff.redis_guard import RedisGuard
from notes_bff.services.notifications import store_notifications

log = structlog.get_logger("notes_bff.scheduler")
LOCK_KEY = "notes-bff:lock:due-soon"
DUE_WINDOW = timedelta(hours=24)
BATCH = 500


class DueSoonScheduler:
    """Sends DUE_SOON for notes due within 24 hours to their assignees (else the author)."""

    def __init__(self, redis: Redis, realtime: Realtime, interval_s: float) -> None:
        self.redis = redis
        self.realtime = realtime
        self.interval_s = interval_s
        self.guard = RedisGuard("scheduler", realtime.guard.metrics)
        self._tasks = BackgroundTasks()
        self._owner = f"{os.getpid()}:{id(self)}"

    def start(self) -> None:
        """Start the loop."""
        self._tasks.start(due_soon=self._run())

    async def stop(self) -> None:
        """Stop the loop."""
        await self._tasks.stop()

    async def _run(self) -> None:
        # The lock lives a little less than one round, so exactly one process scans per round.
        lock_ms = max(int(self.interval_s * 1000 * 0.9), 100)
        while True:
            await asyncio.sleep(self.interval_s)
            acquired = await self.guard.call(
                lambda: self.redis.set(LOCK_KEY, self._owner, nx=True, px=lock_ms)
            )
            if acquired:
                try:
                    await self.scan()
                except Exception:
                    log.exception("due_soon_scan_failed")
                else:
                    self.guard.metrics.background_success.labels("due_soon").set(time.time())

    async def scan(self) -> int:
        """One round: notify every note newly due within 24 hours; how many were notified."""
        moment = now()
        candidates = (
            await Note.find(
                {"due_sort": {"$gte": moment, "$lte": moment + DUE_WINDOW}, "is_archived": False},
                hint="due_scan",
            )
            .limit(BATCH)
            .to_list()
        )
        sent = 0
        for note in candidates:
            if note.due_soon_sent_for == note.due_date:
                continue
            claimed = await Note.get_pymongo_collection().update_one(
                {
                    "_id": note.id,
                    "due_date": note.due_date,
                    "due_soon_sent_for": {"$ne": note.due_date},
                },
                {"$set": {"due_soon_sent_for": note.due_date}},
            )
            if claimed.modified_count != 1:
                continue
            people = note.assignee_ids or [note.author_id]
            await store_notifications(
                self.realtime,
                NotificationKind.DUE_SOON,
                people,
                notification_message(NotificationKind.DUE_SOON, subject=note.title),
                note=note,
            )
            sent += 1
        return sent
