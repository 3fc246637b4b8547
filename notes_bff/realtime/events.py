"""What travels on the live-event channels, and which channel carries each topic."""

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


def shard_channel(topic: str) -> str | None:
    """The sharded pub/sub channel of a workspace's or user's topic, hash-tagged like their
    keys (``{ws:<id>}``, ``{u:<id>}``) so a Cluster keeps it in the slot of the workspace's
    log; None for a topic every process follows (on the global channel)."""
    kind, _, subject = topic.partition(":")
    match kind:
        case "ws":
            return f"notes-bff:events:{{ws:{subject}}}"
        case "presence":
            return f"notes-bff:presence:{{ws:{subject}}}"
        case "user":
            return f"notes-bff:events:{{u:{subject}}}"
    return None


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
