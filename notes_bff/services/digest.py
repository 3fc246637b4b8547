"""Daily digests: one email a day to each user who chose it, listing the notifications
stored for them since their previous digest (or since they turned it on).

A lease-guarded job (services/leased_job.py). Each user's digest goes at
``NOTES_BFF_DIGEST_HOUR`` of their own day (their profile's time zone, UTC when none): it is
claimed atomically (``digest_due_at`` moved to the next such hour) before it is queued, so
even two scanners at once send a user one digest a day. A day without notifications sends
nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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

    async def scan(self, at: datetime | None = None) -> int:
        """One round at ``at`` (now): claim and queue the digests due; how many were queued."""
        moment = at or now()
        due = {"daily_digest": True, "digest_due_at": {"$lte": moment}}
        collection = NotificationPreferences.get_pymongo_collection()
        queued = 0
        for prefs in await NotificationPreferences.find(due).limit(BATCH).to_list():
            user = await User.get(prefs.user_id)
            zone = zone_of_user(user)
            claimed = await collection.update_one(
                {"_id": prefs.id, "digest_due_at": prefs.digest_due_at},
                {
                    "$set": {
                        "digest_due_at": next_digest_at(moment, zone, self.settings.digest_hour),
                        "digest_since": moment,
                    }
                },
            )
            if claimed.modified_count == 1 and user is not None:
                day = moment.astimezone(zone).date().isoformat()
                queued += await self._queue(prefs, user, day, moment)
        return queued

    async def _queue(
        self, prefs: NotificationPreferences, user: User, today: str, until: datetime
    ) -> int:
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
        if not notifications or user.disabled:
            return 0
        await enqueue(
            user.email,
            EmailTemplate.DIGEST,
            user_id=prefs.user_id,
            items=[n.message for n in notifications],
            coalesce=f"{prefs.user_id}:{DIGEST_TOPIC}:{today}",
        )
        return 1


def zone_of_user(user: User | None) -> ZoneInfo:
    """The user's time zone (their profile's; UTC when none, or one no longer known)."""
    try:
        return ZoneInfo(user.time_zone) if user and user.time_zone else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def next_digest_at(after: datetime, zone: ZoneInfo, hour: int) -> datetime:
    """The first ``hour``:00 of the user's clock strictly after ``after`` (in UTC); on a day
    whose clock skips that hour (a DST change), the moment the clock reaches past it."""
    local = after.astimezone(zone)
    day = local.date()
    while True:
        wall = datetime.combine(day, time(hour), tzinfo=zone)
        candidate = wall.astimezone(UTC)
        if candidate > after:
            return candidate
        day += timedelta(days=1)
