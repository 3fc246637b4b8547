"""What travels on the process-wide event channel."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import orjson

from notes_bff.models.clock import now


def workspace_topic(workspace_id: str) -> str:
    """Note and membership events of one workspace."""
    return f"ws:{workspace_id}"


def user_topic(user_id: str) -> str:
    """Notifications of one user."""
    return f"user:{user_id}"


def presence_topic(workspace_id: str) -> str:
    """Who is online in one workspace."""
    return f"presence:{workspace_id}"


@dataclass(frozen=True)
class Event:
    """One event: ``topic`` routes it; ``event_id`` is set for logged (resumable) events.

    ``kind`` is CREATED, UPDATED or DELETED for notes; MEMBERSHIP when a workspace's members
    changed; NOTIFICATION; or PRESENCE (with ``note_id``: someone started or stopped
    editing that note).
    """

    topic: str
    kind: str
    workspace_id: str | None = None
    note_id: str | None = None
    actor_id: str | None = None
    subject_id: str | None = None
    at: float = 0.0
    joined_id: str | None = None
    left_id: str | None = None
    event_id: str | None = None

    @property
    def moment(self) -> datetime:
        """``at`` as a datetime."""
        return datetime.fromtimestamp(self.at, now().tzinfo)

    def encode(self) -> bytes:
        """JSON without the event id (the log assigns it)."""
        payload = {k: v for k, v in asdict(self).items() if v is not None and k != "event_id"}
        return orjson.dumps(payload)

    @classmethod
    def decode(cls, raw: bytes | str, event_id: str | None = None) -> Event:
        """The event of :meth:`encode`'s output."""
        fields: dict[str, Any] = orjson.loads(raw)
        return cls(**fields, event_id=event_id)
