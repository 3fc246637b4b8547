"""Which notifications are emailed, and to whom.

The rule: a notification is emailed to a recipient whose preferences email its kind (not
muted, no daily digest: that sends them once a day instead) and who is **offline**, that is
holds no live websocket on any worker (``realtime.connections``; a connection counts until
its heartbeat lapses, within 45 s of a crash). A user who is online sees it in the app. While
Redis does not answer, everyone counts as offline: an extra email beats a lost one.
Emails of one kind to one user coalesce within ``NOTES_BFF_EMAIL_COALESCE_SECONDS``.
"""

from __future__ import annotations

from collections.abc import Sequence

from beanie import PydanticObjectId

from notes_bff.config import Settings
from notes_bff.email.outbox import coalesce_key, enqueue
from notes_bff.models import EmailTemplate, NotificationKind, User
from notes_bff.models.clock import now
from notes_bff.realtime.hub import Realtime


async def offline(
    realtime: Realtime, user_ids: Sequence[PydanticObjectId]
) -> list[PydanticObjectId]:
    """Those of ``user_ids`` without a live websocket (all of them while Redis is down)."""
    ids = [str(uid) for uid in user_ids]
    online = await realtime.guard.call(lambda: realtime.connections.online(ids))
    return [uid for uid in user_ids if str(uid) not in (online or set())]


async def email_notification(
    realtime: Realtime,
    settings: Settings,
    kind: NotificationKind,
    user_ids: Sequence[PydanticObjectId],
    message: str,
) -> int:
    """Queue the email of one notification to each offline user; how many were queued (the
    others joined a waiting email of the same kind)."""
    recipients = await offline(realtime, user_ids)
    if not recipients:
        return 0
    users = await User.find({"_id": {"$in": recipients}, "disabled": {"$ne": True}}).to_list()
    moment = now()
    queued = 0
    for user in users:
        assert user.id is not None
        queued += await enqueue(
            user.email,
            EmailTemplate.NOTIFICATION,
            user_id=user.id,
            values={"kind": kind.value},
            items=[message],
            coalesce=coalesce_key(user.id, kind.value, moment, settings.email_coalesce_seconds),
        )
    return queued
