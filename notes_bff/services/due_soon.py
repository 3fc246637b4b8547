"""DUE_SOON notifications, produced by one scheduler for the whole deployment.

Every process runs the loop; each round only the holder of a Redis lease scans
(services/leased_job.py). The scan marks each note atomically (``due_soon_sent_for``) before
notifying, so even two scanners at once could never notify the same due date twice.
"""

from __future__ import annotations

from datetime import timedelta

from redis.asyncio import Redis

from notes_bff.config import Settings
from notes_bff.models import Note, NotificationKind
from notes_bff.models.clock import now
from notes_bff.notification_text import notification_message
from notes_bff.realtime.hub import Realtime
from notes_bff.services.leased_job import LeasedJob
from notes_bff.services.notifications import store_notifications

DUE_WINDOW = timedelta(hours=24)
BATCH = 500


class DueSoonScheduler(LeasedJob):
    """Sends DUE_SOON for notes due within 24 hours to their assignees (else the author)."""

    name = "due_soon"

    def __init__(self, redis: Redis, realtime: Realtime, settings: Settings) -> None:
        super().__init__(redis, realtime.metrics, settings.due_soon_interval_seconds)
        self.realtime = realtime
        self.settings = settings

    async def scan(self) -> int:
        """One round: notify every note newly due within 24 hours; how many were notified."""
        moment = now()
        candidates = (
            await Note.find(
                {"due_sort": {"$gte": moment, "$lte": moment + DUE_WINDOW}, "is_archived": False}
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
                self.settings,
                NotificationKind.DUE_SOON,
                people,
                notification_message(NotificationKind.DUE_SOON, subject=note.title),
                note=note,
            )
            sent += 1
        return sent
