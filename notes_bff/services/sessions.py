"""The viewer's signed-in devices (refresh-token families): listing and ending them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from beanie import PydanticObjectId, SortDirection

from notes_bff.auth.sessions import Device
from notes_bff.errors import NotFound
from notes_bff.models import RefreshSession
from notes_bff.models.index_hints import hinted
from notes_bff.services.actor import Actor
from notes_bff.validation import single_line, strip_controls

USER_AGENT_MAX = 512


@dataclass(frozen=True)
class SignedInSession:
    """One login as ``Query.sessions`` shows it."""

    id: str
    created_at: datetime
    last_used_at: datetime
    user_agent: str
    client_address: str
    current: bool


def user_agent_line(user_agent: str) -> str:
    """A user agent as stored: one line of at most 512 characters, controls removed."""
    return " ".join(strip_controls(user_agent).split())[:USER_AGENT_MAX]


def device_of(actor: Actor, user_agent: str) -> Device:
    """Where the actor acts from: their address, and the user agent."""
    return Device(user_agent=user_agent_line(user_agent), client_ip=actor.client_ip)


def _current_family(actor: Actor) -> str | None:
    return actor.claims.family_id if actor.claims is not None else None


async def _live(user_id: PydanticObjectId, moment: datetime) -> list[RefreshSession]:
    """Each live login's unspent refresh token (one per family), most recently used first."""
    return (
        await RefreshSession.find(
            {"user_id": user_id, "used_at": None, "revoked": False, "expires_at": {"$gt": moment}},
            **hinted("user"),
        )
        .sort(("created_at", SortDirection.DESCENDING))
        .to_list()
    )


async def live_sessions(
    user_id: PydanticObjectId, moment: datetime, current: str | None = None
) -> list[SignedInSession]:
    """The live logins of ``user_id``; "last used" is the last sign-in or token refresh."""
    return [
        SignedInSession(
            id=token.family_id,
            created_at=token.started_at or token.created_at,
            last_used_at=token.created_at,
            user_agent=token.user_agent,
            client_address=token.client_ip,
            current=token.family_id == current,
        )
        for token in await _live(user_id, moment)
    ]


async def signed_in_sessions(actor: Actor) -> list[SignedInSession]:
    """The viewer's live logins, the current one marked."""
    viewer = actor.require_viewer()
    return await live_sessions(viewer, actor.clock(), _current_family(actor))


async def revoke_session(actor: Actor, raw_id: str) -> str:
    """End one of the viewer's logins on every worker (``NOT_FOUND`` for another's)."""
    viewer = actor.require_viewer()
    family = single_line("id", raw_id, (1, 100))
    if await RefreshSession.find_one({"user_id": viewer, "family_id": family}) is None:
        raise NotFound("No such session.")
    await actor.sessions.revocations.end_family(family)
    return family


async def end_other_sessions(actor: Actor, user_id: PydanticObjectId) -> int:
    """End every live login of ``user_id`` but the actor's own; how many ended."""
    current = _current_family(actor)
    families = {token.family_id for token in await _live(user_id, actor.clock())} - {current}
    for family in families:
        await actor.sessions.revocations.end_family(family)
    return len(families)


async def revoke_other_sessions(actor: Actor) -> int:
    """End all of the viewer's logins but the current one; how many ended."""
    return await end_other_sessions(actor, actor.require_viewer())


def is_current(actor: Actor, session_id: str) -> bool:
    """Whether ``session_id`` names the actor's own login."""
    return session_id == _current_family(actor)
