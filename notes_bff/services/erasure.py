"""Erasing accounts whose deletion grace period is over (docs/privacy.md).

Run by one process of the deployment at a time (:class:`LeasedJob`). Every step is safe to
repeat, so an erasure interrupted half way is finished by the next round: the account is
first anonymized and ``disabled`` (which also stops ``cancelAccountDeletion``), and stays
due until ``erased_at`` is written last.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import structlog
from beanie import PydanticObjectId
from redis.asyncio import Redis

from notes_bff.auth.revocation import Revocations
from notes_bff.confusables import email_skeleton
from notes_bff.metrics import Metrics
from notes_bff.models import (
    AccountToken,
    CollabSnapshot,
    CollabState,
    Note,
    Notification,
    NotificationPreferences,
    OutboxEmail,
    RefreshSession,
    Role,
    User,
    Workspace,
)
from notes_bff.models.clock import now
from notes_bff.ratelimit import KNOWN_PREFIX
from notes_bff.realtime.hub import Realtime
from notes_bff.response_cache import tags
from notes_bff.services.leased_job import LeasedJob
from notes_bff.services.privacy import delete_exports

log = structlog.get_logger("notes_bff.erasure")
DELETED_USER_NAME = "Deleted user"
BATCH = 100


def tombstone_email(user_id: PydanticObjectId) -> str:
    """The placeholder that frees the user's address (``.invalid`` is never delivered)."""
    return f"deleted-{user_id}@erased.invalid"


def glob_escape(text: str) -> str:
    """``text`` matched literally by a Redis ``SCAN MATCH`` pattern."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


class Eraser:
    """Erases one account at a time: what it erases through, and how."""

    def __init__(self, realtime: Realtime, revocations: Revocations, redis: Redis) -> None:
        self.realtime = realtime
        self.revocations = revocations
        self.redis = redis

    async def erase_due(self) -> int:
        """Erase every account whose grace period is over; how many."""
        moment = now()
        due = await User.find({"deletion_scheduled_for": {"$lte": moment}}).limit(BATCH).to_list()
        return sum([await self.erase(user, moment) for user in due])

    async def erase(self, user: User, moment: datetime) -> bool:
        """Erase ``user`` (if still due at ``moment``) everywhere, leaving a nameless
        tombstone their kept notes point to; False when the deletion was cancelled.

        The profile is anonymized first, so that the events the later steps publish show
        "Deleted user" to whoever is subscribed."""
        user_id = user.id
        assert user_id is not None
        address = tombstone_email(user_id)
        claimed = await User.get_pymongo_collection().update_one(
            {"_id": user_id, "deletion_scheduled_for": {"$lte": moment}},
            {
                "$set": {
                    "disabled": True,
                    "name": DELETED_USER_NAME,
                    "email": address,
                    "email_skeleton": email_skeleton(address),
                    "password_hash": "",
                    "avatar_url": None,
                    "time_zone": None,
                    "locale": None,
                }
            },
        )
        if claimed.matched_count != 1:  # cancelled meanwhile
            return False
        await self._forget_addresses(user.email)
        await self.revocations.disable_user(user_id)
        await RefreshSession.get_pymongo_collection().delete_many({"user_id": user_id})
        for workspace in await Workspace.find({"members.user_id": user_id}).to_list():
            await self._leave(workspace, user_id)
        if user.delete_notes_on_erasure:
            await self._delete_notes({"author_id": user_id}, user_id)
        await self._unassign(user_id)
        for field in ("user_id", "actor_id"):
            await Notification.get_pymongo_collection().delete_many({field: user_id})
        # Settings, links not yet used and emails not yet sent (they hold the address).
        for document in (NotificationPreferences, AccountToken, OutboxEmail):
            await document.get_pymongo_collection().delete_many({"user_id": user_id})
        await CollabSnapshot.get_pymongo_collection().update_many(
            {"created_by_id": user_id}, {"$set": {"created_by_id": None}}
        )
        await delete_exports(user_id)
        await User.get_pymongo_collection().update_one(
            {"_id": user_id},
            {
                "$set": {
                    "erased_at": now(),
                    "deletion_scheduled_for": None,
                    "delete_notes_on_erasure": False,
                }
            },
        )
        # The user shows up in lists, notes and members everywhere: drop every cached answer.
        await self.realtime.invalidate(tags.GENERATION)
        log.info("account_erased", user_id=str(user_id))
        return True

    async def _leave(self, workspace: Workspace, user_id: PydanticObjectId) -> None:
        """Leave ``workspace``: deleted with its notes when the user was its only member;
        otherwise, if they were its only owner, the earliest other member becomes owner."""
        assert workspace.id is not None
        others = [m for m in workspace.members if m.user_id != user_id]
        if not others:
            await self._delete_notes({"workspace_id": workspace.id}, user_id)
            await Notification.get_pymongo_collection().delete_many({"workspace_id": workspace.id})
            await Workspace.get_pymongo_collection().delete_one({"_id": workspace.id})
        else:
            collection = Workspace.get_pymongo_collection()
            await collection.update_one(
                {"_id": workspace.id},
                {"$pull": {"members": {"user_id": user_id}}, "$set": {"updated_at": now()}},
            )
            owners = [m.user_id for m in others if m.role is Role.OWNER]
            heir = (
                workspace.owner_id
                if workspace.owner_id in owners
                else (owners or [min(others, key=lambda m: m.joined_at).user_id])[0]
            )
            await collection.update_one(
                {"_id": workspace.id},
                {"$set": {"owner_id": heir, "members.$[heir].role": Role.OWNER.value}},
                array_filters=[{"heir.user_id": heir}],
            )
        await self.realtime.membership_changed(str(workspace.id), str(user_id), str(user_id))

    async def _delete_notes(self, where: dict[str, object], user_id: PydanticObjectId) -> None:
        """Delete notes with their collaborative documents; the search index follows the
        DELETED events."""
        notes = await Note.find(where).to_list()
        ids = [n.id for n in notes]
        await Note.get_pymongo_collection().delete_many({"_id": {"$in": ids}})
        await CollabState.get_pymongo_collection().delete_many({"_id": {"$in": ids}})
        await CollabSnapshot.get_pymongo_collection().delete_many({"note_id": {"$in": ids}})
        await self._announce("DELETED", notes, user_id)

    async def _unassign(self, user_id: PydanticObjectId) -> None:
        """Remove the user from every note's assignees and mentions."""
        notes = {
            note.id: note
            for field in ("assignee_ids", "mention_ids")
            for note in await Note.find({field: user_id}).to_list()
        }
        await Note.get_pymongo_collection().update_many(
            {"_id": {"$in": list(notes)}},
            {
                "$pull": {"assignee_ids": user_id, "mention_ids": user_id},
                "$inc": {"version": 1},
                "$set": {"updated_at": now()},
            },
        )
        await self._announce("UPDATED", notes.values(), user_id)

    async def _announce(self, kind: str, notes: Iterable[Note], user_id: PydanticObjectId) -> None:
        for note in notes:
            await self.realtime.note_changed(
                kind, str(note.workspace_id), str(note.id), str(user_id)
            )

    async def _forget_addresses(self, email: str) -> None:
        """Forget the addresses the user signed in from (kept by the sign-in budgets)."""
        pattern = f"{KNOWN_PREFIX}{glob_escape(email)} *"
        keys = [key async for key in self.redis.scan_iter(match=pattern, count=1000)]
        if keys:
            await self.redis.delete(*keys)


class AccountErasure(LeasedJob):
    """Erases the accounts whose deletion grace period is over (one process at a time)."""

    name = "account_erasure"

    def __init__(self, redis: Redis, metrics: Metrics, interval_s: float, eraser: Eraser) -> None:
        super().__init__(redis, metrics, interval_s)
        self.eraser = eraser

    async def scan(self) -> int:
        """One round: every account due for erasure; how many were erased."""
        return await self.eraser.erase_due()
