"""Daily digests: one email a day to each user who chose it, listing the notifications
stored for them since their previous digest (or since they turned it on).

A lease-guarded job (services/leased_job.py); from ``NOTES_BFF_DIGEST_HOUR_UTC`` each UTC
day, every user's digest is claimed atomically (``digest_day`` set to the day) before it is
queued, so even two scanners at once send a user one digest a day. A day without
notifications sends nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from redis.asyncio import Redis

from notes_bff.config import Settings
from notes_bff.email.outbox import MAX_ITEMS, enqueue
from notes_bff.email.unsubscribe import DIGEST_TOPIC
from notes_bff.metrics import Metrics
from notes_bff.models import EmailTemplate, Notification, NotificationPreferences, User
from notes_bff.models.clock import now
from notes_bff.services.leased_job import LeasedJob

BATCH = 500


class DigestScheduler(LeasedJob):
    """Queues the day's digest emails."""

    name = "digest"

    def __init__(self, redis: Redis, metrics: Metrics, settings: Settings) -> None:
        super().__init__(redis, metrics, settings.digest_interval_seconds)
        self.settings = settings

    async def scan(self) -> int:
        """One round: claim and queue the digests due today; how many were queued."""
        moment = now()
        if moment.hour < self.settings.digest_hour_utc:
            return 0
        today = moment.date().isoformat()
        due = {"daily_digest": True, "digest_day": {"$ne": today}}
        collection = NotificationPreferences.get_pymongo_collection()
        queued = 0
        for prefs in await NotificationPreferences.find(due).limit(BATCH).to_list():
            claimed = await collection.update_one(
                {"_id": prefs.id, **due}, {"$set": {"digest_day": today, "digest_since": moment}}
            )
            if claimed.modified_count == 1:
                queued += await self._queue(prefs, today, moment)
        return queued

    async def _queue(self, prefs: NotificationPreferences, today: str, until: datetime) -> int:
        """Queue one user's digest of the notifications from their previous digest until
        ``until`` (where the next one starts): 1, or 0 when there were none or they are gone."""
        since = prefs.digest_since or until - timedelta(days=1)
        notifications = (
            await Notification.find(
                {"user_id": prefs.user_id, "created_at": {"$gte": since, "$lt": until}}
            )
            .sort("-created_at")
            .limit(MAX_ITEMS)
            .to_list()
        )
        user = await User.get(prefs.user_id)
        if not notifications or user is None or user.disabled:
            return 0
        await enqueue(
            user.email,
            EmailTemplate.DIGEST,
            user_id=prefs.user_id,
            items=[n.message for n in notifications],
            coalesce=f"{prefs.user_id}:{DIGEST_TOPIC}:{today}",
        )
        return 1
